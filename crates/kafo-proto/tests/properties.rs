//! Property: any edits on any of 2 to 5 peers, synced in any order over links that drop,
//! duplicate, reorder and cut, converge once the links heal, with no edit lost, and
//! every healed session reaches "in sync" within a bounded number of round trips.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafo_model::HouseholdId;
use kafo_proto::testing::{Link, Peer, Start, sync_pair};
use proptest::prelude::*;

/// `PROPTEST_CASES` if set (for long runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Households ids are drawn from `h0..h{HOUSEHOLDS}`.
const HOUSEHOLDS: usize = 120;

/// A healed session must end within this many round trips of virtual time.
const MAX_HEALED_ROUND_TRIPS: f64 = 8.0;

#[derive(Debug, Clone)]
enum Op {
    /// A peer creates household `household` (if it does not hold it yet).
    Create { peer: usize, household: usize },
    /// A peer creates households `start..start + count` (those it does not hold yet).
    Bulk {
        peer: usize,
        start: usize,
        count: usize,
    },
    /// A peer records a visit on a household it holds.
    Visit { peer: usize, household: usize },
    /// Two peers sync over a faulty link.
    Sync { a: usize, b: usize, faults: Faults },
}

#[derive(Debug, Clone)]
struct Faults {
    drop: f64,
    duplicate: f64,
    reorder: f64,
    cut_after: Option<u64>,
    first_dials: bool,
    seed: u64,
}

fn faults() -> impl Strategy<Value = Faults> {
    (
        prop_oneof![Just(0.0), 0.0..0.3f64],
        prop_oneof![Just(0.0), 0.0..0.3f64],
        prop_oneof![Just(0.0), 0.0..0.3f64],
        proptest::option::of(0u64..4000),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(drop, duplicate, reorder, cut_after, first_dials, seed)| Faults {
                drop,
                duplicate,
                reorder,
                cut_after,
                first_dials,
                seed,
            },
        )
}

fn op(peers: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..peers, 0..HOUSEHOLDS).prop_map(|(peer, household)| Op::Create { peer, household }),
        1 => (0..peers, 0..HOUSEHOLDS, 1..60usize).prop_map(|(peer, start, count)| Op::Bulk { peer, start, count }),
        6 => (0..peers, 0..HOUSEHOLDS).prop_map(|(peer, household)| Op::Visit { peer, household }),
        3 => (0..peers, 0..peers, faults()).prop_map(|(a, b, faults)| Op::Sync { a, b, faults }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (2..=5usize).prop_flat_map(|peers| (Just(peers), proptest::collection::vec(op(peers), 1..80)))
}

fn household_id(household: usize) -> HouseholdId {
    format!("h{household}").parse().expect("valid id")
}

