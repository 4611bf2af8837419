//! Writing and reading household documents through a real store.

mod support;

use std::sync::Arc;

use automerge::{AutoCommit, AutomergeError, ROOT, ReadDoc};
use kafo_model::document::summary;
use kafo_model::{HouseholdScope, Scope};
use kafo_store::{
    CommitError, InvalidDocument, ListFilter, Store, Totals, UpdateError, WriteEffect,
};
use support::{add_member, add_visit, id, move_to, put_household};

fn create(store: &Store, name: &str, area: &str, chw: &str) {
    let ((), outcome) = store
        .update(&id(name), |doc| {
            put_household(doc, name, area, chw, "Famille Test")
        })
        .expect("creates");
    assert_eq!(outcome.effect, WriteEffect::Created);
}

fn visits(doc: &AutoCommit) -> usize {
    summary(doc).expect("a valid household").visits
}

fn scope(area: &str, chw: &str) -> HouseholdScope {
    HouseholdScope {
        area: area.parse().expect("valid"),
        chw: chw.parse().expect("valid"),
    }
}

#[test]
fn a_written_household_reads_back_after_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let heads = {
        let store = Store::open(dir.path()).expect("opens");
        let ((), outcome) = store
            .update(&id("h1"), |doc| {
                put_household(doc, "h1", "sikoro", "chw-01", "Famille Keita")?;
                add_member(doc, "h1.p1")?;
                add_visit(doc, "h1.v1", "h1.p1")
            })
            .expect("writes");
        assert_eq!(outcome.effect, WriteEffect::Created);
        let mut doc = store.document(&id("h1")).expect("reads").expect("exists");
        assert_eq!(doc.get_heads(), outcome.heads);
        assert_eq!(
            store.heads(&id("h1")).expect("reads"),
            Some(outcome.heads.clone())
        );
        assert_eq!(doc.get_actor(), &store.actor());
        outcome.heads
    };
    let store = Store::open(dir.path()).expect("reopens");
    let doc = store
        .document(&id("h1"))
        .expect("reads")
        .expect("survives reopen");
    let found = summary(&doc).expect("valid");
    assert_eq!(found.id, id("h1"));
    assert_eq!(found.scope, scope("sikoro", "chw-01"));
    assert_eq!((found.members, found.visits), (1, 1));
    let name = doc.get(ROOT, "name").expect("reads").expect("has a name").0;
    assert_eq!(name.as_str(), Some("Famille Keita"));
    assert_eq!(store.heads(&id("h1")).expect("reads"), Some(heads));
    assert!(store.document(&id("h2")).expect("reads").is_none());
    assert_eq!(store.heads(&id("h2")).expect("reads"), None);
}

#[test]
fn an_edit_without_changes_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");
    let before = store.stored_layout(&id("h1")).expect("reads");
    let heads = store.heads(&id("h1")).expect("reads");
    let ((), outcome) = store
        .update(&id("h1"), |_doc| Ok::<_, AutomergeError>(()))
        .expect("no-op");
    assert_eq!(outcome.effect, WriteEffect::Unchanged);
    assert_eq!(Some(outcome.heads), heads);
    assert_eq!(store.stored_layout(&id("h1")).expect("reads"), before);

    // Nor does an edit of a household that does not exist and stays empty.
    let ((), outcome) = store
        .update(&id("h2"), |_doc| Ok::<_, AutomergeError>(()))
        .expect("no-op");
    assert_eq!(outcome.effect, WriteEffect::Unchanged);
    assert_eq!(store.len().expect("reads"), 1);
}

