//! Story tests: devices that meet, on the in-memory harness.

use kafo_model::HouseholdId;
use kafo_proto::testing::{Link, Peer, sync_pair};

fn id(text: &str) -> HouseholdId {
    text.parse().expect("valid test id")
}

#[test]
fn alice_and_bob_record_visits_offline_then_both_have_all_visits() {
    let mut alice = Peer::new("alice", 1, &["sikoro/chw-01"]);
    let mut bob = Peer::new("bob", 2, &["sikoro/chw-01"]);
    for n in 0..5 {
        alice
            .storage
            .create_household(&format!("h{n}"), "sikoro", "chw-01")
            .expect("valid household");
    }
    let first = sync_pair(&mut alice, &mut bob, &Link::perfect(), 1).expect("run completes");
    assert!(first.in_sync(), "{first:?}");
    assert_eq!(bob.storage.state(), alice.storage.state());

    alice.storage.add_visit(&id("h1"), "v-alice");
    bob.storage.add_visit(&id("h1"), "v-bob");
    bob.storage.add_visit(&id("h3"), "v-bob-2");
    let second = sync_pair(&mut alice, &mut bob, &Link::perfect(), 2).expect("run completes");
    assert!(second.in_sync(), "{second:?}");
    assert_eq!(bob.storage.state(), alice.storage.state());
    assert_eq!(
        alice
            .storage
            .visits(&id("h1"))
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["v-alice".to_string(), "v-bob".to_string()]
    );
    assert!(alice.storage.visits(&id("h3")).contains("v-bob-2"));
    println!(
        "first: {:.1} rt, {} bytes; second: {:.1} rt, {} bytes",
        first.round_trips(),
        first.bytes(),
        second.round_trips(),
        second.bytes()
    );
}

fn scopes(list: &[&str]) -> Vec<kafo_model::Scope> {
    list.iter()
        .map(|s| s.parse().expect("valid scope"))
        .collect()
}

fn fill(peer: &mut Peer, chw: &str, count: usize) {
    for n in 0..count {
        let id = peer
            .storage
            .create_household(&format!("{chw}-h{n:03}"), "sikoro", chw)
            .expect("valid household");
        peer.storage.add_visit(&id, &format!("{chw}-v{n:03}"));
    }
}

#[test]
fn a_supervisor_pulls_two_chws_and_each_chw_gets_back_only_its_own_caseload() {
    let mut supervisor = Peer::new("supervisor", 1, &["sikoro"]);
    let mut chw1 = Peer::new("chw1", 2, &["sikoro/chw-01"]);
    let mut chw2 = Peer::new("chw2", 3, &["sikoro/chw-02"]);
    fill(&mut chw1, "chw-01", 40);
    fill(&mut chw2, "chw-02", 30);
    // The supervisor already holds a third caseload that neither CHW may see.
    fill(&mut supervisor, "chw-03", 10);

    let first = sync_pair(&mut supervisor, &mut chw1, &Link::perfect(), 1).expect("run completes");
    let second = sync_pair(&mut supervisor, &mut chw2, &Link::perfect(), 2).expect("run completes");
    assert!(first.in_sync() && second.in_sync());
    assert_eq!(supervisor.storage.len(), 80);
    assert_eq!(
        chw1.storage.len(),
        40,
        "chw1 received nothing outside its caseload"
    );
    assert_eq!(chw2.storage.len(), 30);
    assert_eq!(first.b.docs_received, 0);
    assert_eq!(first.a.docs_received, 40);

    // The supervisor records a visit in chw-01's caseload: it flows back to chw1 only.
    let visited = id("chw-01-h007");
    supervisor.storage.add_visit(&visited, "supervision");
    let back = sync_pair(&mut chw1, &mut supervisor, &Link::perfect(), 3).expect("run completes");
    assert!(back.in_sync());
    assert!(chw1.storage.visits(&visited).contains("supervision"));
    assert_eq!(back.b.docs_sent, 1);
    assert_eq!(back.b.changes_sent, 1, "one change, not the whole document");
    let untouched =
        sync_pair(&mut chw2, &mut supervisor, &Link::perfect(), 4).expect("run completes");
    assert!(untouched.in_sync());
    assert_eq!(untouched.a.docs_received + untouched.b.docs_received, 0);
}

#[test]
fn three_peers_in_a_ring_converge() {
    let mut peers = [
        Peer::new("a", 1, &["sikoro"]),
        Peer::new("b", 2, &["sikoro"]),
        Peer::new("c", 3, &["sikoro"]),
    ];
    fill(&mut peers[0], "chw-01", 20);
    fill(&mut peers[1], "chw-02", 20);
    fill(&mut peers[2], "chw-03", 20);
    let [a, b, c] = &mut peers;
    for (seed, (x, y)) in [(0usize, 1usize), (1, 2), (2, 0), (0, 1)]
        .into_iter()
        .enumerate()
    {
        let run = match (x, y) {
            (0, 1) => sync_pair(a, b, &Link::perfect(), seed as u64),
            (1, 2) => sync_pair(b, c, &Link::perfect(), seed as u64),
            _ => sync_pair(c, a, &Link::perfect(), seed as u64),
        }
        .expect("run completes");
        assert!(run.in_sync());
    }
    // Everyone edits the same household concurrently, then one more ring.
    let shared = id("chw-01-h000");
    a.storage.add_visit(&shared, "va");
    b.storage.add_visit(&shared, "vb");
    c.storage.add_visit(&shared, "vc");
    for seed in 10..12 {
        assert!(
            sync_pair(a, b, &Link::perfect(), seed)
                .expect("runs")
                .in_sync()
        );
        assert!(
            sync_pair(b, c, &Link::perfect(), seed)
                .expect("runs")
                .in_sync()
        );
        assert!(
            sync_pair(c, a, &Link::perfect(), seed)
                .expect("runs")
                .in_sync()
        );
    }
    assert_eq!(a.storage.len(), 60);
    assert_eq!(a.storage.state(), b.storage.state());
    assert_eq!(b.storage.state(), c.storage.state());
    assert!(
        ["va", "vb", "vc"]
            .iter()
            .all(|v| a.storage.visits(&shared).contains(*v))
    );
}

