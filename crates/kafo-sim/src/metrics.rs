//! The figures of a run, as `metrics.json` and CSV series.
//!
//! Everything here is a function of the scenario, the scale and the seed: no wall-clock
//! time, no paths, so that two runs of one seed write identical files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::collect::{Collector, Purpose};
use crate::invariants::Violations;
use crate::time::{HOUR, SECOND};
use crate::world::{Role, World};

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The scale.
    pub scale: f64,
    /// Hours simulated, to the close of the last meetup.
    pub simulated_hours: f64,
    /// Areas.
    pub areas: u64,
    /// Households.
    pub households: u64,
    /// Devices by role.
    pub devices: BTreeMap<String, u64>,
    /// Visits.
    pub visits: VisitMetrics,
    /// Sessions.
    pub sessions: SessionMetrics,
    /// Chance encounters.
    pub encounters: EncounterMetrics,
    /// Traffic by role.
    pub traffic: BTreeMap<String, RoleTraffic>,
    /// Memory estimate by role.
    pub memory: BTreeMap<String, RoleMemory>,
    /// Device crashes.
    pub crashes: u64,
    /// Every meetup instance.
    pub meetups: Vec<MeetupMetrics>,
    /// Whether the invariants held.
    pub invariants: InvariantMetrics,
    /// The event trace.
    pub trace: TraceMetrics,
}

/// Median, 95th percentile, maximum and mean of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Spread {
    /// Median (nearest rank).
    pub median: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Maximum.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Spread {
    /// The spread of `values` (all zero when empty).
    pub fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let rank =
            |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Self {
            median: round(rank(0.5)),
            p95: round(rank(0.95)),
            max: round(values[values.len() - 1]),
            mean: round(values.iter().sum::<f64>() / values.len() as f64),
        }
    }
}

/// Visits recorded and how long they took to reach the supervisor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitMetrics {
    /// Visits recorded on CHW phones.
    pub recorded: u64,
    /// Of those, visits that reached their area's supervisor.
    pub reached_supervisor: u64,
    /// Hours from recording to reaching the supervisor.
    pub latency_hours: Spread,
}

/// Sessions, by outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionMetrics {
    /// Sessions opened.
    pub total: u64,
    /// Both sides ended in sync.
    pub in_sync: u64,
    /// Not.
    pub failed: u64,
    /// Failures by the failing side's outcome.
    pub failures: BTreeMap<String, u64>,
    /// Sessions at meetups.
    pub at_meetups: u64,
    /// Sessions in chance encounters.
    pub in_encounters: u64,
    /// Sessions by link kind.
    pub by_link: BTreeMap<String, u64>,
    /// Sessions whose stream a broken bridge corrupted (exempt from the round-trip
    /// bound).
    pub corrupted_streams: u64,
    /// Round trips of the busier side, sessions in sync.
    pub round_trips: Spread,
    /// Seconds from opening to both sides over, sessions in sync.
    pub duration_seconds: Spread,
}

/// Chance encounters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EncounterMetrics {
    /// Encounters of two devices that were up.
    pub total: u64,
    /// That opened a session.
    pub sessions: u64,
    /// Between devices sharing no scope.
    pub nothing_to_share: u64,
    /// Between devices with nothing new to each other.
    pub already_in_sync: u64,
    /// With no session slot free.
    pub busy: u64,
}

/// Traffic of the devices of one role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleTraffic {
    /// Devices.
    pub devices: u64,
    /// Bytes they sent.
    pub bytes_sent: u64,
    /// Bytes they received.
    pub bytes_received: u64,
    /// Bytes they put on the air (headers, retransmissions, duplicates).
    pub bytes_on_air: u64,
    /// Bytes sent per device.
    pub bytes_sent_per_device: Spread,
    /// Seconds of airtime per device.
    pub airtime_seconds_per_device: Spread,
}

/// Memory estimate of the devices of one role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleMemory {
    /// Peak estimate per device, bytes.
    pub peak_bytes: Spread,
    /// The bound, bytes (`null` if unbounded).
    pub bound_bytes: Option<u64>,
}

/// One meetup instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeetupMetrics {
    /// Its name.
    pub name: String,
    /// Its area, or `district`.
    pub area: String,
    /// Its day (1-based).
    pub day: u32,
    /// Share of households fresh at their supervisor when it opened.
    pub fresh_at_open: f64,
    /// ... and when it closed.
    pub fresh_at_close: f64,
    /// Sessions in sync.
    pub sessions_in_sync: u64,
    /// Sessions failed.
    pub sessions_failed: u64,
}

/// The invariants' verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantMetrics {
    /// Whether all held.
    pub held: bool,
    /// Violations found.
    pub violations: u64,
    /// The first ones.
    pub first: Vec<String>,
}

/// The trace of processed events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceMetrics {
    /// Events processed.
    pub events: u64,
    /// SHA-256 of the trace.
    pub hash: String,
}