#[test]
fn a_failed_edit_or_an_invalid_result_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");
    let heads = store.heads(&id("h1")).expect("reads");
    let totals = store.totals().expect("reads");

    // The edit itself fails after changing the document.
    let err = store
        .update(&id("h1"), |doc| {
            add_visit(doc, "h1.v1", "h1.p1")?;
            Err::<(), _>(AutomergeError::InvalidObjId("stop".into()))
        })
        .expect_err("the edit fails");
    assert!(matches!(err, UpdateError::Edit { .. }), "{err:?}");

    // The result is not a valid household: an area that is not an identifier.
    let err = store
        .update(&id("h1"), |doc| {
            add_visit(doc, "h1.v1", "h1.p1")?;
            move_to(doc, "sikoro/bad", "chw-01")
        })
        .expect_err("invalid area");
    assert!(
        matches!(
            err,
            UpdateError::Invalid {
                source: InvalidDocument::Layout(_),
                ..
            }
        ),
        "{err:?}"
    );

    // The result is another household's document.
    let err = store
        .update(&id("h2"), |doc| {
            put_household(doc, "h3", "sikoro", "chw-01", "X")
        })
        .expect_err("wrong id");
    assert!(
        matches!(
            err,
            UpdateError::Invalid {
                source: InvalidDocument::WrongId { .. },
                ..
            }
        ),
        "{err:?}"
    );

    // The edit replaces the stored document instead of editing it.
    let err = store
        .update(&id("h1"), |doc| {
            *doc = support::household("h1", "sikoro", "chw-01");
            Ok::<_, AutomergeError>(())
        })
        .expect_err("the stored changes would be lost");
    assert!(
        matches!(
            err,
            UpdateError::Invalid {
                source: InvalidDocument::MissingChanges { .. },
                ..
            }
        ),
        "{err:?}"
    );

    // A new document without the layout version.
    let err = store
        .update(&id("h4"), |doc| {
            automerge::transaction::Transactable::put(doc, ROOT, "id", "h4")
        })
        .expect_err("no layout");
    assert!(matches!(err, UpdateError::Invalid { .. }), "{err:?}");

    assert_eq!(store.heads(&id("h1")).expect("reads"), heads);
    assert_eq!(
        visits(&store.document(&id("h1")).expect("reads").expect("exists")),
        0
    );
    assert_eq!(store.totals().expect("reads"), totals);
    assert_eq!(store.heads(&id("h2")).expect("reads"), None);
    assert_eq!(store.heads(&id("h4")).expect("reads"), None);
    assert_eq!(store.ids().count(), 1);
}

#[test]
fn totals_follow_every_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");
    create(&store, "h2", "sikoro", "chw-02");
    store
        .update(&id("h1"), |doc| {
            add_member(doc, "h1.p1")?;
            add_member(doc, "h1.p2")?;
            add_visit(doc, "h1.v1", "h1.p1")
        })
        .expect("writes");
    store
        .update(&id("h2"), |doc| {
            add_member(doc, "h2.p1")?;
            add_visit(doc, "h2.v1", "h2.p1")?;
            add_visit(doc, "h2.v2", "h2.p1")
        })
        .expect("writes");
    let expected = Totals {
        households: 2,
        members: 3,
        visits: 3,
    };
    assert_eq!(store.totals().expect("reads"), expected);
    // Moving a household changes no count.
    store
        .update(&id("h2"), |doc| move_to(doc, "banconi", "chw-09"))
        .expect("moves");
    assert_eq!(store.totals().expect("reads"), expected);
    drop(store);
    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(store.totals().expect("reads"), expected);
    assert_eq!(store.len().expect("reads"), 2);
}

#[test]
fn households_are_listed_by_area_and_chw_in_key_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    for (name, area, chw) in [
        ("h5", "sikoro", "chw-02"),
        ("h1", "sikoro", "chw-01"),
        ("h3", "banconi", "chw-01"),
        ("h2", "sikoro", "chw-01"),
        ("h4", "sikoro-2", "chw-01"),
    ] {
        create(&store, name, area, chw);
    }
    let listed = |filter: ListFilter| -> Vec<(String, String)> {
        store
            .list(&filter)
            .map(|item| {
                let item = item.expect("reads");
                (item.id.to_string(), item.scope.to_string())
            })
            .collect()
    };
    let pair = |id: &str, scope: &str| (id.to_string(), scope.to_string());
    assert_eq!(
        listed(ListFilter {
            area: Some("sikoro".parse().expect("valid")),
            chw: None
        }),
        [
            pair("h1", "sikoro/chw-01"),
            pair("h2", "sikoro/chw-01"),
            pair("h5", "sikoro/chw-02")
        ]
    );
    assert_eq!(
        listed(ListFilter {
            area: Some("sikoro".parse().expect("valid")),
            chw: Some("chw-01".parse().expect("valid"))
        }),
        [pair("h1", "sikoro/chw-01"), pair("h2", "sikoro/chw-01")]
    );
    assert_eq!(
        listed(ListFilter {
            area: None,
            chw: Some("chw-01".parse().expect("valid"))
        }),
        // Item key order is byte order of `area/chw/id`: `sikoro-2/` sorts before `sikoro/`.
        [
            pair("h3", "banconi/chw-01"),
            pair("h4", "sikoro-2/chw-01"),
            pair("h1", "sikoro/chw-01"),
            pair("h2", "sikoro/chw-01"),
        ]
    );
    assert_eq!(listed(ListFilter::default()).len(), 5);
    let ids: Vec<String> = store
        .ids()
        .map(|id| id.expect("reads").to_string())
        .collect();
    assert_eq!(ids, ["h1", "h2", "h3", "h4", "h5"]);
}

