//! One run of a scenario: plan, build, simulate, check, measure; then write the files
//! and the summary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::charts::{ChartError, draw_all};
use crate::collect::Collector;
use crate::engine::{Engine, EngineError};
use crate::invariants::{Violation, Violations, check_final_state};
use crate::metrics::{self, Inputs, Metrics};
use crate::plan::{CalendarPlan, PlanError};
use crate::scenario::Scenario;
use crate::storage::{Sabotage, Sabotaged};
use crate::world::{BuildWorldError, Role, World};

/// How to run a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The seed: the caseload, the schedule, the links and the sessions derive from it.
    pub seed: u64,
    /// CHWs per area and households per CHW are multiplied by this (0 < scale <= 1).
    pub scale: f64,
    /// Test only: the first area's supervisor acknowledges one payload without storing it.
    pub sabotage: Option<Sabotage>,
}

impl RunOptions {
    /// A run at `seed` and `scale`, not sabotaged.
    pub fn new(seed: u64, scale: f64) -> Self {
        Self {
            seed,
            scale,
            sabotage: None,
        }
    }
}

/// Why a run could not be made (an invariant failing is not an error: see [`Run::held`]).
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The scale is not in (0, 1].
    #[error("scale {scale} is not in (0, 1]")]
    Scale {
        /// What was given.
        scale: f64,
    },
    /// The calendar cannot be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The world cannot be built.
    #[error(transparent)]
    Build(#[from] BuildWorldError),
    /// The run stopped.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Why a run's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteRunError {
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The metrics could not be serialized.
    #[error("cannot serialize the metrics: {0}")]
    Json(#[from] serde_json::Error),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] ChartError),
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    /// Its figures.
    pub metrics: Metrics,
    /// The invariants that did not hold.
    pub violations: Violations,
    /// What the sabotage dropped, if it struck.
    pub sabotaged: Option<Sabotaged>,
    world: World,
    collector: Collector,
}

/// Runs `scenario` with `options`.
pub fn simulate(scenario: &Scenario, options: &RunOptions) -> Result<Run, SimulateError> {
    if !(options.scale > 0.0 && options.scale <= 1.0) {
        return Err(SimulateError::Scale {
            scale: options.scale,
        });
    }
    let program = scenario.program.scaled(options.scale);
    let plan = CalendarPlan::new(scenario, program.areas as usize)?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut world = World::build(scenario, &program, &plan, options.seed, &mut rng)?;
    let saboteur = world.areas.first().map(|area| area.supervisor);
    if let (Some(sabotage), Some(device)) = (options.sabotage, saboteur) {
        world.devices[device].storage.sabotage(sabotage);
    }
    let finished = Engine::new(scenario, &plan, world, options.seed).run()?;
    let (world, collector, mut violations) =
        (finished.world, finished.collector, finished.violations);
    check_final_state(&world, &collector, plan.cutoff, &mut violations);
    let bounds = memory_bounds(scenario);
    for (device, stats) in world.devices.iter().zip(&collector.devices) {
        if let Some(bound) = bounds[role_index(device.role)]
            && stats.memory_peak > bound
        {
            violations.push(Violation::Memory {
                device: device.name.clone(),
                peak: stats.memory_peak,
                bound,
            });
        }
    }
    let metrics = Metrics::compute(&Inputs {
        scenario: &scenario.name,
        seed: options.seed,
        scale: options.scale,
        world: &world,
        collector: &collector,
        violations: &violations,
        horizon_hours: plan.horizon.as_hours_f64(),
        memory_bounds: bounds,
        events: finished.events,
        trace_hash: &finished.trace_hash,
    });
    let sabotaged = saboteur.and_then(|device| world.devices[device].storage.sabotaged().cloned());
    Ok(Run {
        metrics,
        violations,
        sabotaged,
        world,
        collector,
    })
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Chw => 0,
        Role::Supervisor => 1,
        Role::Relay => 2,
        Role::District => 3,
    }
}

fn memory_bounds(scenario: &Scenario) -> [Option<u64>; 4] {
    let bounds = scenario.invariants.max_memory_mb;
    let bytes = |mb: f64| mb.is_finite().then_some((mb * 1_000_000.0) as u64);
    [
        bytes(bounds.chw),
        bytes(bounds.supervisor),
        bytes(bounds.relay),
        bytes(bounds.district),
    ]
}

impl Run {
    /// Whether every invariant held.
    pub fn held(&self) -> bool {
        self.violations.is_empty()
    }