/// What the metrics are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) scenario: &'a str,
    pub(crate) seed: u64,
    pub(crate) scale: f64,
    pub(crate) world: &'a World,
    pub(crate) collector: &'a Collector,
    pub(crate) violations: &'a Violations,
    pub(crate) horizon_hours: f64,
    pub(crate) memory_bounds: [Option<u64>; 4],
    pub(crate) events: u64,
    pub(crate) trace_hash: &'a str,
}

impl Metrics {
    pub(crate) fn compute(inputs: &Inputs<'_>) -> Self {
        let (world, collector) = (inputs.world, inputs.collector);
        let mut devices = BTreeMap::new();
        for device in &world.devices {
            *devices.entry(device.role.name().to_string()).or_insert(0) += 1;
        }
        let latencies: Vec<f64> = collector
            .recorded
            .iter()
            .zip(&collector.reached)
            .filter_map(|(recorded, reached)| Some(reached.as_ref()?.since(*recorded.as_ref()?)))
            .map(|micros| micros as f64 / HOUR as f64)
            .collect();
        let visits = VisitMetrics {
            recorded: collector.recorded.iter().flatten().count() as u64,
            reached_supervisor: latencies.len() as u64,
            latency_hours: Spread::of(latencies),
        };
        let synced: Vec<_> = collector.sessions.iter().filter(|s| s.in_sync()).collect();
        let mut by_link = BTreeMap::new();
        for session in &collector.sessions {
            *by_link.entry(session.link.name().to_string()).or_insert(0) += 1;
        }
        let sessions = SessionMetrics {
            total: collector.sessions.len() as u64,
            in_sync: synced.len() as u64,
            failed: (collector.sessions.len() - synced.len()) as u64,
            failures: collector.failures_by_kind(),
            at_meetups: collector
                .sessions
                .iter()
                .filter(|s| matches!(s.purpose, Purpose::Meetup(_)))
                .count() as u64,
            in_encounters: collector
                .sessions
                .iter()
                .filter(|s| s.purpose == Purpose::Encounter)
                .count() as u64,
            by_link,
            corrupted_streams: collector.sessions.iter().filter(|s| s.corrupted).count() as u64,
            round_trips: Spread::of(
                synced
                    .iter()
                    .map(|s| f64::from(s.ends[0].round_trips.max(s.ends[1].round_trips)))
                    .collect(),
            ),
            duration_seconds: Spread::of(
                synced
                    .iter()
                    .map(|s| s.closed.since(s.opened) as f64 / SECOND as f64)
                    .collect(),
            ),
        };
        let counts = collector.encounters;
        let encounters = EncounterMetrics {
            total: counts.total,
            sessions: counts.sessions,
            nothing_to_share: counts.nothing_to_share,
            already_in_sync: counts.already_in_sync,
            busy: counts.busy,
        };
        let mut traffic = BTreeMap::new();
        let mut memory = BTreeMap::new();
        for (role, bound) in [Role::Chw, Role::Supervisor, Role::Relay, Role::District]
            .into_iter()
            .zip(inputs.memory_bounds)
        {
            let stats: Vec<_> = world
                .devices
                .iter()
                .zip(&collector.devices)
                .filter(|(device, _)| device.role == role)
                .map(|(_, stats)| stats)
                .collect();
            if stats.is_empty() {
                continue;
            }
            let sum = |field: fn(&crate::collect::DeviceStats) -> u64| {
                stats.iter().map(|s| field(s)).sum()
            };
            traffic.insert(
                role.name().to_string(),
                RoleTraffic {
                    devices: stats.len() as u64,
                    bytes_sent: sum(|s| s.bytes_sent),
                    bytes_received: sum(|s| s.bytes_received),
                    bytes_on_air: sum(|s| s.bytes_on_air),
                    bytes_sent_per_device: Spread::of(
                        stats.iter().map(|s| s.bytes_sent as f64).collect(),
                    ),
                    airtime_seconds_per_device: Spread::of(
                        stats
                            .iter()
                            .map(|s| s.airtime as f64 / SECOND as f64)
                            .collect(),
                    ),
                },
            );
            memory.insert(
                role.name().to_string(),
                RoleMemory {
                    peak_bytes: Spread::of(stats.iter().map(|s| s.memory_peak as f64).collect()),
                    bound_bytes: bound,
                },
            );
        }
        let meetups = collector
            .meetups
            .iter()
            .map(|meetup| MeetupMetrics {
                name: meetup.name.clone(),
                area: meetup.area.clone(),
                day: meetup.day,
                fresh_at_open: round(meetup.fresh_at_open),
                fresh_at_close: round(meetup.fresh_at_close),
                sessions_in_sync: meetup.sessions_in_sync,
                sessions_failed: meetup.sessions_failed,
            })
            .collect();
        Self {
            scenario: inputs.scenario.to_string(),
            seed: inputs.seed,
            scale: inputs.scale,
            simulated_hours: round(inputs.horizon_hours),
            areas: world.areas.len() as u64,
            households: world.households.len() as u64,
            devices,
            visits,
            sessions,
            encounters,
            traffic,
            memory,
            crashes: collector.devices.iter().map(|s| s.crashes).sum(),
            meetups,
            invariants: InvariantMetrics {
                held: inputs.violations.is_empty(),
                violations: inputs.violations.count,
                first: inputs
                    .violations
                    .kept
                    .iter()
                    .take(20)
                    .map(ToString::to_string)
                    .collect(),
            },
            trace: TraceMetrics {
                events: inputs.events,
                hash: inputs.trace_hash.to_string(),
            },
        }
    }
}