#[test]
fn a_household_that_changes_scope_leaves_its_old_scope() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");
    create(&store, "h2", "sikoro", "chw-01");
    store
        .update(&id("h1"), |doc| move_to(doc, "banconi", "chw-03"))
        .expect("moves");
    assert_eq!(
        store.scope(&id("h1")).expect("reads"),
        Some(scope("banconi", "chw-03"))
    );

    let old: Scope = "sikoro/chw-01".parse().expect("valid");
    let new: Scope = "banconi".parse().expect("valid");
    let in_scope = |scope: &Scope| -> Vec<String> {
        store
            .scope_items(scope)
            .map(|item| item.expect("reads").id.to_string())
            .collect()
    };
    assert_eq!(in_scope(&old), ["h2"]);
    assert_eq!(in_scope(&new), ["h1"]);
    let old_aggregates = store.scope_aggregates(&old).expect("reads");
    assert_eq!(old_aggregates.len(), 1);
    assert_eq!(old_aggregates[0].set.count, 1);
    assert_eq!(
        old_aggregates[0].set,
        store.scope_fingerprint(&old).expect("reads")
    );

    // Moving the last household out removes the scope's aggregate.
    store
        .update(&id("h2"), |doc| move_to(doc, "banconi", "chw-03"))
        .expect("moves");
    assert!(store.scope_aggregates(&old).expect("reads").is_empty());
    let new_aggregates = store.scope_aggregates(&new).expect("reads");
    assert_eq!(new_aggregates.len(), 1);
    assert_eq!(new_aggregates[0].scope, scope("banconi", "chw-03"));
    assert_eq!(new_aggregates[0].set.count, 2);
    assert_eq!(
        new_aggregates[0].set,
        store.range_fingerprint(..).expect("scans")
    );
}

#[test]
fn compaction_then_reopen_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let heads = {
        let store = Store::open(dir.path()).expect("opens");
        create(&store, "h1", "sikoro", "chw-01");
        let mut compactions = 0;
        let mut max_chunks = 0;
        for n in 0..40 {
            let ((), outcome) = store
                .update(&id("h1"), |doc| {
                    add_visit(doc, &format!("h1.v{n}"), "h1.p1")
                })
                .expect("writes");
            match outcome.effect {
                WriteEffect::Extended { compacted: true } => compactions += 1,
                WriteEffect::Extended { compacted: false } => {}
                other => panic!("unexpected {other:?}"),
            }
            let layout = store
                .stored_layout(&id("h1"))
                .expect("reads")
                .expect("exists");
            max_chunks = max_chunks.max(layout.chunks);
            assert!(layout.chunk_bytes <= layout.snapshot_bytes || layout.chunks == 0);
        }
        assert!(
            compactions >= 3,
            "40 appends compact several times, got {compactions}"
        );
        assert!(max_chunks >= 2, "appends are chunks between compactions");
        assert!(max_chunks <= 8);
        store.heads(&id("h1")).expect("reads").expect("exists")
    };
    let store = Store::open(dir.path()).expect("reopens");
    let mut doc = store.document(&id("h1")).expect("reads").expect("exists");
    assert_eq!(visits(&doc), 40);
    let mut doc_heads = doc.get_heads();
    doc_heads.sort();
    assert_eq!(doc_heads, heads);
    // Edits continue after the reopen, with a new actor.
    store
        .update(&id("h1"), |doc| add_visit(doc, "h1.v-after", "h1.p1"))
        .expect("writes");
    assert_eq!(
        visits(&store.document(&id("h1")).expect("reads").expect("exists")),
        41
    );
}

