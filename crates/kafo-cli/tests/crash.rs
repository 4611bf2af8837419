//! Crash test: a `kafo import` child process is killed with SIGKILL at random
//! moments. After each kill the store must open, and every household the import
//! reported as durable (its JSON progress events) must be present and complete.
//!
//! `KAFO_CRASH_TRIALS=N` runs more trials (stress mode); `KAFO_CRASH_SEED` changes the seed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kafo::model::HouseholdId;
use kafo::model::canonical;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use common::kafo;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn households_reported_durable_survive_sigkill() {
    let trials = env_number("KAFO_CRASH_TRIALS", 20);
    let seed = env_number("KAFO_CRASH_SEED", 20_261_122);
    let work = tempfile::tempdir().expect("temp dir");

    // A caseload large enough that an import takes a while: 10 CHWs x 120 households.
    let caseload = work.path().join("caseload.jsonl");
    let config = kafo_gen::GeneratorConfig {
        seed,
        chws: 10,
        ..kafo_gen::GeneratorConfig::default()
    };
    let file = std::fs::File::create(&caseload).expect("caseload file");
    let mut writer = std::io::BufWriter::new(file);
    kafo_gen::write_jsonl(&config, &mut writer).expect("caseload written");
    drop(writer);
    let lines: Vec<String> = std::fs::read_to_string(&caseload)
        .expect("caseload readable")
        .lines()
        .map(str::to_owned)
        .collect();

    // How long a full import takes here, to spread kill moments across it.
    let full = Instant::now();
    let dir = work.path().join("full");
    let status = kafo(&dir)
        .args(["import", "--progress", "none"])
        .arg(&caseload)
        .status()
        .expect("kafo runs");
    assert!(status.success());
    let full_import = full.elapsed();

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut partial_trials = 0;
    for trial in 0..trials {
        let dir = work.path().join(format!("trial-{trial}"));
        let kill_after =
            Duration::from_millis(rng.random_range(0..=full_import.as_millis() as u64 + 50));
        let mut child = kafo(&dir)
            .args(["import", "--progress", "json"])
            .arg(&caseload)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kafo runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::sleep(kill_after);
        // Child::kill sends SIGKILL on Unix.
        let _ = child.kill();
        let _ = child.wait();
        let _ = reader.join();

        let committed = receiver
            .try_iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
            .filter(|event| event["event"] == "committed")
            .filter_map(|event| event["committed"].as_u64())
            .max()
            .unwrap_or(0) as usize;
        if committed > 0 && committed < lines.len() {
            partial_trials += 1;
        }

        let node = kafo::Node::open(&dir)
            .unwrap_or_else(|e| panic!("trial {trial}: the store opens after SIGKILL: {e}"));
        let stored = node.status().expect("status").households as usize;
        assert!(
            stored >= committed,
            "trial {trial}: {stored} stored < {committed} reported durable"
        );
        for line in &lines[..committed] {
            let expected = kafo::model::parse::parse_line(line).expect("generated lines are valid");
            let id: &HouseholdId = &expected.id;
            let view = node.household(id).expect("readable").unwrap_or_else(|| {
                panic!("trial {trial}: a household reported durable is missing")
            });
            assert_eq!(
                canonical::to_line(&view.household).expect("canonical"),
                *line,
                "trial {trial}: a household reported durable is incomplete"
            );
        }
    }
    assert!(
        partial_trials * 4 >= trials as usize || trials < 8,
        "only {partial_trials} of {trials} kills landed mid-import: the test is not exercising crashes"
    );
}
