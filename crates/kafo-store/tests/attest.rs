//! Attributable changes: the change signer, attestation and actor-owner records,
//! written atomically with the documents and write-once.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use automerge::{ActorId, AutoCommit, ChangeHash};
use kafo_store::{Attachments, ChangeSigner, CommitError, Store, UpdateError, WriteEffect};
use support::{add_visit, id, put_household};

/// The record the test signer writes for a change.
fn signature(hash: &ChangeHash) -> Vec<u8> {
    let mut record = b"sig:".to_vec();
    record.extend_from_slice(&hash.0);
    record
}

/// Every call of a test signer: the change and the thread that signed it.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<(ChangeHash, ThreadId)>>>);

impl Calls {
    fn signer(&self) -> ChangeSigner {
        let calls = Arc::clone(&self.0);
        Arc::new(move |hash: &ChangeHash| {
            calls
                .lock()
                .expect("not poisoned")
                .push((*hash, thread::current().id()));
            signature(hash)
        })
    }

    fn hashes(&self) -> BTreeSet<ChangeHash> {
        self.take().into_iter().map(|(hash, _)| hash).collect()
    }

    fn take(&self) -> Vec<(ChangeHash, ThreadId)> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

/// The changes of a stored document, by actor.
fn changes_of(store: &Store, name: &str, actor: &ActorId) -> BTreeSet<ChangeHash> {
    let mut doc = store.document(&id(name)).expect("reads").expect("exists");
    doc.get_changes_meta(&[])
        .into_iter()
        .filter(|change| *change.actor == *actor)
        .map(|change| change.hash)
        .collect()
}

fn all_changes(store: &Store, name: &str) -> BTreeSet<ChangeHash> {
    let mut doc = store.document(&id(name)).expect("reads").expect("exists");
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|change| change.hash)
        .collect()
}

fn create(store: &Store, name: &str) {
    store
        .update(&id(name), |doc| {
            put_household(doc, name, "sikoro", "chw-01", "Famille Test")
        })
        .expect("writes");
}

fn add(store: &Store, name: &str, visit: &str) {
    store
        .update(&id(name), |doc| {
            add_visit(doc, &format!("{name}.{visit}"), "p")
        })
        .expect("writes");
}

#[test]
fn the_signer_attests_the_stores_own_changes_only() {
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (alice, bob) = (
        Store::open(dir_a.path()).expect("opens"),
        Store::open(dir_b.path()).expect("opens"),
    );
    // Written before the signer is set: never signed.
    create(&alice, "h0");
    let calls = Calls::default();
    alice.set_change_signer(calls.signer());

    create(&alice, "h1");
    let own = changes_of(&alice, "h1", &alice.actor());
    assert!(!own.is_empty());
    assert_eq!(calls.hashes(), own, "every own change, signed once");
    for hash in &own {
        assert_eq!(
            alice.attestation(hash).expect("reads"),
            Some(signature(hash))
        );
    }
    assert_eq!(alice.unattested_changes(&id("h1")).expect("reads"), vec![]);

    // Bob's household and Bob's edits reach Alice: none of them is signed by her.
    create(&bob, "h2");
    let h2 = bob
        .document(&id("h2"))
        .expect("reads")
        .expect("exists")
        .save();
    alice.apply_document(&id("h2"), &h2).expect("applies");
    let h1 = alice
        .document(&id("h1"))
        .expect("reads")
        .expect("exists")
        .save();
    bob.apply_document(&id("h1"), &h1).expect("applies");
    let common = bob.heads(&id("h1")).expect("reads").expect("exists");
    add(&bob, "h1", "v-bob");
    let from_bob = bob
        .document(&id("h1"))
        .expect("reads")
        .expect("exists")
        .save_after(&common);
    alice.apply_changes(&id("h1"), &from_bob).expect("applies");
    assert!(calls.take().is_empty(), "no foreign change is signed");
    let bobs = changes_of(&alice, "h1", &bob.actor());
    assert_eq!(bobs.len(), 1);
    assert_eq!(
        alice.unattested_changes(&id("h1")).expect("reads"),
        bobs.iter().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        alice.unattested_changes(&id("h2")).expect("reads").len(),
        all_changes(&alice, "h2").len()
    );

    // Alice's next edit of a merged document signs only the new change.
    add(&alice, "h1", "v-alice");
    let signed = calls.hashes();
    assert_eq!(signed.len(), 1);
    assert!(changes_of(&alice, "h1", &alice.actor()).is_superset(&signed));
    assert!(own.is_disjoint(&signed));

    // The changes written before the signer stay unattested until adopted.
    let unsigned = alice.unattested_changes(&id("h0")).expect("reads");
    assert_eq!(unsigned.len(), all_changes(&alice, "h0").len());
    add(&alice, "h0", "v1");
    assert_eq!(calls.hashes().len(), 1, "only the new change");
    assert_eq!(
        alice.unattested_changes(&id("h0")).expect("reads"),
        unsigned
    );
    assert_eq!(
        alice.unattested_changes(&id("missing")).expect("reads"),
        vec![]
    );
}

