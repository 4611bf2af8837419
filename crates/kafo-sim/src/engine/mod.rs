//! The discrete-event loop: a queue of events on the virtual clock, processed in
//! (time, insertion) order, each one driving the real protocol sessions, stores and
//! links it touches.
//!
//! Everything random comes from ChaCha8 streams derived from the seed, one per concern
//! (schedule, links, session nonces), and every processed event is hashed into the
//! trace, so one seed gives one run.

mod connection;
mod meetup;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use kafo_model::Scope;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::collect::Collector;
use crate::invariants::{Violation, Violations};
use crate::links::{LinkProfile, exponential};
use crate::plan::CalendarPlan;
use crate::scenario::Scenario;
use crate::storage::RecordVisitError;
use crate::time::{Clock, HOUR, Interval, MINUTE, SimTime};
use crate::world::{Role, World};

pub(crate) use connection::Connection;
use meetup::MeetupState;

/// Events processed before a run is declared a livelock.
const MAX_EVENTS: u64 = 2_000_000_000;

/// Streams of the seed, one per concern.
const STREAM_SCHEDULE: u64 = 1;
const STREAM_LINKS: u64 = 2;
const STREAM_SESSIONS: u64 = 3;

/// Something that happens at an instant.
#[derive(Debug)]
pub(crate) enum Event {
    /// A CHW records a planned visit.
    Record { visit: usize },
    /// A meetup instance opens.
    MeetupOpen { instance: usize },
    /// A device arrives at a meetup instance.
    Arrive { instance: usize, device: usize },
    /// A meetup instance closes: everyone leaves, connections are cut.
    MeetupClose { instance: usize },
    /// Pairs at a meetup are considered again (after a retry delay).
    Matchmake { instance: usize },
    /// Two devices cross paths in the field and stay in range `contact` microseconds.
    Encounter { a: usize, b: usize, contact: u64 },
    /// A connection is set up: both sessions start.
    Accept { conn: u64 },
    /// Bytes reach end `to` of a connection.
    Deliver {
        conn: u64,
        to: usize,
        sender: usize,
        bytes: Vec<u8>,
    },
    /// End `end`'s timer may be due.
    Timer { conn: u64, end: usize },
    /// The transport closed under end `end` (its peer's driver closed it).
    Closed { conn: u64, end: usize },
    /// The connection is cut.
    Cut { conn: u64, cause: CutCause },
    /// A device crashes.
    Crash { device: usize },
    /// A device is back.
    Restart { device: usize },
    /// Hourly freshness sample.
    Sample,
}

impl Event {
    /// A tag and fields for the trace hash.
    fn trace_fields(&self) -> [u64; 4] {
        match self {
            Self::Record { visit } => [1, *visit as u64, 0, 0],
            Self::MeetupOpen { instance } => [2, *instance as u64, 0, 0],
            Self::Arrive { instance, device } => [3, *instance as u64, *device as u64, 0],
            Self::MeetupClose { instance } => [4, *instance as u64, 0, 0],
            Self::Matchmake { instance } => [5, *instance as u64, 0, 0],
            Self::Encounter { a, b, contact } => [6, *a as u64, *b as u64, *contact],
            Self::Accept { conn } => [7, *conn, 0, 0],
            Self::Deliver {
                conn, to, bytes, ..
            } => [8, *conn, *to as u64, bytes.len() as u64],
            Self::Timer { conn, end } => [9, *conn, *end as u64, 0],
            Self::Closed { conn, end } => [10, *conn, *end as u64, 0],
            Self::Cut { conn, cause } => [11, *conn, *cause as u64, 0],
            Self::Crash { device } => [12, *device as u64, 0, 0],
            Self::Restart { device } => [13, *device as u64, 0, 0],
            Self::Sample => [14, 0, 0, 0],
        }
    }
}

/// Why a connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CutCause {
    /// The link's random cuts.
    Link,
    /// The two devices walked out of range.
    WalkedApart,
    /// The meetup closed.
    MeetupClosed,
    /// A packet was lost more often than the transport retransmits.
    Retransmissions,
}

impl CutCause {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Link => "link cut",
            Self::WalkedApart => "walked apart",
            Self::MeetupClosed => "meetup closed",
            Self::Retransmissions => "retransmissions exhausted",
        }
    }
}

