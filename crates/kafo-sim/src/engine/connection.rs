//! Connections: two real protocol sessions joined by a simulated link, driven by the
//! rule of the sans-IO core: after every input, drain the outputs.

use kafo_proto::storage::execute;
use kafo_proto::{Event as SessionEvent, Input, Output, Session, SessionReport};
use rand::Rng;

use super::{CutCause, Engine, Event, PairState};
use crate::collect::{EndReport, Purpose, SessionRecord};
use crate::invariants::Violation;
use crate::links::{Medium, cut_time};
use crate::time::{MINUTE, SECOND, SimTime};

/// Where a connection's bytes queue.
#[derive(Debug)]
pub(crate) enum MediumRef {
    /// The shared medium of a meetup instance.
    Shared(usize),
    /// Its own.
    Own(Medium),
}

/// One side of a connection.
#[derive(Debug)]
pub(crate) struct End {
    pub(crate) device: usize,
    pub(crate) session: Option<Session>,
    pub(crate) timer: Option<SimTime>,
    pub(crate) timer_queued: Option<SimTime>,
    pub(crate) report: Option<EndReport>,
}

impl End {
    fn new(device: usize) -> Self {
        Self {
            device,
            session: None,
            timer: None,
            timer_queued: None,
            report: None,
        }
    }
}

/// A connection between two devices.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) ends: [End; 2],
    pub(crate) link: usize,
    pub(crate) medium: MediumRef,
    pub(crate) purpose: Purpose,
    pub(crate) opened: SimTime,
    pub(crate) cut: Option<CutCause>,
    /// Per receiving end: when its latest chunk arrives (the stream is in order).
    pub(crate) last_arrival: [SimTime; 2],
    pub(crate) bytes: [u64; 2],
    /// The broken bridge dropped or repeated a chunk of its stream.
    pub(crate) corrupted: bool,
}

/// The order-independent key of a pair.
pub(crate) fn pair_key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn summarize(report: &SessionReport) -> EndReport {
    EndReport {
        outcome: report.outcome.kind(),
        in_sync: report.outcome.is_in_sync(),
        round_trips: report.round_trips,
        bytes_received: report.bytes_received,
        docs_received: report.docs_received,
        changes_received: report.changes_received,
    }
}

