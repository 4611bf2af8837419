//! What the engine notes while it runs: per device traffic and memory, every session,
//! when each visit was recorded and reached its supervisor, and how fresh each area's
//! supervisor is. [`crate::metrics`] turns it into the published figures.

use std::collections::BTreeMap;

use crate::links::LinkKind;
use crate::time::SimTime;

/// Per device counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceStats {
    /// Bytes handed to the transport.
    pub bytes_sent: u64,
    /// Bytes received from the transport.
    pub bytes_received: u64,
    /// Bytes on the air (headers, retransmissions, duplicates).
    pub bytes_on_air: u64,
    /// Microseconds of airtime.
    pub airtime: u64,
    /// Sessions that ended in sync.
    pub sessions_in_sync: u64,
    /// Sessions that did not.
    pub sessions_failed: u64,
    /// Crashes.
    pub crashes: u64,
    /// Bytes sent and not yet delivered (the transport's share of session state).
    pub in_flight: u64,
    /// Peak of the memory estimate: stored bytes plus bytes in flight.
    pub memory_peak: u64,
}

/// Why a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
    /// At a meetup instance.
    Meetup(usize),
    /// A chance encounter in the field.
    Encounter,
}

/// How one side's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndReport {
    /// The outcome's kind (`in sync`, `timed out`, `connection lost` ...), or
    /// `crashed` when the device died under the session.
    pub outcome: &'static str,
    /// Whether it ended in sync.
    pub in_sync: bool,
    /// Round trips it counted.
    pub round_trips: u32,
    /// Bytes it received.
    pub bytes_received: u64,
    /// Documents it received.
    pub docs_received: u64,
    /// Changes new to its store.
    pub changes_received: u64,
}

/// One session (both sides), once over.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// When the connection was opened.
    pub opened: SimTime,
    /// When both sides were over.
    pub closed: SimTime,
    /// The two devices, dialer first.
    pub devices: [usize; 2],
    /// The link.
    pub link: LinkKind,
    /// Why.
    pub purpose: Purpose,
    /// Each side's end.
    pub ends: [EndReport; 2],
    /// Bytes each side sent.
    pub bytes: [u64; 2],
    /// Why the connection was cut, if it was.
    pub cut: Option<&'static str>,
    /// Whether a broken bridge dropped or repeated a chunk of its stream.
    pub corrupted: bool,
}

impl SessionRecord {
    /// Whether both sides ended in sync.
    pub fn in_sync(&self) -> bool {
        self.ends.iter().all(|end| end.in_sync)
    }

    /// Why it failed, in a word or three (`in sync` if it did not).
    pub fn failure(&self) -> String {
        let rank = |outcome: &str| match outcome {
            "crashed" => 0,
            "in sync" => 6,
            "peer closed" => 5,
            "connection lost" | "never started" => 4,
            "timed out" => 3,
            _ => 1,
        };
        let Some(end) = self.ends.iter().min_by_key(|end| rank(end.outcome)) else {
            return "unknown".to_string();
        };
        match (end.outcome, self.cut) {
            ("connection lost" | "never started", Some(cause)) => format!("cut: {cause}"),
            (outcome, _) => outcome.to_string(),
        }
    }
}

/// A meetup instance, as it went.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetupRecord {
    /// Its name.
    pub name: String,
    /// The area's name, or `district`.
    pub area: String,
    /// Its day (1-based).
    pub day: u32,
    /// Share of its households fresh at its supervisors when it opened.
    pub fresh_at_open: f64,
    /// ... and when it closed.
    pub fresh_at_close: f64,
    /// Sessions that ended in sync there.
    pub sessions_in_sync: u64,
    /// Sessions that did not.
    pub sessions_failed: u64,
}

/// Chance encounters, by what came of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncounterCounts {
    /// Every encounter of two devices that were up.
    pub total: u64,
    /// A session was opened.
    pub sessions: u64,
    /// The two devices share no scope.
    pub nothing_to_share: u64,
    /// Neither changed anything they share since they last synced.
    pub already_in_sync: u64,
    /// One of them had no session slot free, or they were already connected.
    pub busy: u64,
}

/// Everything noted during a run.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    /// Per device counters.
    pub devices: Vec<DeviceStats>,
    /// When each planned visit was recorded.
    pub recorded: Vec<Option<SimTime>>,
    /// When each planned visit reached its area's supervisor.
    pub reached: Vec<Option<SimTime>>,
    /// Every session.
    pub sessions: Vec<SessionRecord>,
    /// Hourly: share of households fresh at their supervisor, per area.
    pub freshness: Vec<(SimTime, Vec<f64>)>,
    /// Every meetup instance.
    pub meetups: Vec<MeetupRecord>,
    /// Chance encounters.
    pub encounters: EncounterCounts,
    household_behind: Vec<u32>,
    household_area: Vec<usize>,
    area_households: Vec<u64>,
    area_stale: Vec<u64>,
}