#[test]
fn a_dialed_session_works_like_a_symmetric_one() {
    let mut alice = Peer::new("alice", 1, &["sikoro"]);
    let mut bob = Peer::new("bob", 2, &["sikoro"]);
    fill(&mut alice, "chw-01", 50);
    bob.storage = alice.storage.clone();
    let link = Link {
        start: kafo_proto::testing::Start::FirstDials,
        ..Link::perfect()
    };
    let unchanged = sync_pair(&mut alice, &mut bob, &link, 1).expect("run completes");
    assert!(unchanged.in_sync());
    // Bob's session starts one latency late; then hello and begin cross: 1.5 round trips.
    assert!(
        unchanged.round_trips() <= 1.5,
        "{}",
        unchanged.round_trips()
    );
    bob.storage.add_visit(&id("chw-01-h010"), "new");
    let changed = sync_pair(&mut alice, &mut bob, &link, 2).expect("run completes");
    assert!(changed.in_sync());
    assert_eq!(alice.storage.state(), bob.storage.state());
}

#[test]
fn when_shares_differ_only_the_common_scopes_are_reconciled() {
    let mut supervisor = Peer::new("supervisor", 1, &["sikoro"]);
    let mut chw = Peer::new("chw", 2, &["sikoro"]);
    fill(&mut supervisor, "chw-01", 10);
    fill(&mut supervisor, "chw-02", 10);
    for n in 0..3 {
        chw.storage
            .create_household(&format!("new-{n}"), "sikoro", "chw-01")
            .expect("valid");
    }
    chw.policy = kafo_proto::testing::Policy::Share(scopes(&["sikoro/chw-01"]));
    let run = sync_pair(&mut supervisor, &mut chw, &Link::perfect(), 1).expect("run completes");
    assert!(run.in_sync(), "{run:?}");
    assert_eq!(chw.storage.len(), 13, "chw-01 only");
    assert_eq!(supervisor.storage.len(), 23);
}

#[test]
fn a_refusal_reaches_the_other_side() {
    let mut alice = Peer::new("alice", 1, &["sikoro"]);
    let mut bob = Peer::new("bob", 2, &["sikoro"]);
    fill(&mut alice, "chw-01", 5);
    bob.policy = kafo_proto::testing::Policy::Refuse;
    let run = sync_pair(&mut alice, &mut bob, &Link::perfect(), 1).expect("run completes");
    assert!(matches!(
        run.a.outcome,
        kafo_proto::Outcome::Refused {
            by: kafo_proto::Side::Peer
        }
    ));
    assert!(matches!(
        run.b.outcome,
        kafo_proto::Outcome::Refused {
            by: kafo_proto::Side::Us
        }
    ));
    assert!(bob.storage.is_empty());
}

#[test]
fn strict_reveal_costs_half_a_round_trip_more() {
    let mut alice = Peer::new("alice", 1, &["sikoro"]);
    let mut bob = Peer::new("bob", 2, &["sikoro"]);
    fill(&mut alice, "chw-01", 20);
    bob.storage = alice.storage.clone();
    alice.reveal = kafo_proto::Reveal::AfterBothAuthorized;
    bob.reveal = kafo_proto::Reveal::AfterBothAuthorized;
    let run = sync_pair(&mut alice, &mut bob, &Link::perfect(), 1).expect("run completes");
    assert!(run.in_sync());
    assert!(
        (run.round_trips() - 1.5).abs() < 1e-9,
        "{}",
        run.round_trips()
    );
    bob.storage.add_visit(&id("chw-01-h001"), "strict");
    let run = sync_pair(&mut alice, &mut bob, &Link::perfect(), 2).expect("run completes");
    assert!(run.in_sync());
    assert_eq!(alice.storage.state(), bob.storage.state());
}

#[test]
fn a_pull_cut_midway_resumes_without_resending_what_arrived() {
    let mut full = Peer::new("full", 1, &["sikoro"]);
    let mut empty = Peer::new("empty", 2, &["sikoro"]);
    full.limits.batch_target = 4 * 1024;
    fill(&mut full, "chw-01", 100);
    fill(&mut full, "chw-02", 100);
    let link = Link {
        cut_after: Some(5_000),
        ..Link::perfect()
    };
    let cut = sync_pair(&mut full, &mut empty, &link, 1).expect("run completes");
    assert!(!cut.in_sync());
    let arrived = empty.storage.len();
    assert!(
        arrived > 0 && arrived < 200,
        "{arrived} of 200 arrived before the cut"
    );
    // Every document that arrived is whole: it has its visit.
    for id in empty.storage.ids() {
        assert_eq!(empty.storage.visits(id).len(), 1);
    }
    let resumed = sync_pair(&mut full, &mut empty, &Link::perfect(), 2).expect("run completes");
    assert!(resumed.in_sync());
    assert_eq!(
        resumed.a.docs_sent as usize,
        200 - arrived,
        "only what had not arrived is sent"
    );
    assert_eq!(empty.storage.state(), full.storage.state());
}
