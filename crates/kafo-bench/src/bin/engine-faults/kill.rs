//! SIGKILL trials: kills during open, close, reads and durable imports.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use kafo_bench::copy_dir;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Caseload, Kafo, Outcome, acknowledged, path_str, prepare};

/// Households the store holds before a trial's kills.
const BASE: usize = 120;
/// Households each killed import tries to add.
const IMPORT: usize = 200;
/// Kills per trial, on the same store, before it is checked.
const KILLS: usize = 3;

/// What the trials found.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    outcome: Outcome,
    kills: u64,
    /// Kills that landed before the process finished on its own.
    landed: u64,
    /// Kills by what the process was doing: status, export, import.
    by_action: [u64; 3],
}

impl Figures {
    pub(crate) fn print(&self, engine: &str, seconds: f64) {
        println!(
            "\nSIGKILL, {engine}: {} trials of {KILLS} kills in {seconds:.0} s",
            self.outcome.trials
        );
        println!(
            "  kills (status / export / import)    {:>8} ({} / {} / {})",
            self.kills, self.by_action[0], self.by_action[1], self.by_action[2]
        );
        println!("  kills that landed mid-run           {:>8}", self.landed);
        self.outcome.print();
    }
}

/// What a killed process was doing.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// `kafo status`: open, count, close.
    Status,
    /// `kafo export`: open, read every household, close.
    Export,
    /// `kafo import`: open, durable batches, close.
    Import,
}

pub(crate) fn run(
    kafo: &Kafo,
    caseload: &Caseload,
    work: &Path,
    trials: u64,
    seed: u64,
) -> anyhow::Result<Figures> {
    let files = prepare(kafo, caseload, work, "kill-files", BASE)?;
    let imports: Vec<_> = (0..KILLS)
        .map(|step| {
            let start = BASE + step * IMPORT;
            caseload.write(
                &files,
                &format!("import-{step}.jsonl"),
                start..start + IMPORT,
            )
        })
        .collect::<Result<_, _>>()?;
    let base = files.join("base");

    // How long each action runs here, to spread the kills over its whole run.
    let mut durations = [Duration::ZERO; 3];
    for (slot, action) in [Action::Status, Action::Export, Action::Import]
        .into_iter()
        .enumerate()
    {
        let store = files.join(format!("calibrate-{slot}"));
        copy_dir(&base, &store)?;
        let started = Instant::now();
        let mut command = kafo.command(&store);
        command.args(arguments(action, &imports[0])?);
        command.output()?;
        durations[slot] = started.elapsed();
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut figures = Figures::default();
    let store = work.join("kill-store");
    for trial in 0..trials {
        if store.exists() {
            fs::remove_dir_all(&store)?;
        }
        copy_dir(&base, &store)?;
        let mut expected: Vec<&String> = caseload.lines[..BASE].iter().collect();
        for (step, import) in imports.iter().enumerate() {
            let slot = rng.random_range(0..3usize);
            let action = [Action::Status, Action::Export, Action::Import][slot];
            let limit = durations[slot].as_micros() as u64 * 6 / 5 + 1;
            let delay = Duration::from_micros(rng.random_range(0..limit));
            let mut child = kafo
                .command(&store)
                .args(arguments(action, import)?)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?;
            let mut stdout = child.stdout.take().context("stdout is piped")?;
            let reader = std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stdout.read_to_string(&mut text);
                text
            });
            std::thread::sleep(delay);
            let finished = child.try_wait()?.is_some();
            // Child::kill sends SIGKILL on Unix.
            let _ = child.kill();
            child.wait()?;
            let text = reader.join().unwrap_or_default();
            figures.kills += 1;
            figures.by_action[slot] += 1;
            if !finished {
                figures.landed += 1;
            }
            if let Action::Import = action {
                let acked = acknowledged(&text);
                figures.outcome.acknowledged += acked as u64;
                let start = BASE + step * IMPORT;
                expected.extend(&caseload.lines[start..start + acked]);
            }
        }
        let found = kafo.exported(&store);
        figures.outcome.check(trial, expected, found);
    }
    Ok(figures)
}

fn arguments(action: Action, import: &Path) -> anyhow::Result<Vec<String>> {
    Ok(match action {
        Action::Status => vec!["status".into()],
        Action::Export => vec!["export".into()],
        Action::Import => vec![
            "import".into(),
            "--progress".into(),
            "json".into(),
            path_str(import)?.into(),
        ],
    })
}