impl Collector {
    /// A collector for `devices` devices, `visits` planned visits and households in
    /// `household_area` (the area of each).
    pub fn new(devices: usize, visits: usize, household_area: Vec<usize>, areas: usize) -> Self {
        let mut area_households = vec![0; areas];
        for area in &household_area {
            if let Some(count) = area_households.get_mut(*area) {
                *count += 1;
            }
        }
        Self {
            devices: vec![DeviceStats::default(); devices],
            recorded: vec![None; visits],
            reached: vec![None; visits],
            household_behind: vec![0; household_area.len()],
            household_area,
            area_households,
            area_stale: vec![0; areas],
            ..Self::default()
        }
    }

    /// A visit to `household` was recorded.
    pub fn visit_recorded(&mut self, visit: usize, household: usize, at: SimTime) {
        if let Some(slot) = self.recorded.get_mut(visit) {
            *slot = Some(at);
        }
        if let Some(behind) = self.household_behind.get_mut(household) {
            if *behind == 0
                && let Some(stale) = self.area_stale.get_mut(self.household_area[household])
            {
                *stale += 1;
            }
            *behind += 1;
        }
    }

    /// A recorded visit reached its supervisor; `false` if it had already.
    pub fn visit_reached(&mut self, visit: usize, household: usize, at: SimTime) -> bool {
        let Some(slot) = self.reached.get_mut(visit) else {
            return false;
        };
        if slot.is_some() {
            return false;
        }
        *slot = Some(at);
        if let Some(behind) = self.household_behind.get_mut(household)
            && *behind > 0
        {
            *behind -= 1;
            if *behind == 0
                && let Some(stale) = self.area_stale.get_mut(self.household_area[household])
            {
                *stale -= 1;
            }
        }
        true
    }

    /// Share of an area's households whose supervisor holds every visit recorded so
    /// far (all areas when `area` is `None`).
    pub fn fresh_share(&self, area: Option<usize>) -> f64 {
        let (stale, total) = match area {
            Some(area) => (
                self.area_stale.get(area).copied().unwrap_or(0),
                self.area_households.get(area).copied().unwrap_or(0),
            ),
            None => (
                self.area_stale.iter().sum(),
                self.area_households.iter().sum(),
            ),
        };
        if total == 0 {
            1.0
        } else {
            1.0 - stale as f64 / total as f64
        }
    }

    /// Takes the hourly freshness sample.
    pub fn sample(&mut self, at: SimTime) {
        let shares = (0..self.area_households.len())
            .map(|area| self.fresh_share(Some(area)))
            .collect();
        self.freshness.push((at, shares));
    }

    /// Adds to a device's memory estimate's peak: `stored` bytes plus its bytes in flight.
    pub fn memory(&mut self, device: usize, stored: u64) {
        if let Some(stats) = self.devices.get_mut(device) {
            stats.memory_peak = stats.memory_peak.max(stored + stats.in_flight);
        }
    }

    /// Failed sessions by cause: the side nearest the cause (a crash, then a fault
    /// the protocol detected, then a timeout, then a lost connection with why it was
    /// cut, then the peer closing).
    pub fn failures_by_kind(&self) -> BTreeMap<String, u64> {
        let mut kinds = BTreeMap::new();
        for session in self.sessions.iter().filter(|session| !session.in_sync()) {
            let kind = session.failure();
            *kinds.entry(kind).or_insert(0) += 1;
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_recorded_and_reached_visits() {
        let mut collector = Collector::new(2, 3, vec![0, 0, 1], 2);
        assert_eq!(collector.fresh_share(None), 1.0);
        collector.visit_recorded(0, 0, SimTime(1));
        collector.visit_recorded(1, 0, SimTime(2));
        collector.visit_recorded(2, 2, SimTime(3));
        assert_eq!(collector.fresh_share(Some(0)), 0.5);
        assert_eq!(collector.fresh_share(Some(1)), 0.0);
        assert!(collector.visit_reached(0, 0, SimTime(4)));
        assert!(!collector.visit_reached(0, 0, SimTime(5)));
        assert_eq!(collector.fresh_share(Some(0)), 0.5);
        assert!(collector.visit_reached(1, 0, SimTime(6)));
        assert_eq!(collector.fresh_share(Some(0)), 1.0);
        assert!((collector.fresh_share(None) - 2.0 / 3.0).abs() < 1e-9);
    }
}
