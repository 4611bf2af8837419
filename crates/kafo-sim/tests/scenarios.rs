//! Every shipped scenario, at its CI scale, on each of its CI seeds: the invariants hold
//! and the run did what the scenario says.

mod common;

use kafo_sim::{RunOptions, Scenario, simulate};

fn run_ci(name: &str) -> Scenario {
    let scenario = common::scenario(name);
    assert!(!scenario.ci_seeds.is_empty());
    for &seed in &scenario.ci_seeds {
        let run = simulate(&scenario, &RunOptions::new(seed, scenario.ci_scale))
            .unwrap_or_else(|error| panic!("{name} seed {seed}: {error}"));
        assert!(
            run.held(),
            "{name} seed {seed}: invariants failed:\n{}replay: kafo-sim run {} --seed {seed} --scale {} --out out/{name}",
            run.violations,
            common::scenario_path(name).display(),
            scenario.ci_scale
        );
        let metrics = &run.metrics;
        assert!(metrics.visits.recorded > 0, "{name}: no visit recorded");
        // Recording stops before the last meetup, after which everything has arrived.
        assert_eq!(
            metrics.visits.reached_supervisor, metrics.visits.recorded,
            "{name}"
        );
        assert!(metrics.sessions.in_sync > 0, "{name}: no session in sync");
        assert_eq!(
            metrics.meetups.last().map(|m| m.fresh_at_close),
            Some(1.0),
            "{name}"
        );
        assert!(metrics.visits.latency_hours.max > 0.0);
    }
    scenario
}

#[test]
fn sikoro_week_holds_at_ci_scale() {
    let scenario = run_ci("sikoro-week");
    assert_eq!(scenario.program.chws_per_area, 57);
    assert_eq!(
        scenario.program.chws_per_area * scenario.program.households_per_chw,
        6_840
    );
}

#[test]
fn bluetooth_relay_holds_at_ci_scale() {
    let scenario = common::scenario("bluetooth-relay");
    let run = simulate(
        &scenario,
        &RunOptions::new(scenario.ci_seeds[0], scenario.ci_scale),
    )
    .expect("the scenario runs");
    // Only Bluetooth, and the supervisor never meets a CHW.
    assert_eq!(
        run.metrics.sessions.by_link.keys().collect::<Vec<_>>(),
        ["bluetooth"]
    );
    run_ci("bluetooth-relay");
}

#[test]
fn lossy_meetup_holds_at_ci_scale() {
    let scenario = run_ci("lossy-meetup");
    let run = simulate(
        &scenario,
        &RunOptions::new(scenario.ci_seeds[0], scenario.ci_scale),
    )
    .expect("the scenario runs");
    // The faults struck: devices crashed mid-session and the broken bridge corrupted
    // streams, yet nothing was lost.
    assert!(run.metrics.sessions.failed > 0);
    assert!(run.metrics.crashes > 0);
    let failures = &run.metrics.sessions.failures;
    assert!(failures.contains_key("crashed"), "{failures:?}");
}

#[test]
fn district_holds_at_ci_scale() {
    let scenario = run_ci("district");
    assert_eq!(scenario.program.areas, 10);
    assert!(scenario.program.areas * scenario.program.chws_per_area >= 500);
}

#[test]
fn every_scenario_file_is_shipped_and_tested() {
    let mut names: Vec<String> = std::fs::read_dir(common::simulations())
        .expect("simulations/ exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "toml" {
                return None;
            }
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut shipped: Vec<&str> = common::SCENARIOS.to_vec();
    shipped.sort_unstable();
    assert_eq!(names, shipped);
}
