//! Bounds hold when the store is slow: at most `max_storage_in_flight` requests are
//! outstanding, and a sender never exceeds the receiver's window (the receiver would end
//! the session if it did).

use std::collections::VecDeque;
use std::time::Instant;

use kafo_proto::storage::{StorageRequest, execute};
use kafo_proto::testing::docs::test_actor;
use kafo_proto::testing::{MemoryStorage, config};
use kafo_proto::{Event, Input, MIN_WINDOW, Output, Session, SessionReport};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Slow {
    session: Session,
    storage: MemoryStorage,
    queued: VecDeque<StorageRequest>,
    most_queued: usize,
    report: Option<SessionReport>,
}

impl Slow {
    fn drain(&mut self, now: Instant, outbox: &mut Vec<u8>) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Transmit(bytes) => outbox.extend_from_slice(&bytes),
                Output::Storage(request) => self.queued.push_back(request),
                Output::SetTimer(_) => {}
                Output::Event(Event::PeerHello(_)) => {
                    let share = self.session.default_share().unwrap_or_default();
                    self.session.handle_input(now, Input::Authorize { share });
                }
                Output::Event(Event::PeerDisclosed(_)) => {}
                Output::Event(Event::Finished(report)) => self.report = Some(report),
            }
        }
        self.most_queued = self.most_queued.max(self.queued.len());
    }
}

#[test]
fn a_slow_store_and_a_small_window_still_sync_within_bounds() {
    // 200 documents of ~12 KB (compressed) random notes: over twice the window.
    let mut full = MemoryStorage::new(test_actor(1));
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    for n in 0..200 {
        let id = full
            .create_household(&format!("h{n:03}"), "sikoro", &format!("chw-{}", n % 3))
            .expect("valid");
        let notes: String = (0..20_000)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                char::from(b'a' + (noise % 26) as u8)
            })
            .collect();
        full.edit(&id, |doc| {
            use automerge::transaction::Transactable;
            doc.put(automerge::ROOT, "notes", notes)
                .expect("put on the root");
            doc.commit();
        });
    }
    let total = full.compacted_size(&["sikoro".parse().expect("valid")]);
    assert!(total > 2 * u64::from(MIN_WINDOW), "{total} bytes");
    let make = |name: &str, storage: MemoryStorage, seed: u64| {
        let mut config = config(name, &["sikoro"]);
        config.limits.max_storage_in_flight = 3;
        config.limits.window = MIN_WINDOW;
        config.limits.batch_target = 8 * 1024;
        Slow {
            session: Session::new(config, Instant::now(), &mut ChaCha8Rng::seed_from_u64(seed)),
            storage,
            queued: VecDeque::new(),
            most_queued: 0,
            report: None,
        }
    };
    let mut sides = [
        make("full", full, 1),
        make("empty", MemoryStorage::new(test_actor(2)), 2),
    ];
    let now = Instant::now();
    let mut inboxes = [Vec::new(), Vec::new()];
    for step in 0..100_000 {
        for index in 0..2 {
            let mut outbox = Vec::new();
            sides[index].drain(now, &mut outbox);
            inboxes[1 - index].extend_from_slice(&outbox);
        }
        if sides.iter().all(|side| side.report.is_some()) {
            break;
        }
        // One storage reply per side per step, then whatever bytes arrived.
        for index in 0..2 {
            let side = &mut sides[index];
            if let Some(request) = side.queued.pop_front() {
                let reply = execute(request, &mut side.storage);
                side.session.handle_input(now, Input::Storage(reply));
            } else if !inboxes[index].is_empty() {
                let bytes = std::mem::take(&mut inboxes[index]);
                side.session.handle_input(now, Input::Received(&bytes));
            }
        }
        assert!(step < 99_999, "no end");
    }
    for side in &sides {
        let report = side.report.as_ref().expect("finished");
        assert!(report.outcome.is_in_sync(), "{:?}", report.outcome);
        assert!(
            side.most_queued <= 3,
            "{} storage requests outstanding",
            side.most_queued
        );
    }
    assert_eq!(sides[0].storage.state(), sides[1].storage.state());
    assert_eq!(sides[1].storage.len(), 200);
}