#[test]
fn concurrent_edits_on_two_devices_merge_through_apply_changes() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (alice, bob) = (
        Store::open(dir_a.path()).expect("opens"),
        Store::open(dir_b.path()).expect("opens"),
    );
    create(&alice, "h1", "sikoro", "chw-01");
    let shared = alice
        .document(&id("h1"))
        .expect("reads")
        .expect("exists")
        .save();
    let outcome = bob
        .apply_document(&id("h1"), &shared)
        .expect("bob receives h1");
    assert_eq!(outcome.effect, WriteEffect::Created);
    let common = outcome.heads;
    assert_eq!(alice.heads(&id("h1")).expect("reads"), Some(common.clone()));

    // Both add a different visit while apart.
    alice
        .update(&id("h1"), |doc| add_visit(doc, "h1.v-alice", "h1.p1"))
        .expect("alice writes");
    bob.update(&id("h1"), |doc| add_visit(doc, "h1.v-bob", "h1.p1"))
        .expect("bob writes");

    // Each sends the changes since the common heads; each applies the other's.
    let from_alice = alice
        .document(&id("h1"))
        .expect("reads")
        .expect("exists")
        .save_after(&common);
    let from_bob = bob
        .document(&id("h1"))
        .expect("reads")
        .expect("exists")
        .save_after(&common);
    let at_alice = alice
        .apply_changes(&id("h1"), &from_bob)
        .expect("alice applies");
    let at_bob = bob
        .apply_changes(&id("h1"), &from_alice)
        .expect("bob applies");
    assert!(matches!(at_alice.effect, WriteEffect::Extended { .. }));
    assert_eq!(at_alice.heads, at_bob.heads, "both converge");
    assert_eq!(at_alice.heads.len(), 2, "two concurrent heads");
    for store in [&alice, &bob] {
        let doc = store.document(&id("h1")).expect("reads").expect("exists");
        assert_eq!(visits(&doc), 2, "both visits are kept");
    }
    // Applying the same changes again changes nothing.
    let again = alice
        .apply_changes(&id("h1"), &from_bob)
        .expect("idempotent");
    assert_eq!(again.effect, WriteEffect::Unchanged);
    assert_eq!(again.heads, at_alice.heads);
    // The aggregates agree too.
    let area: Scope = "sikoro".parse().expect("valid");
    assert_eq!(
        alice.scope_fingerprint(&area).expect("reads"),
        bob.scope_fingerprint(&area).expect("reads")
    );
}

#[test]
fn bad_changes_from_a_peer_are_refused_and_write_nothing() {
    use kafo_store::ApplyError;

    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (alice, bob) = (
        Store::open(dir_a.path()).expect("opens"),
        Store::open(dir_b.path()).expect("opens"),
    );
    create(&alice, "h1", "sikoro", "chw-01");
    let mut doc = alice.document(&id("h1")).expect("reads").expect("exists");
    let base = doc.get_heads();
    bob.apply_document(&id("h1"), &doc.save())
        .expect("bob receives h1");
    let bob_heads = bob.heads(&id("h1")).expect("reads");
    let totals = bob.totals().expect("reads");

    // Two successive changes at alice; bob is sent only the second one.
    alice
        .update(&id("h1"), |doc| add_visit(doc, "h1.v1", "h1.p1"))
        .expect("writes");
    let middle = alice.heads(&id("h1")).expect("reads").expect("exists");
    alice
        .update(&id("h1"), |doc| add_visit(doc, "h1.v2", "h1.p1"))
        .expect("writes");
    let mut latest = alice.document(&id("h1")).expect("reads").expect("exists");
    let second_only = latest.save_after(&middle);
    let both = latest.save_after(&base);

    let err = bob
        .apply_changes(&id("h1"), &second_only)
        .expect_err("a dependency is missing");
    assert!(
        matches!(err, ApplyError::MissingDependencies { missing: 1, .. }),
        "{err:?}"
    );

    let err = bob
        .apply_changes(&id("h1"), b"not automerge at all")
        .expect_err("garbage");
    assert!(matches!(err, ApplyError::Malformed { .. }), "{err:?}");

    let err = bob
        .apply_changes(&id("h1"), &both[..both.len() - 3])
        .expect_err("truncated");
    assert!(matches!(err, ApplyError::Malformed { .. }), "{err:?}");

    let mut flipped = both.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    assert!(
        bob.apply_changes(&id("h1"), &flipped).is_err(),
        "a flipped byte is refused"
    );

    // Well-formed changes that turn the document into another household's.
    let mut hijack = latest.fork();
    automerge::transaction::Transactable::put(&mut hijack, ROOT, "id", "h9").expect("edits");
    let hijacked = hijack.save_after(&latest.get_heads());
    let err = bob
        .apply_changes(&id("h1"), &both)
        .map(|_| ())
        .and_then(|()| bob.apply_changes(&id("h1"), &hijacked).map(|_| ()));
    assert!(
        matches!(
            err,
            Err(ApplyError::Invalid {
                source: InvalidDocument::WrongId { .. },
                ..
            })
        ),
        "{err:?}"
    );
    // The good changes were written; the hijack was not.
    assert_eq!(
        bob.heads(&id("h1")).expect("reads"),
        alice.heads(&id("h1")).expect("reads")
    );
    assert_ne!(bob.heads(&id("h1")).expect("reads"), bob_heads);

    // A whole document stored under the wrong id creates nothing.
    let err = bob
        .apply_document(&id("h2"), &latest.save())
        .expect_err("wrong id");
    assert!(matches!(err, ApplyError::Invalid { .. }), "{err:?}");
    assert_eq!(bob.heads(&id("h2")).expect("reads"), None);
    assert_eq!(bob.totals().expect("reads").households, totals.households);
}