impl Engine<'_> {
    /// Opens a connection from `a` to `b` over link `link`; it is cut at `until`.
    pub(crate) fn open(
        &mut self,
        a: usize,
        b: usize,
        link: usize,
        purpose: Purpose,
        until: Option<SimTime>,
    ) {
        let id = self.next_conn;
        self.next_conn += 1;
        let profile = &self.links[link];
        let medium = match purpose {
            Purpose::Meetup(instance) if profile.shared => MediumRef::Shared(instance),
            _ => MediumRef::Own(Medium::default()),
        };
        let connect = profile.connect;
        let hazard = cut_time(profile, self.now, &mut self.link_rng);
        self.conns.insert(
            id,
            Connection {
                ends: [End::new(a), End::new(b)],
                link,
                medium,
                purpose,
                opened: self.now,
                cut: None,
                last_arrival: [self.now; 2],
                bytes: [0; 2],
                corrupted: false,
            },
        );
        self.states[a].sessions.insert(id);
        self.states[b].sessions.insert(id);
        self.connected.insert(pair_key(a, b));
        self.schedule(self.now.plus(connect), Event::Accept { conn: id });
        let faults = self.scenario.faults;
        if faults.crash_per_session > 0.0 {
            let window = (faults.crash_within_seconds * SECOND as f64) as u64;
            for device in [a, b] {
                if self.link_rng.random_bool(faults.crash_per_session) {
                    let at = self
                        .now
                        .plus(connect + self.link_rng.random_range(0..=window));
                    self.schedule(at, Event::Crash { device });
                }
            }
        }
        if let Some(at) = hazard {
            self.schedule(
                at,
                Event::Cut {
                    conn: id,
                    cause: CutCause::Link,
                },
            );
        }
        if let Some(at) = until {
            self.schedule(
                at,
                Event::Cut {
                    conn: id,
                    cause: CutCause::WalkedApart,
                },
            );
        }
    }

    /// The connection is up: both sessions start and send their hellos.
    pub(crate) fn accept(&mut self, id: u64) {
        for end in 0..2 {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            if conn.cut.is_some() || conn.ends[end].report.is_some() {
                continue;
            }
            let device = conn.ends[end].device;
            let config = self.world.devices[device].config.clone();
            let at = self.clock.instant(self.now);
            conn.ends[end].session = Some(Session::new(config, at, &mut self.session_rng));
            self.drive(id, end, None);
        }
    }

    pub(crate) fn deliver(&mut self, id: u64, to: usize, sender: usize, bytes: &[u8]) {
        let stats = &mut self.collector.devices[sender];
        stats.in_flight = stats.in_flight.saturating_sub(bytes.len() as u64);
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        if conn.cut.is_some() || conn.ends[to].session.is_none() {
            return;
        }
        let receiver = conn.ends[to].device;
        self.collector.devices[receiver].bytes_received += bytes.len() as u64;
        self.drive(id, to, Some(Input::Received(bytes)));
    }

    pub(crate) fn timer(&mut self, id: u64, end: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let side = &mut conn.ends[end];
        side.timer_queued = None;
        match side.timer {
            Some(at) if at <= self.now => {
                side.timer = None;
                self.drive(id, end, Some(Input::Timeout));
            }
            Some(at) => {
                side.timer_queued = Some(at);
                self.schedule(at, Event::Timer { conn: id, end });
            }
            None => {}
        }
    }

    pub(crate) fn closed(&mut self, id: u64, end: usize) {
        if self.conns.contains_key(&id) {
            self.drive(id, end, Some(Input::Closed));
        }
    }

    /// The link dies: both live sessions learn the transport closed.
    pub(crate) fn cut(&mut self, id: u64, cause: CutCause) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.cut.is_some() {
            return;
        }
        conn.cut = Some(cause);
        for side in conn.ends.iter_mut() {
            if side.session.is_none() && side.report.is_none() {
                // Cut before the connection was even set up.
                side.report = Some(lost());
            }
        }
        for end in 0..2 {
            self.drive(id, end, Some(Input::Closed));
        }
        self.finish_if_over(id);
    }

    /// A device crashed under a connection: its session is gone without a word; the
    /// peer learns only by its own timeout.
    pub(crate) fn lose_end(&mut self, id: u64, device: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        for side in conn.ends.iter_mut().filter(|side| side.device == device) {
            if side.report.is_none() {
                side.session = None;
                side.timer = None;
                side.report = Some(EndReport {
                    outcome: "crashed",
                    in_sync: false,
                    round_trips: 0,
                    bytes_received: 0,
                    docs_received: 0,
                    changes_received: 0,
                });
            }
        }
        self.finish_if_over(id);
    }

    /// Feeds one input (or none, for a new session) to an end, then drains its outputs.
    fn drive(&mut self, id: u64, end: usize, input: Option<Input<'_>>) {
        let now = self.now;
        let at = self.clock.instant(now);
        let clock = self.clock;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let device = conn.ends[end].device;
        let Some(session) = conn.ends[end].session.as_mut() else {
            return;
        };
        let storage = &mut self.world.devices[device].storage;
        storage.now = now;
        if let Some(input) = input {
            session.handle_input(at, input);
        }
        let mut transmits = Vec::new();
        let mut timer = None;
        let mut report = None;
        while let Some(output) = session.poll_output() {
            match output {
                Output::Transmit(bytes) => transmits.push(bytes),
                Output::Storage(request) => {
                    let reply = execute(request, storage);
                    session.handle_input(at, Input::Storage(reply));
                }
                Output::SetTimer(deadline) => timer = Some(clock.sim_time(deadline)),
                // Revocations disclosed by a trusted peer: nothing to learn here.
                Output::Event(SessionEvent::PeerDisclosed(_)) => {}
                Output::Event(SessionEvent::PeerHello(_)) => {
                    // Discovery already matched the scopes; the unauthenticated default
                    // shares exactly what both offer and accept.
                    let share = session.default_share().unwrap_or_default();
                    session.handle_input(at, Input::Authorize { share });
                }
                Output::Event(SessionEvent::Finished(finished)) => report = Some(finished),
            }
        }
        let arrivals = storage.take_arrivals();
        let stored = storage.stored_bytes();
        for bytes in transmits {
            self.transmit(id, end, bytes);
        }
        self.on_arrivals(device, arrivals);
        self.collector.memory(device, stored);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(report) = report {
            let side = &mut conn.ends[end];
            side.session = None;
            side.timer = None;
            side.report = Some(summarize(&report));
            let other = 1 - end;
            if conn.ends[other].report.is_none() && conn.cut.is_none() {
                // The driver closes the stream once the session is over: the peer sees
                // the end of the stream after the last bytes.
                let at = conn.last_arrival[other].max(now);
                self.schedule(
                    at,
                    Event::Closed {
                        conn: id,
                        end: other,
                    },
                );
            }
            self.finish_if_over(id);
            return;
        }
        if let Some(deadline) = timer {
            let side = &mut conn.ends[end];
            side.timer = Some(deadline);
            if side.timer_queued.is_none_or(|queued| deadline < queued) {
                side.timer_queued = Some(deadline);
                self.schedule(deadline, Event::Timer { conn: id, end });
            }
        }
    }

    /// Puts bytes from end `from` on the link.
    fn transmit(&mut self, id: u64, from: usize, bytes: Vec<u8>) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.cut.is_some() {
            return;
        }
        let profile = &self.links[conn.link];
        let medium = match &mut conn.medium {
            MediumRef::Own(medium) => medium,
            MediumRef::Shared(instance) => &mut self.meetups[*instance].medium,
        };
        let sent = medium.send(profile, now, bytes.len(), &mut self.link_rng);
        let sender = conn.ends[from].device;
        let len = bytes.len() as u64;
        conn.bytes[from] += len;
        let stats = &mut self.collector.devices[sender];
        stats.bytes_sent += len;
        stats.bytes_on_air += sent.bytes_on_air;
        stats.airtime += sent.airtime;
        let Some(arrives) = sent.arrives else {
            // A packet was lost too often: the transport gives up on the connection.
            let cause = CutCause::Retransmissions;
            self.schedule(sent.sent, Event::Cut { conn: id, cause });
            return;
        };
        if profile.stream_drop > 0.0 && self.link_rng.random_bool(profile.stream_drop) {
            conn.corrupted = true;
            return;
        }
        let copies = if profile.stream_duplicate > 0.0
            && self.link_rng.random_bool(profile.stream_duplicate)
        {
            2
        } else {
            1
        };
        conn.corrupted |= copies > 1;
        let to = 1 - from;
        let arrives = arrives.max(conn.last_arrival[to]);
        conn.last_arrival[to] = arrives;
        stats.in_flight += len * copies;
        if copies == 2 {
            let event = Event::Deliver {
                conn: id,
                to,
                sender,
                bytes: bytes.clone(),
            };
            self.schedule(arrives, event);
        }
        self.schedule(
            arrives,
            Event::Deliver {
                conn: id,
                to,
                sender,
                bytes,
            },
        );
    }

    fn finish_if_over(&mut self, id: u64) {
        let over = self
            .conns
            .get(&id)
            .is_some_and(|conn| conn.ends.iter().all(|end| end.report.is_some()));
        if over {
            self.finish(id);
        }
    }

    /// Both sides are over: the session is recorded, the pair's state updated, and the
    /// meetup (if any) looks for the next pairs.
    fn finish(&mut self, id: u64) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        let devices = [conn.ends[0].device, conn.ends[1].device];
        for device in devices {
            self.states[device].sessions.remove(&id);
        }
        self.connected.remove(&pair_key(devices[0], devices[1]));
        let [first, second] = conn.ends;
        let ends = [
            first.report.unwrap_or_else(lost),
            second.report.unwrap_or_else(lost),
        ];
        let base = self.scenario.invariants.max_round_trips;
        for (side, end) in ends.iter().enumerate() {
            let bound = round_trip_bound(base, end.bytes_received);
            // The bound is a promise between honest peers over a reliable stream; a
            // stream the broken bridge corrupted is the protocol's defences' business.
            if end.round_trips > bound && !conn.corrupted {
                self.violations.push(Violation::RoundTrips {
                    device: self.world.devices[devices[side]].name.clone(),
                    peer: self.world.devices[devices[1 - side]].name.clone(),
                    opened: conn.opened,
                    round_trips: end.round_trips,
                    bound,
                });
            }
        }
        let record = SessionRecord {
            opened: conn.opened,
            closed: self.now,
            devices,
            link: self.links[conn.link].kind,
            purpose: conn.purpose,
            ends,
            bytes: conn.bytes,
            cut: conn.cut.map(CutCause::name),
            corrupted: conn.corrupted,
        };
        let in_sync = record.in_sync();
        self.trace_note(&[
            id,
            u64::from(in_sync),
            conn.bytes[0],
            conn.bytes[1],
            u64::from(record.ends[0].round_trips),
            u64::from(record.ends[1].round_trips),
        ]);
        for device in devices {
            let stats = &mut self.collector.devices[device];
            if in_sync {
                stats.sessions_in_sync += 1;
            } else {
                stats.sessions_failed += 1;
            }
        }
        self.collector.sessions.push(record);
        let retry_at = self.update_pair(devices, in_sync);
        if let Purpose::Meetup(instance) = conn.purpose {
            let meetup = &mut self.meetups[instance];
            if in_sync {
                meetup.sessions_in_sync += 1;
            } else {
                meetup.sessions_failed += 1;
            }
            if meetup.open {
                self.matchmake(instance);
                if let Some(at) = retry_at {
                    self.schedule(at, Event::Matchmake { instance });
                }
            }
        }
    }

    /// Notes a session's end for the pair; returns when to retry after a failure.
    fn update_pair(&mut self, devices: [usize; 2], in_sync: bool) -> Option<SimTime> {
        let key = pair_key(devices[0], devices[1]);
        let versions = self.pair_versions(key);
        let pair = self.pairs.entry(key).or_insert_with(|| PairState {
            share: Vec::new(),
            synced: None,
            failures: 0,
            retry_at: SimTime::ZERO,
        });
        if in_sync {
            pair.synced = Some(versions);
            pair.failures = 0;
            return None;
        }
        pair.failures += 1;
        let backoff = (10 * SECOND) << pair.failures.min(5).saturating_sub(1);
        pair.retry_at = self.now.plus(backoff.min(5 * MINUTE));
        Some(pair.retry_at)
    }
}

/// The round trips one side may count: the scenario's bound, plus one per full
/// payload batch (128 KiB) it received, since each batch it acknowledges and then
/// receives the next of counts as one.
pub(crate) fn round_trip_bound(base: u32, bytes_received: u64) -> u32 {
    const BATCH: u64 = 128 * 1024;
    base.saturating_add(u32::try_from(bytes_received / BATCH).unwrap_or(u32::MAX))
}

fn lost() -> EndReport {
    EndReport {
        outcome: "never started",
        in_sync: false,
        round_trips: 0,
        bytes_received: 0,
        docs_received: 0,
        changes_received: 0,
    }
}
