//! The reconciliation index stays consistent with the documents: after any
//! sequence of writes (single, batched, moving households between scopes), every
//! scope's aggregate equals the fingerprint recomputed from its items, the items are
//! exactly the documents with their current heads, and the totals are the sums.

mod support;

use std::collections::BTreeMap;

use automerge::AutomergeError;
use kafo_model::document::summary;
use kafo_model::{Fingerprint, HeadsHash, HouseholdScope, Scope};
use kafo_store::{SetFingerprint, Store, Totals};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use support::{add_member, add_visit, id, move_to, put_household};

const AREAS: [&str; 3] = ["a1", "a1-x", "a2"];
const CHWS: [&str; 2] = ["c1", "c2"];

#[derive(Debug, Clone)]
enum Edit {
    /// Create the household if absent, in a scope.
    Create {
        scope: (usize, usize),
    },
    AddVisit,
    AddMember,
    Move {
        scope: (usize, usize),
    },
}

#[derive(Debug, Clone)]
enum Op {
    One { household: usize, edit: Edit },
    Many(Vec<(usize, Edit)>),
    Reopen,
}

fn edit() -> impl Strategy<Value = Edit> {
    let scope = (0..AREAS.len(), 0..CHWS.len());
    prop_oneof![
        scope.clone().prop_map(|scope| Edit::Create { scope }),
        Just(Edit::AddVisit),
        Just(Edit::AddMember),
        scope.prop_map(|scope| Edit::Move { scope }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..8usize, edit()).prop_map(|(household, edit)| Op::One { household, edit }),
        3 => prop::collection::vec((0..8usize, edit()), 1..6).prop_map(Op::Many),
        1 => Just(Op::Reopen),
    ]
}

fn run(
    doc: &mut automerge::AutoCommit,
    household: usize,
    edit: &Edit,
    counter: &mut u64,
) -> Result<(), AutomergeError> {
    let name = format!("h{household}");
    let exists = summary(&*doc).is_ok();
    *counter += 1;
    match edit {
        Edit::Create { scope } if !exists => {
            put_household(doc, &name, AREAS[scope.0], CHWS[scope.1], "Famille")
        }
        // Editing a household that does not exist yet creates it first.
        _ if !exists => put_household(doc, &name, AREAS[0], CHWS[0], "Famille"),
        Edit::Create { .. } => Ok(()),
        Edit::AddVisit => add_visit(doc, &format!("{name}.v{counter}"), "p"),
        Edit::AddMember => add_member(doc, &format!("{name}.p{counter}")),
        Edit::Move { scope } => move_to(doc, AREAS[scope.0], CHWS[scope.1]),
    }
}

/// Checks the index against the documents, recomputing everything from scratch.
fn check(store: &Store) {
    let mut expected_items = BTreeMap::new();
    let mut per_scope: BTreeMap<HouseholdScope, SetFingerprint> = BTreeMap::new();
    let mut totals = Totals::default();
    for household in store.ids() {
        let household = household.expect("reads");
        let doc = store
            .document(&household)
            .expect("reads")
            .expect("listed ids exist");
        let found = summary(&doc).expect("stored documents are valid");
        let heads = store.heads(&household).expect("reads").expect("indexed");
        let hash = HeadsHash::of(&heads);
        totals.households += 1;
        totals.members += found.members as u64;
        totals.visits += found.visits as u64;
        let set = per_scope.entry(found.scope.clone()).or_default();
        set.fingerprint = set.fingerprint.add(Fingerprint::of_item(&household, &hash));
        set.count += 1;
        expected_items.insert(household, (found.scope, hash));
    }
    assert_eq!(store.totals().expect("reads"), totals);

    let items: BTreeMap<_, _> = store
        .items(..)
        .map(|item| {
            let item = item.expect("reads");
            (item.id, (item.scope, item.heads_hash))
        })
        .collect();
    assert_eq!(items, expected_items, "items are exactly the documents");

    let mut aggregated = BTreeMap::new();
    for area in AREAS {
        let scope: Scope = area.parse().expect("valid");
        let aggregates = store.scope_aggregates(&scope).expect("reads");
        let mut area_total = SetFingerprint::default();
        for aggregate in aggregates {
            assert!(aggregate.set.count > 0, "empty scopes have no aggregate");
            let chw_scope = Scope::chw(aggregate.scope.area.clone(), aggregate.scope.chw.clone());
            let prefix = format!("{chw_scope}/");
            let upper = format!("{chw_scope}0"); // `0` follows `/`
            let scanned = store
                .range_fingerprint((
                    std::ops::Bound::Included(prefix.as_bytes()),
                    std::ops::Bound::Excluded(upper.as_bytes()),
                ))
                .expect("scans");
            assert_eq!(
                aggregate.set, scanned,
                "aggregate of {chw_scope} equals its items"
            );
            area_total.fingerprint = area_total.fingerprint.add(aggregate.set.fingerprint);
            area_total.count += aggregate.set.count;
            aggregated.insert(aggregate.scope, aggregate.set);
        }
        assert_eq!(store.scope_fingerprint(&scope).expect("reads"), area_total);
    }
    assert_eq!(
        aggregated, per_scope,
        "aggregates equal the recomputed fingerprints"
    );
}

proptest! {
    #![proptest_config(Config {
        cases: 24,
        rng_seed: RngSeed::Fixed(0x6b61_666f),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn aggregates_always_equal_the_fingerprints_of_their_items(ops in prop::collection::vec(op(), 1..16)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).expect("opens");
        let mut counter = 0u64;
        for op in &ops {
            match op {
                Op::One { household, edit } => {
                    store
                        .update(&id(&format!("h{household}")), |doc| run(doc, *household, edit, &mut counter))
                        .expect("writes");
                }
                Op::Many(edits) => {
                    let mut pending: BTreeMap<usize, kafo_store::PendingDocument> = BTreeMap::new();
                    for (household, edit) in edits {
                        let document = pending.entry(*household).or_insert_with(|| {
                            store.load_for_update(&id(&format!("h{household}"))).expect("loads")
                        });
                        run(document.doc_mut(), *household, edit, &mut counter).expect("edits");
                    }
                    store.commit(pending.into_values().collect()).expect("commits");
                }
                Op::Reopen => {
                    drop(store);
                    store = Store::open(dir.path()).expect("reopens");
                }
            }
            check(&store);
        }
    }
}
