//! The storage fault suite at small counts (the `storage-faults` binary runs it at
//! large ones): disk full before and during import, sync receive, visits with
//! compaction and open/close, and SIGKILL during each, on real stores through the
//! real `kafo` binary. Every store must open healthy with every acknowledged
//! record, and every operation must complete when run again.
//! `KAFO_FAULT_TRIALS=N` runs N of each kind (default 8).

use std::path::PathBuf;
use std::process::Command;

use kafo_bench::faults::trials::{Fault, Operation};
use kafo_bench::faults::{SuiteConfig, run_suite};

/// The `kafo` binary of this build (`target/<profile>/kafo`), built if missing.
fn kafo_binary() -> PathBuf {
    let me = std::env::current_exe().expect("the test binary's path");
    let profile_dir = me
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let kafo = profile_dir.join("kafo");
    if !kafo.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--locked", "-p", "kafo-cli", "--bin", "kafo"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the kafo binary");
    }
    kafo
}

#[test]
fn every_fault_leaves_a_healthy_store_with_every_acknowledged_record() {
    let trials: u32 = std::env::var("KAFO_FAULT_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    let config = SuiteConfig {
        kafo: kafo_binary(),
        disk_full_trials: trials,
        kill_trials: trials,
        seed: 11,
        base_households: 60,
        extra_households: 120,
    };
    let tally = run_suite(&config, |_, _, _| {}).expect("the suite runs");
    println!("{}", tally.table());
    assert!(tally.all_passed(), "{}", tally.table());

    // Every operation met each kind of fault, and the faults did hit.
    let disk_full = tally.total(|_, fault| fault != Fault::Kill);
    assert_eq!(disk_full.trials, trials);
    assert!(
        disk_full.fault_hit > 0,
        "some disk-full trials must really run out of space: {}",
        tally.table()
    );
    let kills = tally.total(|_, fault| fault == Fault::Kill);
    assert_eq!(kills.trials, trials);
    assert!(kills.fault_hit > 0, "some kills must land before the end");
    for operation in Operation::ALL {
        assert!(
            tally.total(|op, _| op == operation).trials > 0,
            "{} was faulted",
            operation.name()
        );
    }
}