#[test]
fn a_commit_refuses_documents_written_since_they_were_loaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");

    let mut stale = store.load_for_update(&id("h1")).expect("loads");
    let mut fresh = store.load_for_update(&id("h2")).expect("loads");
    assert!(!stale.is_new() && fresh.is_new());
    add_visit(stale.doc_mut(), "h1.v-import", "h1.p1").expect("edits");
    put_household(fresh.doc_mut(), "h2", "sikoro", "chw-01", "X").expect("edits");

    // Someone else writes h1 in between.
    store
        .update(&id("h1"), |doc| add_visit(doc, "h1.v-user", "h1.p1"))
        .expect("writes");

    let err = store.commit(vec![fresh, stale]).expect_err("h1 is stale");
    assert!(
        matches!(&err, CommitError::Stale { ids } if ids == &[id("h1")]),
        "{err:?}"
    );
    // All or nothing: h2 was not written either.
    assert_eq!(store.heads(&id("h2")).expect("reads"), None);

    // Reloaded, the same edits commit, and nothing of the user's write is lost.
    let mut again = store.load_for_update(&id("h1")).expect("loads");
    add_visit(again.doc_mut(), "h1.v-import", "h1.p1").expect("edits");
    let mut fresh = store.load_for_update(&id("h2")).expect("loads");
    put_household(fresh.doc_mut(), "h2", "sikoro", "chw-01", "X").expect("edits");
    let unchanged = store.load_for_update(&id("h1")).expect("loads");
    let report = store
        .commit(vec![again, fresh, unchanged])
        .expect("commits");
    assert_eq!(
        (report.created(), report.extended(), report.unchanged()),
        (1, 1, 0)
    );
    assert_eq!(
        visits(&store.document(&id("h1")).expect("reads").expect("exists")),
        2
    );
}

#[test]
fn a_commit_of_documents_built_on_two_threads_is_one_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h000", "sikoro", "chw-01");
    let mut pending: Vec<_> = (0..60)
        .map(|n| {
            store
                .load_for_update(&id(&format!("h{n:03}")))
                .expect("loads")
        })
        .collect();
    std::thread::scope(|scope| {
        for part in pending.chunks_mut(30) {
            scope.spawn(move || {
                for document in part {
                    let name = document.id().to_string();
                    put_household(document.doc_mut(), &name, "sikoro", "chw-01", "Y")
                        .expect("edits");
                    add_visit(document.doc_mut(), &format!("{name}.v1"), "p").expect("edits");
                    document.prepare().expect("valid");
                }
            });
        }
    });
    let report = store.commit(pending).expect("commits");
    assert_eq!((report.created(), report.extended()), (59, 1));
    assert_eq!(store.totals().expect("reads").households, 60);
    assert_eq!(store.totals().expect("reads").visits, 60);

    // An invalid document fails the whole commit.
    let mut good = store.load_for_update(&id("h100")).expect("loads");
    put_household(good.doc_mut(), "h100", "sikoro", "chw-01", "Z").expect("edits");
    let mut bad = store.load_for_update(&id("h101")).expect("loads");
    put_household(bad.doc_mut(), "h999", "sikoro", "chw-01", "Z").expect("edits");
    let err = store.commit(vec![good, bad]).expect_err("h101 holds h999");
    assert!(matches!(err, CommitError::Invalid { .. }), "{err:?}");
    assert_eq!(store.len().expect("reads"), 60);
}

