//! Two sync sessions over a simulated link, on a virtual clock, over any storage.
//!
//! Each side is a `kafo_proto::Session` and a [`SyncStorage`] (the real
//! `kafo::sync::StoreStorage` on a sled store, or the protocol's `MemoryStorage`).
//! Storage requests are executed at once with [`execute`]; each side's driver answers
//! the peer's hello with [`kafo_proto::default_share`] (scopes as configuration).
//! Every chunk a session transmits arrives one latency later. The link may die once a
//! number of bytes (both directions) was sent: the chunk crossing the limit arrives
//! cut short, nothing after it arrives, and both sides learn of the closure one latency
//! later. A run ends when both sessions have finished.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafo_proto::storage::{SyncStorage, execute};
use kafo_proto::{Event, Input, Output, Session, SessionConfig, SessionReport};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::device::Device;

/// One side of a run: how it is configured and where its documents live.
#[derive(Debug)]
pub struct Endpoint<'s, S> {
    /// Its session configuration.
    pub config: SessionConfig,
    /// Its store.
    pub storage: &'s mut S,
}

/// The simulated link.
#[derive(Debug, Clone)]
pub struct Link {
    /// One-way latency.
    pub latency: Duration,
    /// The connection dies once this many bytes (both directions) were sent.
    pub cut_after: Option<u64>,
    /// Steps (deliveries, timers, closures) after which a run is declared a livelock.
    pub max_steps: u64,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(50),
            cut_after: None,
            max_steps: 100_000,
        }
    }
}