#[test]
fn set_actor_rebinds_edits_and_the_owner_record_is_written_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    let actor = ActorId::from(&[7u8; 32][..]);
    store.set_actor(actor.clone());
    assert_eq!(store.actor(), actor);
    store.set_actor_owner_record(b"device-1".to_vec());
    // No signed write yet: no owner record.
    create(&store, "h1");
    assert_eq!(store.actor_owner(actor.to_bytes()).expect("reads"), None);

    let calls = Calls::default();
    store.set_change_signer(calls.signer());
    add(&store, "h1", "v1");
    let doc = store.document(&id("h1")).expect("reads").expect("exists");
    assert_eq!(doc.get_actor(), &actor);
    assert_eq!(
        changes_of(&store, "h1", &actor).len(),
        2,
        "both edits by the new actor"
    );
    assert_eq!(calls.hashes().len(), 1);
    assert_eq!(
        store
            .actor_owner(actor.to_bytes())
            .expect("reads")
            .as_deref(),
        Some(&b"device-1"[..])
    );

    // Write-once: a later owner for the same actor is not recorded.
    store.set_actor_owner_record(b"device-2".to_vec());
    add(&store, "h1", "v2");
    assert_eq!(
        store
            .actor_owner(actor.to_bytes())
            .expect("reads")
            .as_deref(),
        Some(&b"device-1"[..])
    );
    drop(store);
    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(
        store
            .actor_owner(actor.to_bytes())
            .expect("reads")
            .as_deref(),
        Some(&b"device-1"[..])
    );
    assert_ne!(
        store.actor(),
        actor,
        "a new opening gets a fresh actor again"
    );
}

#[test]
fn a_failed_write_stores_no_attestation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h1");
    let calls = Calls::default();
    store.set_change_signer(calls.signer());
    let before = all_changes(&store, "h1");

    // The edit fails after changing the document.
    let err = store
        .update(&id("h1"), |doc| {
            add_visit(doc, "h1.v1", "p")?;
            Err::<(), _>(automerge::AutomergeError::Fail)
        })
        .expect_err("the edit fails");
    assert!(matches!(err, UpdateError::Edit { .. }), "{err:?}");
    // The edit leaves another household's document.
    let err = store
        .update(&id("h1"), |doc| {
            put_household(doc, "h9", "sikoro", "chw-01", "X")
        })
        .expect_err("wrong id");
    assert!(matches!(err, UpdateError::Invalid { .. }), "{err:?}");
    // The edit's own attachments go only with a valid document.
    let fake = ChangeHash([9; 32]);
    let err = store
        .update_attested(&id("h1"), |doc| {
            put_household(doc, "h9", "sikoro", "chw-01", "X")?;
            let attachments = Attachments {
                attestations: vec![(fake, b"fake".to_vec())],
                actor_owners: vec![(b"actor".to_vec(), b"owner".to_vec())],
            };
            Ok::<_, automerge::AutomergeError>(((), attachments))
        })
        .expect_err("wrong id");
    assert!(matches!(err, UpdateError::Invalid { .. }), "{err:?}");
    assert_eq!(store.attestation(&fake).expect("reads"), None);
    assert_eq!(store.actor_owner(b"actor").expect("reads"), None);

    // A commit refused as stale: signed on prepare, but nothing is written.
    let mut pending = store.load_for_update(&id("h1")).expect("loads");
    add_visit(pending.doc_mut(), "h1.v3", "p").expect("edits");
    pending.prepare().expect("valid");
    let signed_on_prepare = calls.hashes();
    assert_eq!(signed_on_prepare.len(), 1);
    add(&store, "h1", "v4");
    let written_meanwhile = calls.hashes();
    let err = store.commit(vec![pending]).expect_err("stale");
    assert!(matches!(err, CommitError::Stale { .. }), "{err:?}");
    for hash in &signed_on_prepare {
        assert_eq!(store.attestation(hash).expect("reads"), None);
    }

    // Only the one successful write's change is in the store, attested.
    let after = all_changes(&store, "h1");
    let added: BTreeSet<_> = after.difference(&before).copied().collect();
    assert_eq!(added, written_meanwhile);
    let unattested: BTreeSet<_> = store
        .unattested_changes(&id("h1"))
        .expect("reads")
        .into_iter()
        .collect();
    assert_eq!(unattested, before);
}