fn pair(peers: &mut [Peer], a: usize, b: usize) -> (&mut Peer, &mut Peer) {
    assert_ne!(a, b);
    if a < b {
        let (left, right) = peers.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = peers.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}

/// Creates a household once in the whole scenario (ids are unique program-wide).
fn create(
    peer: &mut Peer,
    household: usize,
    expected: &mut BTreeMap<HouseholdId, BTreeSet<String>>,
) {
    let id = household_id(household);
    if let std::collections::btree_map::Entry::Vacant(slot) = expected.entry(id) {
        let chw = if household.is_multiple_of(3) {
            "chw-01"
        } else {
            "chw-02"
        };
        peer.storage
            .create_household(slot.key().as_str(), "sikoro", chw)
            .expect("valid");
        slot.insert(BTreeSet::new());
    }
}

fn run(peer_count: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut peers: Vec<Peer> = (0..peer_count)
        .map(|n| {
            let mut peer = Peer::new(&format!("peer{n}"), n as u64 + 1, &["sikoro"]);
            peer.limits.idle_timeout = Duration::from_secs(2);
            peer
        })
        .collect();
    let mut expected: BTreeMap<HouseholdId, BTreeSet<String>> = BTreeMap::new();
    let mut visits = 0;
    for op in ops {
        match op {
            Op::Create { peer, household } => create(&mut peers[peer], household, &mut expected),
            Op::Bulk { peer, start, count } => {
                for household in start..(start + count).min(HOUSEHOLDS) {
                    create(&mut peers[peer], household, &mut expected);
                }
            }
            Op::Visit { peer, household } => {
                let id = household_id(household);
                let visit = format!("v{visits}");
                if peers[peer].storage.add_visit(&id, &visit) {
                    visits += 1;
                    expected.entry(id).or_default().insert(visit);
                }
            }
            Op::Sync { a, b, faults } if a != b => {
                let link = Link {
                    drop: faults.drop,
                    duplicate: faults.duplicate,
                    reorder: faults.reorder,
                    cut_after: faults.cut_after,
                    start: if faults.first_dials {
                        Start::FirstDials
                    } else {
                        Start::Together
                    },
                    ..Link::default()
                };
                let (left, right) = pair(&mut peers, a, b);
                // A faulty session may fail; it must still end, and leave both stores sound.
                let result = sync_pair(left, right, &link, faults.seed);
                prop_assert!(result.is_ok(), "faulty session did not end: {result:?}");
            }
            Op::Sync { .. } => {}
        }
    }
    // Heal: a chain forward then back over perfect links spreads everything everywhere.
    let schedule: Vec<(usize, usize)> = (0..peer_count - 1)
        .map(|i| (i, i + 1))
        .chain((0..peer_count - 1).rev().map(|i| (i + 1, i)))
        .collect();
    for (seed, (a, b)) in schedule.into_iter().enumerate() {
        let (left, right) = pair(&mut peers, a, b);
        let run = sync_pair(left, right, &Link::perfect(), seed as u64)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            run.in_sync(),
            "healed session {a}-{b} not in sync: {:?} / {:?}",
            run.a.outcome,
            run.b.outcome
        );
        prop_assert!(
            run.round_trips() <= MAX_HEALED_ROUND_TRIPS,
            "healed session {a}-{b} took {} round trips",
            run.round_trips()
        );
    }
    let reference = peers[0].storage.state();
    for peer in &peers {
        prop_assert_eq!(&peer.storage.state(), &reference, "{} differs", peer.name);
        for (id, visits) in &expected {
            prop_assert_eq!(
                &peer.storage.visits(id),
                visits,
                "{} lost edits of {}",
                peer.name,
                id
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    #[test]
    fn edits_anywhere_synced_any_way_converge_with_nothing_lost((peers, ops) in scenario()) {
        run(peers, ops)?;
    }
}

/// Scopes a peer may hold: the whole area or one caseload.
const SCOPE_CHOICES: [&str; 3] = ["sikoro", "sikoro/chw-01", "sikoro/chw-02"];

fn scoped_scenario() -> impl Strategy<Value = (Vec<usize>, Vec<Op>)> {
    proptest::collection::vec(0..SCOPE_CHOICES.len(), 2..=4).prop_flat_map(|scopes| {
        let peers = scopes.len();
        (Just(scopes), proptest::collection::vec(op(peers), 1..60))
    })
}

fn run_scoped(scope_choice: Vec<usize>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut peers: Vec<Peer> = scope_choice
        .iter()
        .enumerate()
        .map(|(n, &choice)| {
            let mut peer = Peer::new(&format!("peer{n}"), n as u64 + 1, &[SCOPE_CHOICES[choice]]);
            peer.limits.idle_timeout = Duration::from_secs(2);
            peer
        })
        .collect();
    let mut created: BTreeMap<HouseholdId, &str> = BTreeMap::new();
    let mut expected: BTreeMap<HouseholdId, BTreeSet<String>> = BTreeMap::new();
    let mut visits = 0;
    for op in ops {
        match op {
            Op::Create { peer, household }
            | Op::Bulk {
                peer,
                start: household,
                count: 1,
            } => {
                let id = household_id(household);
                let chw = if household.is_multiple_of(3) {
                    "chw-01"
                } else {
                    "chw-02"
                };
                let scope: kafo_model::Scope = format!("sikoro/{chw}").parse().expect("valid");
                // A peer only creates households of its own scope.
                if !created.contains_key(&id)
                    && peers[peer].accepts.iter().any(|s| s.covers(&scope))
                {
                    peers[peer]
                        .storage
                        .create_household(id.as_str(), "sikoro", chw)
                        .expect("valid");
                    created.insert(id.clone(), chw);
                    expected.insert(id, BTreeSet::new());
                }
            }
            Op::Bulk { .. } => {}
            Op::Visit { peer, household } => {
                let id = household_id(household);
                let visit = format!("v{visits}");
                if peers[peer].storage.add_visit(&id, &visit) {
                    visits += 1;
                    expected.entry(id).or_default().insert(visit);
                }
            }
            Op::Sync { a, b, faults } if a != b => {
                let link = Link {
                    drop: faults.drop,
                    duplicate: faults.duplicate,
                    reorder: faults.reorder,
                    cut_after: faults.cut_after,
                    ..Link::default()
                };
                let (left, right) = pair(&mut peers, a, b);
                let result = sync_pair(left, right, &link, faults.seed);
                prop_assert!(result.is_ok(), "faulty session did not end: {result:?}");
            }
            Op::Sync { .. } => {}
        }
    }
    // Heal: every pair, twice, over perfect links.
    let count = peers.len();
    for round in 0..2u64 {
        for a in 0..count {
            for b in a + 1..count {
                let (left, right) = pair(&mut peers, a, b);
                let run = sync_pair(left, right, &Link::perfect(), round)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(
                    run.in_sync(),
                    "healed {a}-{b}: {:?} / {:?}",
                    run.a.outcome,
                    run.b.outcome
                );
                prop_assert!(run.round_trips() <= MAX_HEALED_ROUND_TRIPS);
            }
        }
    }
    for (id, chw) in &created {
        let scope: kafo_model::Scope = format!("sikoro/{chw}").parse().expect("valid");
        let holders: Vec<&Peer> = peers
            .iter()
            .filter(|p| p.accepts.iter().any(|s| s.covers(&scope)))
            .collect();
        for peer in &peers {
            let holds = peer.storage.document(id).is_some();
            let accepts = peer.accepts.iter().any(|s| s.covers(&scope));
            prop_assert!(
                !holds || accepts,
                "{} holds {id} outside its scope",
                peer.name
            );
            prop_assert!(holds || !accepts, "{} lacks {id}", peer.name);
        }
        for peer in &holders {
            prop_assert_eq!(
                peer.storage.heads(id),
                holders[0].storage.heads(id),
                "{} differs on {}",
                peer.name,
                id
            );
            prop_assert_eq!(
                &peer.storage.visits(id),
                &expected[id],
                "{} lost edits of {}",
                peer.name,
                id
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]

    #[test]
    fn peers_with_different_scopes_converge_within_what_they_share((scopes, ops) in scoped_scenario()) {
        run_scoped(scopes, ops)?;
    }
}