impl Link {
    /// A link that dies after `bytes` bytes.
    pub fn cut_after(bytes: u64) -> Self {
        Self {
            cut_after: Some(bytes),
            ..Self::default()
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Run {
    /// The first side's report.
    pub a: SessionReport,
    /// The second side's report.
    pub b: SessionReport,
    /// Virtual time from the start to the last session's end.
    pub elapsed: Duration,
    /// The link's one-way latency.
    pub latency: Duration,
    /// Steps taken.
    pub steps: u64,
    /// Whether the link was cut.
    pub cut: bool,
}

impl Run {
    /// Whether both sides ended in sync.
    pub fn in_sync(&self) -> bool {
        self.a.outcome.is_in_sync() && self.b.outcome.is_in_sync()
    }

    /// Bytes both sides handed to the link.
    pub fn bytes(&self) -> u64 {
        self.a.bytes_sent + self.b.bytes_sent
    }

    /// Virtual time in round trips of the link.
    pub fn round_trips(&self) -> f64 {
        self.elapsed.as_secs_f64() / (2.0 * self.latency.as_secs_f64())
    }

    /// The larger of the two reports' round-trip counts.
    pub fn reported_round_trips(&self) -> u32 {
        self.a.round_trips.max(self.b.round_trips)
    }
}

/// Why a run did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// More steps than the link's bound.
    #[error("no end after {steps} steps: livelock")]
    Livelock {
        /// Steps taken.
        steps: u64,
    },
    /// Nothing left to happen, yet a session has not finished.
    #[error("nothing left to happen and a session is unfinished")]
    Stalled,
}

/// Syncs two devices on their real stores.
pub fn sync_devices(a: &Device, b: &Device, link: &Link, seed: u64) -> Result<Run, DriveError> {
    let mut a_storage = a.storage();
    let mut b_storage = b.storage();
    sync_pair(
        Endpoint {
            config: a.config(),
            storage: &mut a_storage,
        },
        Endpoint {
            config: b.config(),
            storage: &mut b_storage,
        },
        link,
        seed,
    )
}

#[derive(Debug)]
enum Happening {
    Deliver(usize, Vec<u8>),
    Timer(usize, Instant),
    Closed(usize),
}

struct Side {
    session: Session,
    report: Option<SessionReport>,
    ended_at: Option<Instant>,
    timer: Option<Instant>,
    timer_queued: Option<Instant>,
}

impl Side {
    fn new(session: Session) -> Self {
        Self {
            session,
            report: None,
            ended_at: None,
            timer: None,
            timer_queued: None,
        }
    }
}

/// Runs one session between `a` and `b` over `link`; both start at once. The sessions'
/// nonces come from `seed`.
pub fn sync_pair<A: SyncStorage, B: SyncStorage>(
    a: Endpoint<'_, A>,
    b: Endpoint<'_, B>,
    link: &Link,
    seed: u64,
) -> Result<Run, DriveError> {
    let base = Instant::now();
    let mut now = base;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sides = [
        Side::new(Session::new(a.config, now, &mut rng)),
        Side::new(Session::new(b.config, now, &mut rng)),
    ];
    let mut queue: BTreeMap<(Instant, u64), Happening> = BTreeMap::new();
    let mut seq = 0u64;
    let mut sent = 0u64;
    let mut cut = false;
    let mut steps = 0u64;
    loop {
        let mut transmits = [Vec::new(), Vec::new()];
        drain(&mut sides[0], a.storage, now, &mut transmits[0]);
        drain(&mut sides[1], b.storage, now, &mut transmits[1]);
        for (from, chunks) in transmits.into_iter().enumerate() {
            let side = &mut sides[from];
            if let Some(at) = side.timer
                && side.timer_queued != Some(at)
            {
                queue.insert((at, seq), Happening::Timer(from, at));
                seq += 1;
                side.timer_queued = Some(at);
            }
            for mut bytes in chunks {
                if cut {
                    break;
                }
                let room = link
                    .cut_after
                    .map_or(u64::MAX, |limit| limit - sent.min(limit));
                if bytes.len() as u64 > room {
                    bytes.truncate(room as usize);
                    cut = true;
                }
                sent += bytes.len() as u64;
                let arrival = now + link.latency;
                if !bytes.is_empty() {
                    queue.insert((arrival, seq), Happening::Deliver(1 - from, bytes));
                    seq += 1;
                }
                if cut {
                    for to in 0..2 {
                        queue.insert((arrival, seq), Happening::Closed(to));
                        seq += 1;
                    }
                }
            }
        }
        if sides.iter().all(|side| side.report.is_some()) {
            break;
        }
        steps += 1;
        if steps > link.max_steps {
            return Err(DriveError::Livelock { steps });
        }
        let Some(((at, _), happening)) = queue.pop_first() else {
            return Err(DriveError::Stalled);
        };
        now = now.max(at);
        match happening {
            Happening::Deliver(to, bytes) => {
                sides[to].session.handle_input(now, Input::Received(&bytes));
            }
            Happening::Timer(to, at) => {
                if sides[to].timer == Some(at) {
                    sides[to].session.handle_input(now, Input::Timeout);
                }
            }
            Happening::Closed(to) => sides[to].session.handle_input(now, Input::Closed),
        }
    }
    let end = sides
        .iter()
        .filter_map(|side| side.ended_at)
        .max()
        .unwrap_or(base);
    let [a_side, b_side] = sides;
    let (Some(a_report), Some(b_report)) = (a_side.report, b_side.report) else {
        return Err(DriveError::Stalled);
    };
    Ok(Run {
        a: a_report,
        b: b_report,
        elapsed: end.saturating_duration_since(base),
        latency: link.latency,
        steps,
        cut,
    })
}

/// Drains a session's outputs: storage runs at once, the peer's hello is answered with
/// the default share, transmits are collected, the latest timer is kept.
fn drain<S: SyncStorage>(
    side: &mut Side,
    storage: &mut S,
    now: Instant,
    transmits: &mut Vec<Vec<u8>>,
) {
    while let Some(output) = side.session.poll_output() {
        match output {
            Output::Transmit(bytes) => transmits.push(bytes),
            Output::Storage(request) => {
                let reply = execute(request, storage);
                side.session.handle_input(now, Input::Storage(reply));
            }
            Output::SetTimer(at) => side.timer = Some(at),
            // Revocations disclosed by a trusted peer: nothing to learn here.
            Output::Event(Event::PeerDisclosed(_)) => {}
            Output::Event(Event::PeerHello(_)) => {
                let share = side.session.default_share().unwrap_or_default();
                side.session.handle_input(now, Input::Authorize { share });
            }
            Output::Event(Event::Finished(report)) => {
                side.report = Some(report);
                side.ended_at = Some(now);
                side.timer = None;
            }
        }
    }
}
