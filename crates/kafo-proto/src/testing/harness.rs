//! Two sans-IO sessions over a simulated link, on a virtual clock.
//!
//! The link delivers each transmitted chunk after a latency; with a seeded RNG it can
//! drop, duplicate or delay (reorder) chunks and cut the connection after some bytes.
//! Storage requests are executed at once on each peer's [`MemoryStorage`]. A peer may
//! speak only protocol version 1, and may disclose bytes when it authorizes the other. A run ends
//! when both sessions have finished; it fails if it takes more steps than a bound
//! (livelock) or if nothing is left to happen while a session is unfinished (stall).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafo_model::Scope;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::docs::test_actor;
use super::memory::MemoryStorage;
use crate::report::SessionReport;
use crate::session::{Event, Input, Limits, Output, Reveal, Session, SessionConfig};
use crate::storage::execute;
use crate::wire::{DeviceId, SUPPORTED_VERSIONS, VersionRange};

/// A device taking part in simulated syncs.
#[derive(Debug, Clone)]
pub struct Peer {
    /// A name for test messages.
    pub name: String,
    /// Its device id.
    pub device: DeviceId,
    /// Its store.
    pub storage: MemoryStorage,
    /// Scopes it offers.
    pub offers: Vec<Scope>,
    /// Scopes it accepts.
    pub accepts: Vec<Scope>,
    /// How its driver answers a peer's hello.
    pub policy: Policy,
    /// Its session limits.
    pub limits: Limits,
    /// Its reveal policy.
    pub reveal: Reveal,
    /// The protocol versions it speaks (all by default; `1..=1` for a version 1 peer).
    pub versions: VersionRange,
    /// What it discloses when it authorizes the other side (protocol version 2).
    pub disclose: Vec<u8>,
}

/// How a peer's driver authorizes the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// [`crate::default_share`].
    Default,
    /// Share exactly these scopes.
    Share(Vec<Scope>),
    /// Refuse every peer.
    Refuse,
}

impl Peer {
    /// A peer with an empty store; `index` picks its automerge actor and device id.
    ///
    /// Panics if a scope does not parse (test input).
    pub fn new(name: &str, index: u64, scopes: &[&str]) -> Self {
        let scopes: Vec<Scope> = scopes
            .iter()
            .map(|scope| {
                scope
                    .parse()
                    .unwrap_or_else(|_| panic!("test scope {scope:?} is valid"))
            })
            .collect();
        let mut device = name.as_bytes().to_vec();
        device.truncate(32);
        Self {
            name: name.to_string(),
            // Invariant: 32 bytes is under the device id limit.
            device: DeviceId::new(device).expect("32 bytes fit a device id"),
            storage: MemoryStorage::new(test_actor(index)),
            offers: scopes.clone(),
            accepts: scopes,
            policy: Policy::Default,
            limits: Limits::default(),
            reveal: Reveal::default(),
            versions: SUPPORTED_VERSIONS,
            disclose: Vec::new(),
        }
    }

    /// Starts its session.
    ///
    /// Panics if its versions are not supported (test input).
    fn session(&self, now: Instant, rng: &mut ChaCha8Rng) -> Session {
        Session::with_versions(self.config(), self.versions, now, rng)
            .unwrap_or_else(|| panic!("test versions {} are supported", self.versions))
    }

    fn config(&self) -> SessionConfig {
        SessionConfig {
            device: self.device.clone(),
            offers: self.offers.clone(),
            accepts: self.accepts.clone(),
            credentials: Vec::new(),
            reveal: self.reveal,
            limits: self.limits.clone(),
        }
    }
}

/// How the two sessions start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Both at once (e.g. `kafo sync --stdio` on both ends of a pipe).
    Together,
    /// The first peer dials; the second accepts the connection, and starts its session,
    /// one latency later.
    FirstDials,
}