/// Rounds to 4 decimals, so that files read well and stay stable.
fn round(value: f64) -> f64 {
    if value.is_finite() {
        (value * 10_000.0).round() / 10_000.0
    } else {
        0.0
    }
}

/// `devices.csv`: one row per device.
pub(crate) fn devices_csv(world: &World, collector: &Collector) -> String {
    let mut out = String::from(
        "device,role,bytes_sent,bytes_received,bytes_on_air,airtime_s,sessions_in_sync,sessions_failed,crashes,memory_peak_bytes\n",
    );
    for (device, stats) in world.devices.iter().zip(&collector.devices) {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{:.3},{},{},{},{}",
            device.name,
            device.role.name(),
            stats.bytes_sent,
            stats.bytes_received,
            stats.bytes_on_air,
            stats.airtime as f64 / SECOND as f64,
            stats.sessions_in_sync,
            stats.sessions_failed,
            stats.crashes,
            stats.memory_peak
        );
    }
    out
}

/// `sessions.csv`: one row per session.
pub(crate) fn sessions_csv(world: &World, collector: &Collector) -> String {
    let mut out = String::from(
        "opened_h,closed_h,a,b,link,purpose,outcome_a,outcome_b,bytes_a,bytes_b,round_trips_a,round_trips_b,docs_received_a,docs_received_b,corrupted\n",
    );
    for session in &collector.sessions {
        let [a, b] = session.devices;
        let purpose = match session.purpose {
            Purpose::Meetup(_) => "meetup",
            Purpose::Encounter => "encounter",
        };
        let _ = writeln!(
            out,
            "{:.4},{:.4},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            session.opened.as_hours_f64(),
            session.closed.as_hours_f64(),
            world.devices[a].name,
            world.devices[b].name,
            session.link.name(),
            purpose,
            session.ends[0].outcome,
            session.ends[1].outcome,
            session.bytes[0],
            session.bytes[1],
            session.ends[0].round_trips,
            session.ends[1].round_trips,
            session.ends[0].docs_received,
            session.ends[1].docs_received,
            session.corrupted,
        );
    }
    out
}

/// `freshness.csv`: hourly share of households fresh at their supervisor, per area.
pub(crate) fn freshness_csv(world: &World, collector: &Collector) -> String {
    let mut out = String::from("hour,area,fresh_share\n");
    for (at, shares) in &collector.freshness {
        for (area, share) in world.areas.iter().zip(shares) {
            let _ = writeln!(out, "{:.0},{},{:.4}", at.as_hours_f64(), area.id, share);
        }
    }
    out
}

/// `latency.csv`: visits by hours from recording to the supervisor, in one-hour bins.
pub(crate) fn latency_csv(collector: &Collector) -> String {
    let mut bins: BTreeMap<u64, u64> = BTreeMap::new();
    for (recorded, reached) in collector.recorded.iter().zip(&collector.reached) {
        if let (Some(recorded), Some(reached)) = (recorded, reached) {
            *bins.entry(reached.since(*recorded) / HOUR).or_insert(0) += 1;
        }
    }
    let mut out = String::from("from_h,to_h,visits\n");
    for (bin, count) in bins {
        let _ = writeln!(out, "{bin},{},{count}", bin + 1);
    }
    out
}

/// `meetups.csv`: one row per meetup instance.
pub(crate) fn meetups_csv(metrics: &Metrics) -> String {
    let mut out = String::from(
        "meetup,area,day,fresh_at_open,fresh_at_close,sessions_in_sync,sessions_failed\n",
    );
    for meetup in &metrics.meetups {
        let _ = writeln!(
            out,
            "{},{},{},{:.4},{:.4},{},{}",
            meetup.name.replace(',', ";"),
            meetup.area,
            meetup.day,
            meetup.fresh_at_open,
            meetup.fresh_at_close,
            meetup.sessions_in_sync,
            meetup.sessions_failed
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_use_nearest_ranks() {
        let spread = Spread::of((1..=100).map(f64::from).collect());
        assert_eq!((spread.median, spread.p95, spread.max), (50.0, 95.0, 100.0));
        assert_eq!(spread.mean, 50.5);
        assert_eq!(Spread::of(vec![]), Spread::default());
        assert_eq!(Spread::of(vec![7.0]).p95, 7.0);
    }
}