#[test]
fn attached_records_survive_a_reopen_and_are_write_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    let (one, two) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
    let ((), outcome) = store
        .update_attested(&id("h1"), |doc| {
            put_household(doc, "h1", "sikoro", "chw-01", "X")?;
            let attachments = Attachments {
                attestations: vec![
                    (one, b"first".to_vec()),
                    (two, b"two-a".to_vec()),
                    (two, b"two-b".to_vec()),
                ],
                actor_owners: vec![(b"actor-1".to_vec(), b"owner-1".to_vec())],
            };
            Ok::<_, automerge::AutomergeError>(((), attachments))
        })
        .expect("writes");
    assert_eq!(outcome.effect, WriteEffect::Created);
    drop(store);

    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(
        store.attestation(&one).expect("reads").as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        store.attestation(&two).expect("reads").as_deref(),
        Some(&b"two-a"[..]),
        "the first of two records in one write wins"
    );
    assert_eq!(
        store.actor_owner(b"actor-1").expect("reads").as_deref(),
        Some(&b"owner-1"[..])
    );

    // Adopting: attach records for changes already stored, without editing.
    let unsigned = store.unattested_changes(&id("h1")).expect("reads");
    assert!(!unsigned.is_empty());
    let ((), outcome) = store
        .update_attested(&id("h1"), |_doc: &mut AutoCommit| {
            let attachments = Attachments {
                attestations: unsigned
                    .iter()
                    .map(|hash| (*hash, signature(hash)))
                    .chain([(one, b"second".to_vec())])
                    .collect(),
                actor_owners: vec![
                    (b"actor-1".to_vec(), b"owner-2".to_vec()),
                    (b"actor-2".to_vec(), b"owner-2".to_vec()),
                ],
            };
            Ok::<_, automerge::AutomergeError>(((), attachments))
        })
        .expect("attaches");
    assert_eq!(outcome.effect, WriteEffect::Unchanged);
    drop(store);

    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(store.unattested_changes(&id("h1")).expect("reads"), vec![]);
    for hash in &unsigned {
        assert_eq!(
            store.attestation(hash).expect("reads"),
            Some(signature(hash))
        );
    }
    assert_eq!(
        store.attestation(&one).expect("reads").as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        store.actor_owner(b"actor-1").expect("reads").as_deref(),
        Some(&b"owner-1"[..])
    );
    assert_eq!(
        store.actor_owner(b"actor-2").expect("reads").as_deref(),
        Some(&b"owner-2"[..])
    );

    // A household that does not exist gets no records from an edit that adds nothing.
    store
        .update_attested(&id("h2"), |_doc: &mut AutoCommit| {
            let attachments = Attachments {
                attestations: vec![(ChangeHash([3; 32]), b"x".to_vec())],
                actor_owners: Vec::new(),
            };
            Ok::<_, automerge::AutomergeError>(((), attachments))
        })
        .expect("nothing to write");
    assert_eq!(
        store.attestation(&ChangeHash([3; 32])).expect("reads"),
        None
    );
    assert_eq!(store.len().expect("reads"), 1);
}

