use super::*;

fn peer(seed: u8) -> PeerId {
    libp2p_identity::Keypair::ed25519_from_bytes([seed; 32])
        .expect("32 bytes are a valid ed25519 secret")
        .public()
        .to_peer_id()
}

fn policy(max_sessions: usize) -> Policy {
    Policy {
        max_sessions,
        max_waiting_inbound: 4,
        inbound_wait: Duration::from_secs(20),
        debounce: Duration::from_millis(500),
        first_contact_grace: Duration::from_secs(1),
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
            give_up_after: 3,
        },
        resync_interval: Some(Duration::from_secs(300)),
        ban: Duration::from_secs(600),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Starts every job available now; returns the peers, in order.
fn start_all(schedule: &mut Schedule<u32>, now: Instant) -> Vec<(PeerId, Direction)> {
    let mut started = Vec::new();
    while let Some(job) = schedule.next_job(now) {
        started.push(match job {
            Job::Outbound(peer) => (peer, Direction::Outbound),
            Job::Inbound(peer, _) => (peer, Direction::Inbound),
        });
    }
    started
}

#[test]
fn of_two_peers_that_discover_each_other_the_one_sorting_first_opens_the_session() {
    let t0 = Instant::now();
    let (a, b) = (peer(1), peer(2));
    let (low, high) = if a < b { (a, b) } else { (b, a) };

    let mut at_low: Schedule<u32> = Schedule::new(low, policy(4), 0);
    at_low.seen(high, Sighting::Discovered, t0);
    assert_eq!(start_all(&mut at_low, t0), [(high, Direction::Outbound)]);

    let mut at_high: Schedule<u32> = Schedule::new(high, policy(4), 0);
    at_high.seen(low, Sighting::Discovered, t0);
    assert!(start_all(&mut at_high, t0).is_empty(), "waits its grace");
    assert_eq!(at_high.next_wakeup(t0), Some(t0 + Duration::from_secs(1)));
    // The peer's session arrives within the grace and brings both in sync.
    at_high
        .inbound(low, 7, t0 + ms(100))
        .expect("room in the queue");
    assert_eq!(
        start_all(&mut at_high, t0 + ms(100)),
        [(low, Direction::Inbound)]
    );
    at_high.finished(
        low,
        Direction::Inbound,
        Ended::InSync { synced_version: 0 },
        t0 + ms(300),
    );
    assert!(
        start_all(&mut at_high, t0 + Duration::from_secs(2)).is_empty(),
        "no second session once in sync"
    );
}

#[test]
fn a_burst_of_local_changes_leads_to_one_session_after_the_debounce() {
    let t0 = Instant::now();
    let local = peer(1);
    let other = peer(2);
    let mut schedule: Schedule<u32> = Schedule::new(local, policy(4), 0);
    schedule.seen(other, Sighting::Dialed, t0);
    assert_eq!(start_all(&mut schedule, t0), [(other, Direction::Outbound)]);
    schedule.finished(
        other,
        Direction::Outbound,
        Ended::InSync { synced_version: 0 },
        t0 + ms(50),
    );

    for n in 1..=5 {
        schedule.local_change(n, t0 + ms(100 + n * 100));
        assert!(start_all(&mut schedule, t0 + ms(100 + n * 100)).is_empty());
    }
    let settled = t0 + ms(600) + ms(500);
    assert_eq!(schedule.next_wakeup(t0 + ms(700)), Some(settled));
    assert!(start_all(&mut schedule, settled - ms(1)).is_empty());
    assert_eq!(
        start_all(&mut schedule, settled),
        [(other, Direction::Outbound)]
    );
    // While it runs, more changes do not queue a second session with the same peer.
    schedule.local_change(6, settled + ms(10));
    assert!(start_all(&mut schedule, settled + Duration::from_secs(5)).is_empty());
    // The session saw changes it did not make itself: the peer is synced again.
    schedule.finished(
        other,
        Direction::Outbound,
        Ended::InSync { synced_version: 5 },
        settled + Duration::from_secs(6),
    );
    assert_eq!(
        start_all(&mut schedule, settled + Duration::from_secs(6)),
        [(other, Direction::Outbound)]
    );
}

#[test]
fn sessions_beyond_the_limit_wait_their_turn_in_arrival_order() {
    let t0 = Instant::now();
    let local = peer(1);
    let peers: Vec<PeerId> = (2..=6).map(peer).collect();
    let mut schedule: Schedule<u32> = Schedule::new(local, policy(2), 0);
    for (n, other) in peers.iter().enumerate().take(3) {
        schedule.seen(*other, Sighting::Dialed, t0 + ms(n as u64));
    }
    let first = start_all(&mut schedule, t0 + ms(10));
    assert_eq!(first.len(), 2, "two slots");
    let third = peers[..3]
        .iter()
        .copied()
        .find(|p| !first.iter().any(|(started, _)| started == p))
        .expect("one dialed peer waits");
    assert_eq!(schedule.running(), 2);
    // Two phones open sessions while the slots are taken.
    schedule.inbound(peers[3], 1, t0 + ms(20)).expect("room");
    schedule.inbound(peers[4], 2, t0 + ms(30)).expect("room");
    assert!(start_all(&mut schedule, t0 + ms(40)).is_empty());

    let mut order = Vec::new();
    let mut now = t0 + ms(100);
    for (peer, direction) in first {
        schedule.finished(peer, direction, Ended::InSync { synced_version: 0 }, now);
    }
    loop {
        let started = start_all(&mut schedule, now);
        if started.is_empty() {
            break;
        }
        for (peer, direction) in started {
            order.push(peer);
            schedule.finished(peer, direction, Ended::InSync { synced_version: 0 }, now);
        }
        now += ms(10);
    }
    // The third dialed peer was queued before the two inbound sessions.
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(order[0], third);
    assert_eq!(&order[1..], &[peers[3], peers[4]]);
}

#[test]
fn failures_back_off_exponentially_and_are_given_up_until_the_peer_shows_again() {
    let t0 = Instant::now();
    let (local, other) = (peer(1), peer(2));
    let mut schedule: Schedule<u32> = Schedule::new(local, policy(4), 0);
    schedule.seen(other, Sighting::Dialed, t0);
    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..3 {
        assert_eq!(
            start_all(&mut schedule, now),
            [(other, Direction::Outbound)]
        );
        schedule.finished(other, Direction::Outbound, Ended::Failed, now);
        match schedule.next_wakeup(now) {
            Some(at) => {
                delays.push((at - now).as_secs());
                assert!(start_all(&mut schedule, at - ms(1)).is_empty());
                now = at;
            }
            None => delays.push(0),
        }
    }
    // No wakeup after the third failure: the peer is given up.
    assert_eq!(delays, [1, 2, 0]);
    assert!(
        start_all(&mut schedule, now + Duration::from_secs(3600)).is_empty(),
        "given up after three failures"
    );
    schedule.seen(other, Sighting::Discovered, now);
    let later = now + Duration::from_secs(10);
    assert_eq!(
        start_all(&mut schedule, later),
        [(other, Direction::Outbound)]
    );
}

#[test]
fn a_peer_that_broke_the_protocol_is_refused_until_its_ban_ends() {
    let t0 = Instant::now();
    let (local, other) = (peer(1), peer(2));
    let mut schedule: Schedule<u32> = Schedule::new(local, policy(4), 0);
    schedule.inbound(other, 1, t0).expect("room");
    assert_eq!(start_all(&mut schedule, t0), [(other, Direction::Inbound)]);
    schedule.inbound(other, 2, t0 + ms(1)).expect("room");
    schedule.finished(other, Direction::Inbound, Ended::PeerFault, t0 + ms(2));
    assert!(
        start_all(&mut schedule, t0 + ms(3)).is_empty(),
        "its queued session is dropped"
    );
    assert_eq!(schedule.inbound(other, 3, t0 + ms(4)), Err(3));
    schedule.seen(other, Sighting::Connected, t0 + ms(5));
    assert!(start_all(&mut schedule, t0 + Duration::from_secs(5)).is_empty());
    let after_ban = t0 + Duration::from_secs(601);
    assert!(!schedule.is_banned(&other, after_ban));
    assert!(schedule.inbound(other, 4, after_ban).is_ok());
}

#[test]
fn an_inbound_session_replaces_a_queued_outbound_one_and_stale_ones_are_dropped() {
    let t0 = Instant::now();
    let local = peer(1);
    let (busy, other) = (peer(2), peer(3));
    let mut schedule: Schedule<u32> = Schedule::new(local, policy(1), 0);
    schedule.seen(busy, Sighting::Dialed, t0);
    schedule.seen(other, Sighting::Dialed, t0);
    let first = start_all(&mut schedule, t0);
    assert_eq!(first.len(), 1);
    let (running, waiting) = if first[0].0 == busy {
        (busy, other)
    } else {
        (other, busy)
    };
    schedule.inbound(waiting, 9, t0 + ms(1)).expect("room");
    schedule.finished(
        running,
        Direction::Outbound,
        Ended::InSync { synced_version: 0 },
        t0 + ms(2),
    );
    assert_eq!(
        start_all(&mut schedule, t0 + ms(2)),
        [(waiting, Direction::Inbound)],
        "one session with the waiting peer, the one it opened"
    );
    schedule.finished(
        waiting,
        Direction::Inbound,
        Ended::InSync { synced_version: 0 },
        t0 + ms(3),
    );

    // A session opened by a peer that waits longer than `inbound_wait` is dropped.
    schedule.seen(running, Sighting::Dialed, t0 + ms(4));
    assert_eq!(start_all(&mut schedule, t0 + ms(4)).len(), 1);
    schedule.inbound(waiting, 10, t0 + ms(5)).expect("room");
    schedule.finished(
        running,
        Direction::Outbound,
        Ended::InSync { synced_version: 0 },
        t0 + Duration::from_secs(30),
    );
    assert!(start_all(&mut schedule, t0 + Duration::from_secs(30)).is_empty());
    assert_eq!(schedule.running(), 0);
}