    /// Writes `metrics.json`, the CSV series, `summary.txt` and the SVG charts into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), WriteRunError> {
        std::fs::create_dir_all(dir).map_err(|source| WriteRunError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut json = serde_json::to_string_pretty(&self.metrics)?;
        json.push('\n');
        let files = [
            ("metrics.json", json),
            (
                "devices.csv",
                metrics::devices_csv(&self.world, &self.collector),
            ),
            (
                "sessions.csv",
                metrics::sessions_csv(&self.world, &self.collector),
            ),
            (
                "freshness.csv",
                metrics::freshness_csv(&self.world, &self.collector),
            ),
            ("latency.csv", metrics::latency_csv(&self.collector)),
            ("meetups.csv", metrics::meetups_csv(&self.metrics)),
            ("summary.txt", self.summary()),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| WriteRunError::Io { path, source })?;
        }
        draw_all(dir, &self.metrics.scenario, &self.world, &self.collector)?;
        Ok(())
    }

    /// The summary table.
    pub fn summary(&self) -> String {
        let m = &self.metrics;
        let mut out = String::new();
        let roles = m
            .devices
            .iter()
            .map(|(role, count)| format!("{count} {role}"))
            .collect::<Vec<_>>()
            .join(", ");
        let devices: u64 = m.devices.values().sum();
        let _ = writeln!(out, "{} · seed {} · scale {}", m.scenario, m.seed, m.scale);
        let mut row = |label: &str, text: String| {
            let _ = writeln!(out, "  {label:<11} {text}");
        };
        row(
            "devices",
            format!(
                "{devices} ({roles}) · {} households in {} area{}",
                m.households,
                m.areas,
                if m.areas == 1 { "" } else { "s" }
            ),
        );
        row(
            "simulated",
            format!(
                "{:.1} days · {} events",
                m.simulated_hours / 24.0,
                m.trace.events
            ),
        );
        row(
            "visits",
            format!(
                "{} recorded · {} reached their supervisor",
                m.visits.recorded, m.visits.reached_supervisor
            ),
        );
        let latency = m.visits.latency_hours;
        row(
            "latency",
            format!(
                "median {:.1} h · p95 {:.1} h · max {:.1} h",
                latency.median, latency.p95, latency.max
            ),
        );
        let failures = m
            .sessions
            .failures
            .iter()
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect::<Vec<_>>()
            .join(", ");
        row(
            "sessions",
            format!(
                "{} · {} in sync · {} failed{} · round trips median {:.0}, max {:.0} · duration median {:.1} s, max {:.1} s",
                m.sessions.total,
                m.sessions.in_sync,
                m.sessions.failed,
                if failures.is_empty() {
                    String::new()
                } else {
                    format!(" ({failures})")
                },
                m.sessions.round_trips.median,
                m.sessions.round_trips.max,
                m.sessions.duration_seconds.median,
                m.sessions.duration_seconds.max,
            ),
        );
        row(
            "encounters",
            format!(
                "{} · {} sessions · {} nothing to share · {} already in sync · {} busy",
                m.encounters.total,
                m.encounters.sessions,
                m.encounters.nothing_to_share,
                m.encounters.already_in_sync,
                m.encounters.busy
            ),
        );
        for (role, traffic) in &m.traffic {
            row(
                "traffic",
                format!(
                    "{role}: {} sent in all · per device median {}, max {} · airtime median {:.2} s, max {:.2} s",
                    bytes(traffic.bytes_sent as f64),
                    bytes(traffic.bytes_sent_per_device.median),
                    bytes(traffic.bytes_sent_per_device.max),
                    traffic.airtime_seconds_per_device.median,
                    traffic.airtime_seconds_per_device.max,
                ),
            );
        }
        for (role, memory) in &m.memory {
            let bound = memory
                .bound_bytes
                .map_or("none".to_string(), |b| bytes(b as f64));
            row(
                "memory",
                format!(
                    "{role}: peak median {}, max {} (bound {bound})",
                    bytes(memory.peak_bytes.median),
                    bytes(memory.peak_bytes.max)
                ),
            );
        }
        row("crashes", m.crashes.to_string());
        let fresh_last = m.meetups.iter().map(|meetup| meetup.fresh_at_close);
        let lowest = fresh_last.clone().fold(1.0f64, f64::min);
        row(
            "freshness",
            format!(
                "{} meetups · fresh at close: lowest {:.1}%, at the last {:.1}%",
                m.meetups.len(),
                lowest * 100.0,
                m.meetups
                    .last()
                    .map_or(100.0, |meetup| meetup.fresh_at_close * 100.0)
            ),
        );
        row(
            "invariants",
            if self.held() {
                "all hold".to_string()
            } else {
                format!("{} violations", self.violations.count)
            },
        );
        row("trace", m.trace.hash.chars().take(16).collect());
        out
    }
}

/// `12.3 MB`, `4.5 KB`, `17 B`.
fn bytes(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1} MB", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} KB", value / 1e3)
    } else {
        format!("{value:.0} B")
    }
}