#[test]
fn the_import_path_signs_on_the_worker_threads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    create(&store, "h000");
    let unsigned = all_changes(&store, "h000");
    let calls = Calls::default();
    store.set_change_signer(calls.signer());
    store.set_actor_owner_record(b"device".to_vec());

    let mut pending: Vec<_> = (0..40)
        .map(|n| {
            store
                .load_for_update(&id(&format!("h{n:03}")))
                .expect("loads")
        })
        .collect();
    let workers: Vec<ThreadId> = thread::scope(|scope| {
        let handles: Vec<_> = pending
            .chunks_mut(20)
            .map(|part| {
                scope.spawn(move || {
                    for document in part {
                        let name = document.id().to_string();
                        put_household(document.doc_mut(), &name, "sikoro", "chw-01", "Y")
                            .expect("edits");
                        add_visit(document.doc_mut(), &format!("{name}.v1"), "p").expect("edits");
                        document.prepare().expect("valid");
                    }
                    thread::current().id()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("worker"))
            .collect()
    });
    let report = store.commit(pending).expect("commits");
    assert_eq!((report.created(), report.extended()), (39, 1));
    let signed = calls.take();
    assert!(
        !workers.contains(&thread::current().id())
            && signed.iter().all(|(_, thread)| workers.contains(thread)),
        "every change was signed by the worker that prepared it"
    );
    let signed: BTreeSet<_> = signed.into_iter().map(|(hash, _)| hash).collect();
    let mut own = BTreeSet::new();
    for n in 0..40 {
        let name = format!("h{n:03}");
        own.extend(changes_of(&store, &name, &store.actor()));
        let unattested: BTreeSet<_> = store
            .unattested_changes(&id(&name))
            .expect("reads")
            .into_iter()
            .collect();
        let expected = if n == 0 {
            unsigned.clone()
        } else {
            BTreeSet::new()
        };
        assert_eq!(unattested, expected);
    }
    let own: BTreeSet<_> = own.difference(&unsigned).copied().collect();
    assert_eq!(signed, own);
    assert_eq!(
        store
            .actor_owner(store.actor().to_bytes())
            .expect("reads")
            .as_deref(),
        Some(&b"device"[..])
    );

    // A document loaded before the signer was set is signed at commit, and one
    // committed without `prepare` is signed there too.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    let mut early = store.load_for_update(&id("e1")).expect("loads");
    put_household(early.doc_mut(), "e1", "sikoro", "chw-01", "E").expect("edits");
    early.prepare().expect("valid");
    store.set_change_signer(calls.signer());
    let mut late = store.load_for_update(&id("e2")).expect("loads");
    put_household(late.doc_mut(), "e2", "sikoro", "chw-01", "E").expect("edits");
    store.commit(vec![early, late]).expect("commits");
    for name in ["e1", "e2"] {
        assert_eq!(store.unattested_changes(&id(name)).expect("reads"), vec![]);
    }
    assert_eq!(calls.hashes().len(), 2);
}

#[test]
fn update_many_signs_every_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    let calls = Calls::default();
    store.set_change_signer(calls.signer());
    let names = ["h1", "h2", "h3"];
    store
        .update_many(names.iter().map(|name| {
            let name = name.to_string();
            (id(&name), move |doc: &mut AutoCommit| {
                put_household(doc, &name, "sikoro", "chw-01", "Z")?;
                add_visit(doc, &format!("{name}.v1"), "p")
            })
        }))
        .expect("writes");
    let mut own = BTreeSet::new();
    for name in names {
        assert_eq!(store.unattested_changes(&id(name)).expect("reads"), vec![]);
        own.extend(all_changes(&store, name));
    }
    assert_eq!(calls.hashes(), own);
}