/// The simulated link.
#[derive(Debug, Clone)]
pub struct Link {
    /// One-way latency.
    pub latency: Duration,
    /// Probability that a chunk is lost.
    pub drop: f64,
    /// Probability that a chunk is delivered twice.
    pub duplicate: f64,
    /// Probability that a chunk is delayed by up to two latencies (reordering it).
    pub reorder: f64,
    /// The connection dies once this many bytes (both directions) have been sent.
    pub cut_after: Option<u64>,
    /// How the sessions start.
    pub start: Start,
    /// Steps after which a run is declared a livelock.
    pub max_steps: u64,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(50),
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            cut_after: None,
            start: Start::Together,
            max_steps: 1_000_000,
        }
    }
}

impl Link {
    /// A perfect link.
    pub fn perfect() -> Self {
        Self::default()
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Run {
    /// The first peer's report.
    pub a: SessionReport,
    /// The second peer's report.
    pub b: SessionReport,
    /// Virtual time from start to the last session's end.
    pub elapsed: Duration,
    /// The link's one-way latency.
    pub latency: Duration,
    /// Events processed.
    pub steps: u64,
    /// Every byte the first peer handed to the link, in order (before faults).
    pub a_sent: Vec<u8>,
    /// Every byte the second peer handed to the link, in order (before faults).
    pub b_sent: Vec<u8>,
    /// What the first peer's session reported the second disclosed
    /// ([`crate::Event::PeerDisclosed`]), with the first peer's store write count then.
    pub a_disclosed: Option<(Vec<u8>, u64)>,
    /// What the second peer's session reported the first disclosed, likewise.
    pub b_disclosed: Option<(Vec<u8>, u64)>,
}

impl Run {
    /// Whether both sides ended in sync.
    pub fn in_sync(&self) -> bool {
        self.a.outcome.is_in_sync() && self.b.outcome.is_in_sync()
    }

    /// Elapsed virtual time in round trips of the link.
    pub fn round_trips(&self) -> f64 {
        self.elapsed.as_secs_f64() / (2.0 * self.latency.as_secs_f64())
    }

    /// Bytes sent by both sides.
    pub fn bytes(&self) -> u64 {
        self.a.bytes_sent + self.b.bytes_sent
    }
}

/// Why a run did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
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

#[derive(Debug)]
enum Happening {
    Start(usize),
    Deliver(usize, Vec<u8>),
    Timer(usize, Instant),
    Closed(usize),
}

struct Side<'p> {
    peer: &'p mut Peer,
    session: Option<Session>,
    report: Option<SessionReport>,
    ended_at: Option<Instant>,
    timer: Option<Instant>,
    timer_queued: Option<Instant>,
    disclosed: Option<(Vec<u8>, u64)>,
}

impl<'p> Side<'p> {
    fn new(peer: &'p mut Peer) -> Self {
        Self {
            peer,
            session: None,
            report: None,
            ended_at: None,
            timer: None,
            timer_queued: None,
            disclosed: None,
        }
    }
}

/// Runs one session between `a` and `b` over `link`, reproducibly from `seed`.
pub fn sync_pair(a: &mut Peer, b: &mut Peer, link: &Link, seed: u64) -> Result<Run, HarnessError> {
    let base = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sides = [Side::new(a), Side::new(b)];
    let mut queue: BTreeMap<(Instant, u64), Happening> = BTreeMap::new();
    let mut seq = 0u64;
    let mut sent_bytes = 0u64;
    let mut transcripts = [Vec::new(), Vec::new()];
    let mut cut = false;
    let mut now = base;
    sides[0].session = Some(sides[0].peer.session(now, &mut rng));
    match link.start {
        Start::Together => sides[1].session = Some(sides[1].peer.session(now, &mut rng)),
        Start::FirstDials => {
            queue.insert((now + link.latency, seq), Happening::Start(1));
            seq += 1;
        }
    }
    let mut steps = 0u64;
    loop {
        for index in 0..2 {
            let mut transmits = Vec::new();
            drain(&mut sides[index], now, &mut transmits);
            if let Some(at) = sides[index].timer
                && sides[index].timer_queued != Some(at)
            {
                queue.insert((at, seq), Happening::Timer(index, at));
                seq += 1;
                sides[index].timer_queued = Some(at);
            }
            for bytes in transmits {
                if cut {
                    continue;
                }
                transcripts[index].extend_from_slice(&bytes);
                sent_bytes += bytes.len() as u64;
                if link.cut_after.is_some_and(|limit| sent_bytes > limit) {
                    cut = true;
                    for to in 0..2 {
                        queue.insert((now + link.latency, seq), Happening::Closed(to));
                        seq += 1;
                    }
                    continue;
                }
                if rng.random_bool(link.drop) {
                    continue;
                }
                let copies = if rng.random_bool(link.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let extra = if rng.random_bool(link.reorder) {
                        link.latency.mul_f64(rng.random_range(0.0..2.0))
                    } else {
                        Duration::ZERO
                    };
                    queue.insert(
                        (now + link.latency + extra, seq),
                        Happening::Deliver(1 - index, bytes.clone()),
                    );
                    seq += 1;
                }
            }
        }
        if sides.iter().all(|side| side.report.is_some()) {
            break;
        }
        steps += 1;
        if steps > link.max_steps {
            return Err(HarnessError::Livelock { steps });
        }
        let Some(((at, _), happening)) = queue.pop_first() else {
            return Err(HarnessError::Stalled);
        };
        now = now.max(at);
        match happening {
            Happening::Start(to) => {
                sides[to].session = Some(sides[to].peer.session(now, &mut rng));
            }
            Happening::Deliver(to, bytes) => {
                if let Some(session) = sides[to].session.as_mut() {
                    session.handle_input(now, Input::Received(&bytes));
                }
            }
            Happening::Timer(to, at) => {
                if sides[to].timer == Some(at)
                    && let Some(session) = sides[to].session.as_mut()
                {
                    session.handle_input(now, Input::Timeout);
                }
            }
            Happening::Closed(to) => {
                if let Some(session) = sides[to].session.as_mut() {
                    session.handle_input(now, Input::Closed);
                }
            }
        }
    }
    let end = sides
        .iter()
        .filter_map(|side| side.ended_at)
        .max()
        .unwrap_or(base);
    let [a_sent, b_sent] = transcripts;
    let [a, b] = sides;
    let (a_disclosed, b_disclosed) = (a.disclosed, b.disclosed);
    let (Some(a), Some(b)) = (a.report, b.report) else {
        return Err(HarnessError::Stalled);
    };
    Ok(Run {
        a,
        b,
        elapsed: end.saturating_duration_since(base),
        latency: link.latency,
        steps,
        a_sent,
        b_sent,
        a_disclosed,
        b_disclosed,
    })
}

/// Drains a session's outputs: storage runs at once, hellos are answered by the policy,
/// transmits are collected, the latest timer is kept.
fn drain(side: &mut Side<'_>, now: Instant, transmits: &mut Vec<Vec<u8>>) {
    let Some(session) = side.session.as_mut() else {
        return;
    };
    while let Some(output) = session.poll_output() {
        match output {
            Output::Transmit(bytes) => transmits.push(bytes),
            Output::Storage(request) => {
                let reply = execute(request, &mut side.peer.storage);
                session.handle_input(now, Input::Storage(reply));
            }
            Output::SetTimer(at) => side.timer = Some(at),
            Output::Event(Event::PeerHello(_)) => {
                let share = match &side.peer.policy {
                    Policy::Refuse => None,
                    Policy::Share(share) => Some(share.clone()),
                    Policy::Default => Some(session.default_share().unwrap_or_default()),
                };
                let input = match share {
                    Some(share) => Input::AuthorizeWith {
                        share,
                        disclose: side.peer.disclose.clone(),
                    },
                    None => Input::Refuse,
                };
                session.handle_input(now, input);
            }
            Output::Event(Event::PeerDisclosed(bytes)) => {
                side.disclosed = Some((bytes, side.peer.storage.writes()));
            }
            Output::Event(Event::Finished(report)) => {
                side.report = Some(report);
                side.ended_at = Some(now);
                side.timer = None;
            }
        }
    }
    if side.report.is_some() {
        side.session = None;
    }
}