/// A device's life during the run.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceState {
    pub(crate) down_until: Option<SimTime>,
    pub(crate) sessions: BTreeSet<u64>,
    pub(crate) at_meetup: Option<usize>,
}

/// What two devices know of each other.
#[derive(Debug, Clone)]
pub(crate) struct PairState {
    pub(crate) share: Vec<Scope>,
    pub(crate) synced: Option<(u64, u64)>,
    pub(crate) failures: u32,
    pub(crate) retry_at: SimTime,
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A planned visit could not be recorded.
    #[error("a planned visit could not be recorded: {0}")]
    Record(#[from] RecordVisitError),
}

/// The engine of one run.
pub(crate) struct Engine<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) plan: &'a CalendarPlan,
    pub(crate) world: World,
    pub(crate) clock: Clock,
    pub(crate) now: SimTime,
    queue: BTreeMap<(SimTime, u64), Event>,
    seq: u64,
    pub(crate) links: Vec<LinkProfile>,
    link_names: BTreeMap<String, usize>,
    pub(crate) conns: BTreeMap<u64, Connection>,
    pub(crate) next_conn: u64,
    pub(crate) states: Vec<DeviceState>,
    pub(crate) meetups: Vec<MeetupState>,
    pub(crate) pairs: BTreeMap<(usize, usize), PairState>,
    pub(crate) connected: BTreeSet<(usize, usize)>,
    pub(crate) schedule_rng: ChaCha8Rng,
    pub(crate) link_rng: ChaCha8Rng,
    pub(crate) session_rng: ChaCha8Rng,
    trace: Sha256,
    pub(crate) events: u64,
    pub(crate) collector: Collector,
    pub(crate) violations: Violations,
    error: Option<EngineError>,
}

