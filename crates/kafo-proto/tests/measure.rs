//! The benchmark scenarios on the memory harness: bytes and round trips, with naive
//! per-document automerge sync measured on the same data as the reference.

use std::collections::BTreeMap;

use automerge::sync::{self, SyncDoc};
use kafo_model::{HouseholdId, Scope};
use kafo_proto::testing::{Link, MemoryStorage, Peer, sync_pair};
use kafo_proto::wire::FrameDecoder;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

/// Bytes per frame type in a transcript.
fn breakdown(bytes: &[u8]) -> BTreeMap<&'static str, (usize, usize)> {
    let mut decoder = FrameDecoder::new();
    let mut input = bytes;
    let mut sizes = BTreeMap::new();
    while !input.is_empty() {
        let before = input.len();
        let Some(frame) = decoder.decode(&mut input).expect("own frames are valid") else {
            break;
        };
        let entry = sizes.entry(frame.name()).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += before - input.len();
    }
    sizes
}

/// `count` households in area `sikoro`, 120 per CHW, each with one visit.
fn caseload(peer: &mut Peer, count: usize) -> Vec<HouseholdId> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let chw = format!("chw-{:02}", n / 120);
        let id = peer
            .storage
            .create_household(&format!("sikoro-h{n:05}"), "sikoro", &chw)
            .expect("valid household");
        peer.storage.add_visit(&id, &format!("v{n:05}-0"));
        ids.push(id);
    }
    ids
}

/// Bytes and message rounds of automerge's own sync protocol run once per document.
fn naive_sync(a: &MemoryStorage, b: &MemoryStorage) -> (u64, u32) {
    let mut bytes = 0u64;
    let mut rounds = 0u32;
    for id in a.ids() {
        let mut doc_a = a.document(id).expect("listed").clone();
        let mut doc_b = b.document(id).cloned().unwrap_or_default();
        let (mut state_a, mut state_b) = (sync::State::new(), sync::State::new());
        let mut doc_rounds = 0;
        loop {
            let to_b = doc_a.sync().generate_sync_message(&mut state_a);
            let to_a = doc_b.sync().generate_sync_message(&mut state_b);
            if to_b.is_none() && to_a.is_none() {
                break;
            }
            doc_rounds += 1;
            if let Some(message) = to_b {
                let encoded = message.encode();
                bytes += encoded.len() as u64;
                let message = sync::Message::decode(&encoded).expect("own message");
                doc_b
                    .sync()
                    .receive_sync_message(&mut state_b, message)
                    .expect("valid message");
            }
            if let Some(message) = to_a {
                let encoded = message.encode();
                bytes += encoded.len() as u64;
                let message = sync::Message::decode(&encoded).expect("own message");
                doc_a
                    .sync()
                    .receive_sync_message(&mut state_a, message)
                    .expect("valid message");
            }
        }
        rounds = rounds.max(doc_rounds);
    }
    (bytes, rounds)
}

#[test]
fn nothing_changed_between_two_devices_with_6840_households() {
    let mut a = Peer::new("a", 1, &["sikoro"]);
    caseload(&mut a, 6840);
    let mut b = Peer::new("b", 2, &["sikoro"]);
    b.storage = a.storage.clone();
    let run = sync_pair(&mut a, &mut b, &Link::perfect(), 7).expect("run completes");
    assert!(run.in_sync(), "{run:?}");
    println!(
        "nothing changed, 6840 households: {} bytes total, {:.1} round trips (virtual time), {} / {} turns",
        run.bytes(),
        run.round_trips(),
        run.a.round_trips,
        run.b.round_trips
    );
    assert!(run.bytes() < 1024, "{} bytes", run.bytes());
    assert!(
        run.round_trips() <= 1.0,
        "{} round trips",
        run.round_trips()
    );
}

#[test]
fn meetup_of_1200_shared_households_each_side_editing_one_percent() {
    let mut a = Peer::new("a", 1, &["sikoro"]);
    let ids = caseload(&mut a, 1200);
    let mut b = Peer::new("b", 2, &["sikoro"]);
    b.storage = a.storage.clone();
    b.storage = {
        // Same documents, but B writes with its own actor.
        let mut storage = MemoryStorage::new(kafo_proto::testing::docs::test_actor(2));
        for id in a.storage.ids() {
            storage
                .put(a.storage.document(id).expect("listed").clone())
                .expect("valid");
        }
        storage
    };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for id in ids.choose_multiple(&mut rng, 12) {
        a.storage.add_visit(id, "meetup-a");
    }
    for id in ids.choose_multiple(&mut rng, 12) {
        b.storage.add_visit(id, "meetup-b");
    }
    let (naive_bytes, naive_rounds) = naive_sync(&a.storage, &b.storage);
    let run = sync_pair(&mut a, &mut b, &Link::perfect(), 8).expect("run completes");
    assert!(run.in_sync(), "{run:?}");
    assert_eq!(a.storage.state(), b.storage.state());
    println!(
        "meetup 1200 / 1%: {} bytes total ({:.1}x fewer than naive {} bytes), {:.1} round trips (naive: {} message rounds per document), docs sent {}+{}",
        run.bytes(),
        naive_bytes as f64 / run.bytes() as f64,
        naive_bytes,
        run.round_trips(),
        naive_rounds,
        run.a.docs_sent,
        run.b.docs_sent
    );
    println!("  a sent {:?}", breakdown(&run.a_sent));
    println!("  b sent {:?}", breakdown(&run.b_sent));
    assert!(
        run.bytes() * 10 <= naive_bytes,
        "{} vs naive {}",
        run.bytes(),
        naive_bytes
    );
    assert!(
        run.round_trips() <= 4.0,
        "{} round trips",
        run.round_trips()
    );
}

#[test]
fn pull_of_6840_households_by_an_empty_device() {
    let mut full = Peer::new("full", 1, &["sikoro"]);
    caseload(&mut full, 6840);
    let mut empty = Peer::new("empty", 2, &["sikoro"]);
    let compacted = full
        .storage
        .compacted_size(&["sikoro".parse::<Scope>().expect("valid")]);
    let run = sync_pair(&mut full, &mut empty, &Link::perfect(), 9).expect("run completes");
    assert!(run.in_sync(), "{run:?}");
    assert_eq!(empty.storage.state(), full.storage.state());
    println!(
        "pull 6840: {} bytes total, {:.2}x the {} bytes of compacted documents, {:.1} round trips",
        run.bytes(),
        run.bytes() as f64 / compacted as f64,
        compacted,
        run.round_trips()
    );
    assert!(run.bytes() as f64 <= 1.2 * compacted as f64);
}