#[test]
fn update_many_applies_every_edit_in_one_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");
    type Edit = Box<dyn FnOnce(&mut AutoCommit) -> Result<(), AutomergeError>>;
    let edits: Vec<(kafo_model::HouseholdId, Edit)> = vec![
        (
            id("h2"),
            Box::new(|doc| put_household(doc, "h2", "sikoro", "chw-02", "A")),
        ),
        (id("h1"), Box::new(|doc| add_visit(doc, "h1.v1", "p"))),
        (id("h2"), Box::new(|doc| add_visit(doc, "h2.v1", "p"))),
        (id("h3"), Box::new(|_doc| Ok(()))),
    ];
    let report = store.update_many(edits).expect("writes");
    assert_eq!(
        (report.created(), report.extended(), report.unchanged()),
        (1, 1, 1)
    );
    assert_eq!(store.totals().expect("reads").visits, 2);
    assert_eq!(store.len().expect("reads"), 2);

    let edits: Vec<(kafo_model::HouseholdId, Edit)> = vec![
        (id("h1"), Box::new(|doc| add_visit(doc, "h1.v2", "p"))),
        (
            id("h4"),
            Box::new(|doc| put_household(doc, "h5", "sikoro", "chw-02", "A")),
        ),
    ];
    let err = store.update_many(edits).expect_err("h4 holds h5");
    assert!(matches!(err, UpdateError::Invalid { .. }), "{err:?}");
    assert_eq!(
        store.totals().expect("reads").visits,
        2,
        "h1's edit was not written"
    );
}

#[test]
fn concurrent_writers_never_lose_a_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(dir.path()).expect("opens"));
    create(&store, "h1", "sikoro", "chw-01");
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let store = Arc::clone(&store);
            scope.spawn(move || {
                for n in 0..15 {
                    store
                        .update(&id("h1"), |doc| {
                            add_visit(doc, &format!("h1.v{writer}-{n}"), "p")
                        })
                        .expect("writes");
                }
            });
        }
        // A reader loads the document while the writers compact it.
        let reader = Arc::clone(&store);
        scope.spawn(move || {
            for _ in 0..30 {
                let doc = reader
                    .document(&id("h1"))
                    .expect("a consistent read")
                    .expect("exists");
                summary(&doc).expect("valid");
            }
        });
    });
    let doc = store.document(&id("h1")).expect("reads").expect("exists");
    assert_eq!(visits(&doc), 60);
    assert_eq!(store.totals().expect("reads").visits, 60);
}

#[test]
fn metadata_and_peer_state_are_durable_and_opaque() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = Store::open(dir.path()).expect("opens");
        assert_eq!(store.meta("device").expect("reads"), None);
        store.put_meta("device", &[0, 1, 2, 255]).expect("writes");
        store
            .put_peer_state(b"\x00peer/1", b"state-1")
            .expect("writes");
        store.put_peer_state(b"peer-2", b"state-2").expect("writes");
        store.remove_peer_state(b"peer-2").expect("removes");
    }
    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(
        store.meta("device").expect("reads"),
        Some(vec![0, 1, 2, 255])
    );
    assert_eq!(
        store.peer_state(b"\x00peer/1").expect("reads"),
        Some(b"state-1".to_vec())
    );
    assert_eq!(store.peer_state(b"peer-2").expect("reads"), None);
    // None of it is a household.
    assert_eq!(store.len().expect("reads"), 0);
    assert_eq!(store.items(..).count(), 0);
}

#[test]
fn compacted_bytes_serve_the_snapshot_or_a_fresh_save() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1", "sikoro", "chw-01");
    assert_eq!(
        store
            .stored_layout(&id("h1"))
            .expect("reads")
            .expect("stored")
            .chunks,
        0
    );

    // A document with no chunks: the stored snapshot itself, which loads to the same heads.
    let bytes = store
        .compacted_bytes(&id("h1"))
        .expect("reads")
        .expect("stored");
    let mut loaded = AutoCommit::load(&bytes).expect("a saved document");
    let mut stored = store.document(&id("h1")).expect("reads").expect("stored");
    assert_eq!(loaded.get_heads(), stored.get_heads());

    // After an edit the document has a chunk: a fresh save that includes it.
    store
        .update(&id("h1"), |doc| add_visit(doc, "v1", "p1"))
        .expect("edits");
    assert!(
        store
            .stored_layout(&id("h1"))
            .expect("reads")
            .expect("stored")
            .chunks
            > 0
    );
    let bytes = store
        .compacted_bytes(&id("h1"))
        .expect("reads")
        .expect("stored");
    let loaded = AutoCommit::load(&bytes).expect("a saved document");
    assert_eq!(visits(&loaded), 1);
    assert_eq!(store.compacted_bytes(&id("nope")).expect("reads"), None);
}