/// What a finished run left.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) world: World,
    pub(crate) collector: Collector,
    pub(crate) violations: Violations,
    pub(crate) trace_hash: String,
    pub(crate) events: u64,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(
        scenario: &'a Scenario,
        plan: &'a CalendarPlan,
        world: World,
        seed: u64,
    ) -> Self {
        let stream = |label| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(label);
            rng
        };
        let link_names: BTreeMap<String, usize> = scenario
            .links
            .keys()
            .enumerate()
            .map(|(index, name)| (name.clone(), index))
            .collect();
        let collector = Collector::new(
            world.devices.len(),
            world.visits.len(),
            world
                .households
                .iter()
                .map(|household| household.area)
                .collect(),
            world.areas.len(),
        );
        let meetups = plan
            .meetups
            .iter()
            .map(|_| MeetupState::default())
            .collect();
        Self {
            scenario,
            plan,
            clock: Clock::new(Instant::now()),
            now: SimTime::ZERO,
            queue: BTreeMap::new(),
            seq: 0,
            links: scenario.links.values().cloned().collect(),
            link_names,
            conns: BTreeMap::new(),
            next_conn: 0,
            states: vec![DeviceState::default(); world.devices.len()],
            meetups,
            pairs: BTreeMap::new(),
            connected: BTreeSet::new(),
            schedule_rng: stream(STREAM_SCHEDULE),
            link_rng: stream(STREAM_LINKS),
            session_rng: stream(STREAM_SESSIONS),
            trace: Sha256::new(),
            events: 0,
            collector,
            violations: Violations::default(),
            error: None,
            world,
        }
    }

    /// Schedules the run, runs it to its end, and returns what it left.
    pub(crate) fn run(mut self) -> Result<Finished, EngineError> {
        self.schedule_all();
        while let Some(((at, _), event)) = self.queue.pop_first() {
            self.now = at;
            self.events += 1;
            if self.events > MAX_EVENTS {
                self.violations.push(Violation::Livelock {
                    events: self.events,
                });
                break;
            }
            let [tag, a, b, c] = event.trace_fields();
            for value in [at.0, tag, a, b, c] {
                self.trace.update(value.to_le_bytes());
            }
            self.handle(event);
            if let Some(error) = self.error.take() {
                return Err(error);
            }
        }
        let trace_hash = self
            .trace
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(Finished {
            world: self.world,
            collector: self.collector,
            violations: self.violations,
            trace_hash,
            events: self.events,
        })
    }

    pub(crate) fn schedule(&mut self, at: SimTime, event: Event) {
        let at = at.max(self.now);
        self.queue.insert((at, self.seq), event);
        self.seq += 1;
    }

    /// Hashes extra facts (session outcomes, sizes) into the trace.
    pub(crate) fn trace_note(&mut self, values: &[u64]) {
        for value in values {
            self.trace.update(value.to_le_bytes());
        }
    }

    pub(crate) fn link_index(&self, name: &str) -> usize {
        // Invariant: the scenario's check made every link name resolve.
        self.link_names.get(name).copied().unwrap_or_default()
    }

    pub(crate) fn is_up(&self, device: usize) -> bool {
        self.states[device].down_until.is_none()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Record { visit } => self.record(visit),
            Event::MeetupOpen { instance } => self.meetup_open(instance),
            Event::Arrive { instance, device } => self.arrive(instance, device),
            Event::MeetupClose { instance } => self.meetup_close(instance),
            Event::Matchmake { instance } => self.matchmake(instance),
            Event::Encounter { a, b, contact } => self.encounter(a, b, contact),
            Event::Accept { conn } => self.accept(conn),
            Event::Deliver {
                conn,
                to,
                sender,
                bytes,
            } => self.deliver(conn, to, sender, &bytes),
            Event::Timer { conn, end } => self.timer(conn, end),
            Event::Closed { conn, end } => self.closed(conn, end),
            Event::Cut { conn, cause } => self.cut(conn, cause),
            Event::Crash { device } => self.crash(device),
            Event::Restart { device } => self.restart(device),
            Event::Sample => {
                self.collector.sample(self.now);
                if self.now.plus(HOUR) <= self.plan.horizon {
                    self.schedule(self.now.plus(HOUR), Event::Sample);
                }
            }
        }
    }

    fn schedule_all(&mut self) {
        for index in 0..self.world.visits.len() {
            let at = self.world.visits[index].at;
            self.schedule(at, Event::Record { visit: index });
        }
        for (index, instance) in self.plan.meetups.iter().enumerate() {
            self.queue.insert(
                (instance.window.from, self.seq),
                Event::MeetupOpen { instance: index },
            );
            self.seq += 1;
            self.queue.insert(
                (instance.window.to, self.seq),
                Event::MeetupClose { instance: index },
            );
            self.seq += 1;
        }
        self.schedule_encounters();
        self.schedule_crashes();
        self.schedule(SimTime::ZERO, Event::Sample);
    }

    /// Chance encounters: in each area's field time, every pair of devices in the field
    /// meets at the scenario's rate; a Poisson process over the pairs.
    fn schedule_encounters(&mut self) {
        let Some(encounters) = self.scenario.encounters.clone() else {
            return;
        };
        let field_day: u64 = self
            .scenario
            .calendar
            .field_hours
            .iter()
            .map(|hours| hours.to.micros() - hours.from.micros())
            .sum();
        if encounters.per_pair_per_day <= 0.0 || field_day == 0 {
            return;
        }
        let [low, high] = encounters.contact_minutes;
        for area in 0..self.world.areas.len() {
            for day in 0..self.plan.days as usize {
                self.schedule_supervision(
                    area,
                    day,
                    encounters.supervision_visits_per_day,
                    [low, high],
                );
                let present = self.in_field(area, day);
                let n = present.len();
                if n < 2 {
                    continue;
                }
                let pairs = (n * (n - 1) / 2) as f64;
                let mean_gap = field_day as f64 / (encounters.per_pair_per_day * pairs);
                let intervals: Vec<Interval> = self.plan.field[area][day].clone();
                for interval in intervals {
                    let mut at = interval.from;
                    loop {
                        at = at.plus(exponential(mean_gap, &mut self.schedule_rng).max(1));
                        if at >= interval.to {
                            break;
                        }
                        let first = self.schedule_rng.random_range(0..n);
                        let mut second = self.schedule_rng.random_range(0..n - 1);
                        if second >= first {
                            second += 1;
                        }
                        let minutes = self.schedule_rng.random_range(low..=high);
                        let contact = (minutes * MINUTE as f64) as u64;
                        let (a, b) = (present[first], present[second]);
                        self.schedule(at, Event::Encounter { a, b, contact });
                    }
                }
            }
        }
    }

    /// Supervision visits: on a day in the field, the supervisor meets `visits` of her
    /// CHWs on purpose, at random moments of the field time.
    fn schedule_supervision(&mut self, area: usize, day: usize, visits: u32, contact: [f64; 2]) {
        if visits == 0 || !self.plan.supervising.get(day).copied().unwrap_or(false) {
            return;
        }
        let mut chws = self.world.areas[area].chws.clone();
        let supervisor = self.world.areas[area].supervisor;
        for _ in 0..(visits as usize).min(chws.len()) {
            let chw = chws.swap_remove(self.schedule_rng.random_range(0..chws.len()));
            let fraction: f64 = self.schedule_rng.random();
            let Some(at) = self.plan.field_instant(area, day as u32, fraction) else {
                return;
            };
            let minutes = self.schedule_rng.random_range(contact[0]..=contact[1]);
            let contact = (minutes * MINUTE as f64) as u64;
            self.schedule(
                at,
                Event::Encounter {
                    a: supervisor,
                    b: chw,
                    contact,
                },
            );
        }
    }

    /// Devices in an area's field on a day.
    fn in_field(&self, area: usize, day: usize) -> Vec<usize> {
        let devices = &self.world.areas[area];
        let mut present: Vec<usize> = devices.chws.clone();
        if self.plan.supervising.get(day).copied().unwrap_or(false) {
            present.push(devices.supervisor);
        }
        present.extend(
            devices
                .relays
                .iter()
                .copied()
                .filter(|relay| self.world.devices[*relay].walks_field),
        );
        present
    }

    fn schedule_crashes(&mut self) {
        let faults = self.scenario.faults;
        if faults.crash_per_device_hour <= 0.0 {
            return;
        }
        let mean = HOUR as f64 / faults.crash_per_device_hour;
        for device in 0..self.world.devices.len() {
            let mut at = SimTime::ZERO;
            loop {
                at = at.plus(exponential(mean, &mut self.schedule_rng).max(1));
                if at >= self.plan.horizon {
                    break;
                }
                self.schedule(at, Event::Crash { device });
            }
        }
    }

    fn record(&mut self, visit: usize) {
        let planned = &self.world.visits[visit];
        let household = planned.household;
        let owner = self.world.households[household].owner;
        if let Some(back) = self.states[owner].down_until {
            // The phone is rebooting: the CHW records the visit once it is back.
            self.schedule(back, Event::Record { visit });
            return;
        }
        let time = self.plan.unix_seconds(self.now);
        let id = self.world.households[household].id.clone();
        let storage = &mut self.world.devices[owner].storage;
        storage.now = self.now;
        if let Err(error) = storage.record_visit(&id, &planned.visit, time) {
            self.error = Some(error.into());
            return;
        }
        let stored = storage.stored_bytes();
        self.collector.visit_recorded(visit, household, self.now);
        self.collector.memory(owner, stored);
    }

    /// Visits new to a device: those that reached their area's supervisor are noted.
    pub(crate) fn on_arrivals(&mut self, device: usize, visits: Vec<String>) {
        if self.world.devices[device].role != Role::Supervisor {
            return;
        }
        for visit in visits {
            let Some(&index) = self.world.visit_index.get(&visit) else {
                continue;
            };
            let household = self.world.visits[index].household;
            let area = self.world.households[household].area;
            if self.world.areas[area].supervisor == device
                && self.collector.recorded[index].is_some()
            {
                self.collector.visit_reached(index, household, self.now);
            }
        }
    }

    fn crash(&mut self, device: usize) {
        if !self.is_up(device) {
            return;
        }
        let [low, high] = self.scenario.faults.reboot_minutes;
        let minutes = self.schedule_rng.random_range(low..=high);
        let back = self.now.plus(((minutes * MINUTE as f64) as u64).max(1));
        self.states[device].down_until = Some(back);
        self.collector.devices[device].crashes += 1;
        let sessions: Vec<u64> = std::mem::take(&mut self.states[device].sessions)
            .into_iter()
            .collect();
        for conn in sessions {
            self.lose_end(conn, device);
        }
        self.schedule(back, Event::Restart { device });
    }

    fn restart(&mut self, device: usize) {
        if self.states[device]
            .down_until
            .is_none_or(|back| back > self.now)
        {
            return;
        }
        self.states[device].down_until = None;
        if let Some(instance) = self.states[device].at_meetup
            && self.meetups[instance].open
        {
            self.matchmake(instance);
        }
    }
}
