//! Kafo's sync between two real stores, both sessions in this thread, in lockstep: what
//! a side transmits while handling one delivery arrives with the next one, so the number
//! of deliveries is the number of one-way trips the sync costs on a real link (both
//! sides start at once, as `kafo sync --stdio` on both ends of a pipe).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::bail;
use kafo::model::Scope;
use kafo::store::Store;
use kafo::sync::StoreStorage;
use kafo_proto::storage::{StorageWork, execute};
use kafo_proto::wire::{DeviceId, FrameDecoder};
use kafo_proto::{Event, Input, Limits, Output, Reveal, Session, SessionConfig, SessionReport};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::phase::Measured;

/// A one-way trip bound: a sync that takes more is a livelock.
const MAX_ONE_WAY: u32 = 10_000;

struct Side<'s> {
    session: Session,
    storage: StoreStorage<'s>,
    report: Option<SessionReport>,
    /// Requests executed and the time they took, by kind.
    storage_time: BTreeMap<&'static str, (u64, Duration)>,
    /// Decodes what this side sent, to tally it by frame type.
    sent: FrameDecoder,
    /// Frames sent and their bytes, by type.
    frames: BTreeMap<&'static str, (u64, u64)>,
    /// The frame types sent at each one-way trip.
    timeline: Vec<BTreeSet<&'static str>>,
}

impl Side<'_> {
    /// Tallies the frames in `bytes`, which this side just sent.
    fn tally(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut sent_now = BTreeSet::new();
        let mut input = bytes;
        while !input.is_empty() {
            let before = input.len() + self.sent.buffered();
            let Some(frame) = self.sent.decode(&mut input)? else {
                break;
            };
            sent_now.insert(frame.name());
            let tally = self.frames.entry(frame.name()).or_default();
            tally.0 += 1;
            tally.1 += (before - input.len() - self.sent.buffered()) as u64;
        }
        self.timeline.push(sent_now);
        Ok(())
    }
}

fn kind(work: &StorageWork) -> &'static str {
    match work {
        StorageWork::Summarize { .. } => "summarize",
        StorageWork::Caseloads { .. } => "caseloads",
        StorageWork::Items { .. } => "items",
        StorageWork::ChangesSince { .. } => "changes-since",
        StorageWork::WholeDocument { .. } => "whole-document",
        StorageWork::Apply { .. } => "apply",
        StorageWork::SyncStep { .. } => "sync-step",
    }
}

fn config(name: &[u8], scopes: &[Scope]) -> anyhow::Result<SessionConfig> {
    let Some(device) = DeviceId::new(name.to_vec()) else {
        bail!("device id too long");
    };
    Ok(SessionConfig {
        device,
        offers: scopes.to_vec(),
        accepts: scopes.to_vec(),
        credentials: Vec::new(),
        reveal: Reveal::default(),
        limits: Limits::default(),
    })
}

/// Syncs `a` (offering and accepting `scopes_a`) with `b`; both must end in sync.
pub fn sync(
    a: &Store,
    b: &Store,
    scopes_a: &[Scope],
    scopes_b: &[Scope],
) -> anyhow::Result<Measured> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let start = Instant::now();
    let mut sides = [
        Side {
            session: Session::new(config(b"device-a", scopes_a)?, start, &mut rng),
            storage: StoreStorage::new(a),
            report: None,
            storage_time: BTreeMap::new(),
            sent: FrameDecoder::new(),
            frames: BTreeMap::new(),
            timeline: Vec::new(),
        },
        Side {
            session: Session::new(config(b"device-b", scopes_b)?, start, &mut rng),
            storage: StoreStorage::new(b),
            report: None,
            storage_time: BTreeMap::new(),
            sent: FrameDecoder::new(),
            frames: BTreeMap::new(),
            timeline: Vec::new(),
        },
    ];
    let mut one_way = 0u32;
    loop {
        let outboxes = [drain(&mut sides[0]), drain(&mut sides[1])];
        if sides.iter().all(|side| side.report.is_some()) {
            break;
        }
        if outboxes.iter().all(Vec::is_empty) {
            bail!("stalled after {one_way} one-way trips: nothing in flight, a session unfinished");
        }
        one_way += 1;
        if one_way > MAX_ONE_WAY {
            bail!("livelock: no end after {one_way} one-way trips");
        }
        for (from, bytes) in outboxes.iter().enumerate() {
            sides[from].tally(bytes)?;
            if !bytes.is_empty() {
                sides[1 - from]
                    .session
                    .handle_input(Instant::now(), Input::Received(bytes));
            }
        }
    }
    let wall = start.elapsed();
    let mut details = Vec::new();
    for (name, side) in ["A", "B"].iter().zip(&sides) {
        let spent: Vec<String> = side
            .storage_time
            .iter()
            .map(|(kind, (count, time))| {
                format!("{kind} {count}x {:.0} ms", time.as_secs_f64() * 1e3)
            })
            .collect();
        details.push(format!("storage {name}: {}", spent.join(", ")));
        let frames: Vec<String> = side
            .frames
            .iter()
            .map(|(frame, (count, bytes))| format!("{frame} {count}x {bytes} B"))
            .collect();
        details.push(format!("sent by {name}: {}", frames.join(", ")));
        if side.timeline.len() <= 12 {
            let timeline: Vec<String> = side
                .timeline
                .iter()
                .map(|names| names.iter().copied().collect::<Vec<_>>().join("+"))
                .map(|names| {
                    if names.is_empty() {
                        "-".to_string()
                    } else {
                        names
                    }
                })
                .collect();
            details.push(format!("{name} per one-way trip: {}", timeline.join(" | ")));
        }
    }
    let [a_side, b_side] = sides;
    let (Some(a), Some(b)) = (a_side.report, b_side.report) else {
        bail!("a session ended without a report");
    };
    if !(a.outcome.is_in_sync() && b.outcome.is_in_sync()) {
        bail!("kafo sync failed: {:?} / {:?}", a.outcome, b.outcome);
    }
    Ok(Measured {
        bytes_ab: a.bytes_sent,
        bytes_ba: b.bytes_sent,
        messages_ab: a.frames_sent,
        messages_ba: b.frames_sent,
        one_way,
        report_round_trips: Some(a.round_trips.max(b.round_trips)),
        docs_moved: a.docs_received + b.docs_received,
        wall,
        peak_rss: 0,
        details,
    })
}

/// Drains a session: storage on its real store at once, the peer authorized with the
/// default share; returns what it transmitted.
fn drain(side: &mut Side<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(output) = side.session.poll_output() {
        match output {
            Output::Transmit(bytes) => out.extend_from_slice(&bytes),
            Output::Storage(request) => {
                let kind = kind(&request.work);
                let started = Instant::now();
                let reply = execute(request, &mut side.storage);
                let spent = side.storage_time.entry(kind).or_default();
                spent.0 += 1;
                spent.1 += started.elapsed();
                side.session
                    .handle_input(Instant::now(), Input::Storage(reply));
            }
            Output::SetTimer(_) => {}
            // Revocations disclosed by a trusted peer: nothing to learn here.
            Output::Event(Event::PeerDisclosed(_)) => {}
            Output::Event(Event::PeerHello(_)) => {
                let share = side.session.default_share().unwrap_or_default();
                side.session
                    .handle_input(Instant::now(), Input::Authorize { share });
            }
            Output::Event(Event::Finished(report)) => side.report = Some(report),
        }
    }
    out
}
