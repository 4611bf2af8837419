//! One scenario, one scale, one seed: one run. Twice the same metrics, the same event
//! trace and byte-identical files; another seed, another run.

mod common;

use std::path::Path;

use kafo_sim::{RunOptions, simulate};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("output directory exists")
        .map(|entry| {
            let path = entry.expect("readable entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&path).expect("readable file"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_same_seed_gives_the_same_run_and_the_same_files() {
    // The lossy scenario draws on every random stream: losses, cuts, crashes, bridges.
    let scenario = common::scenario("lossy-meetup");
    let options = RunOptions::new(7, scenario.ci_scale);
    let first = simulate(&scenario, &options).expect("the scenario runs");
    let second = simulate(&scenario, &options).expect("the scenario runs");
    assert_eq!(first.metrics, second.metrics);
    assert_eq!(first.metrics.trace.hash.len(), 64);
    assert!(first.metrics.trace.events > 100);

    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    first.write(a.path()).expect("files are written");
    second.write(b.path()).expect("files are written");
    let (a, b) = (files(a.path()), files(b.path()));
    let names: Vec<&str> = a.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "metrics.json",
        "devices.csv",
        "sessions.csv",
        "freshness.csv",
        "latency.csv",
        "meetups.csv",
        "summary.txt",
        "latency.svg",
        "freshness.svg",
        "traffic.svg",
        "sessions.svg",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(a.len(), b.len());
    for ((name, first), (_, second)) in a.iter().zip(&b) {
        assert!(
            first == second,
            "two runs of one seed wrote different {name}"
        );
    }
}

#[test]
fn another_seed_gives_another_run() {
    let scenario = common::scenario("sikoro-week");
    let run = |seed| {
        simulate(&scenario, &RunOptions::new(seed, scenario.ci_scale))
            .expect("the scenario runs")
            .metrics
    };
    let (one, two) = (run(1), run(2));
    assert_ne!(one.trace.hash, two.trace.hash);
    assert_ne!(one.visits.latency_hours, two.visits.latency_hours);
}
