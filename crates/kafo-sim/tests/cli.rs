//! The `kafo-sim` binary: files and summary on success; on an invariant failure, the
//! seed, the replay command and a non-zero exit.

mod common;

use std::process::Command;

#[test]
fn run_writes_the_results_and_prints_the_summary() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_kafo-sim"))
        .args([
            "run",
            &common::scenario_path("sikoro-week").to_string_lossy(),
        ])
        .args(["--seed", "3", "--scale", "0.05", "--out"])
        .arg(out.path())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sikoro-week · seed 3"), "{stdout}");
    assert!(stdout.contains("all hold"), "{stdout}");
    let metrics =
        std::fs::read_to_string(out.path().join("metrics.json")).expect("metrics written");
    let metrics: serde_json::Value = serde_json::from_str(&metrics).expect("valid json");
    assert_eq!(metrics["seed"], 3);
    assert_eq!(metrics["invariants"]["held"], true);
    assert!(out.path().join("latency.svg").exists());
}

#[test]
fn a_failed_invariant_prints_the_replay_command_and_exits_non_zero() {
    // The same scenario with a round-trip bound no session can meet.
    let text = std::fs::read_to_string(common::scenario_path("sikoro-week")).expect("readable");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("strict.toml");
    std::fs::write(
        &path,
        text.replace("max_round_trips = 24", "max_round_trips = 1"),
    )
    .expect("writable");
    let output = Command::new(env!("CARGO_BIN_EXE_kafo-sim"))
        .arg("run")
        .arg(&path)
        .args(["--seed", "5", "--scale", "0.05", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("with seed 5"), "{stderr}");
    assert!(
        stderr.contains("round trips, over the bound of 1"),
        "{stderr}"
    );
    let replay = format!(
        "replay: kafo-sim run {} --seed 5 --scale 0.05 --out",
        path.display()
    );
    assert!(stderr.contains(&replay), "{stderr}");

    let stress = Command::new(env!("CARGO_BIN_EXE_kafo-sim"))
        .arg("stress")
        .arg(&path)
        .args(["--seeds", "2", "--scale", "0.05", "--first-seed", "11"])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&stress.stderr);
    assert_eq!(stress.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--seed 11") && stderr.contains("--seed 12"),
        "{stderr}"
    );
}
