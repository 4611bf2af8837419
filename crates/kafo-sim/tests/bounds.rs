//! The bounds are enforced: a device over its memory bound, a session over the
//! round-trip bound, each makes the run fail with the device named.

mod common;

use kafo_sim::{RunOptions, Scenario, Violation, simulate};

fn strict(from: &str, to: &str) -> Scenario {
    let text = std::fs::read_to_string(common::scenario_path("sikoro-week")).expect("readable");
    assert!(text.contains(from), "the scenario no longer has {from}");
    Scenario::parse(&text.replace(from, to)).expect("still a valid scenario")
}

#[test]
fn a_device_over_its_memory_bound_fails_the_run() {
    // 1 KB for a phone holding a caseload of documents: every CHW is over.
    let scenario = strict("chw = 2, supervisor = 64", "chw = 0.001, supervisor = 64");
    let run = simulate(&scenario, &RunOptions::new(1, scenario.ci_scale)).expect("runs");
    assert!(!run.held());
    let chws = run.metrics.devices["chw"];
    let over: Vec<&Violation> = run
        .violations
        .kept
        .iter()
        .filter(|violation| matches!(violation, Violation::Memory { device, .. } if device.contains("/chw-")))
        .collect();
    assert_eq!(over.len() as u64, chws, "{}", run.violations);
    assert!(!run.metrics.invariants.held);
}

#[test]
fn a_session_over_the_round_trip_bound_fails_the_run() {
    let scenario = strict("max_round_trips = 24", "max_round_trips = 2");
    let run = simulate(&scenario, &RunOptions::new(1, scenario.ci_scale)).expect("runs");
    assert!(run.violations.kept.iter().any(|violation| matches!(
        violation,
        Violation::RoundTrips { round_trips, bound: 2, .. } if *round_trips > 2
    )));
    // Everything else still holds: the data all arrived.
    assert_eq!(
        run.metrics.visits.reached_supervisor,
        run.metrics.visits.recorded
    );
}
