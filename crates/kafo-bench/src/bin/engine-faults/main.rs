//! Storage-fault trials through the real `kafo` binary, for comparing storage engines
//! (`docs/storage.md`): the same trials on a `kafo` built on sled (the default) and
//! one built with `--features kafo-store/engine-redb`.
//!
//! - **Disk full** (`disk_full.rs`): on a tmpfs this driver mounts (root only) and
//!   unmounts, a store holding 1,200 households imports 3,600 more until the disk
//!   fills; another file then takes the last free bytes; `status` and `export` must
//!   read the store on the full disk; the space is freed and the store must open with
//!   every household from before and every one the import acknowledged.
//! - **SIGKILL** (`kill.rs`): a store holding 120 households takes three kills in a
//!   row, each of a `kafo status` (open and close), `kafo export` (open, read, close)
//!   or `kafo import` of 200 more households (open, durable batches, close), at a
//!   random moment of its run; then it must open with every household from before and
//!   every one an import acknowledged (its JSON `committed` events).
//!
//! A store that does not open is *damaged*; a household that was acknowledged but is
//! missing or differs is *lost*. The figures printed are counts over the trials.
//!
//! ```text
//! cargo build --release -p kafo-cli -p kafo-bench [--features kafo-store/engine-redb]
//! target/release/engine-faults [--disk-full N] [--kill N] [--seed S] [--kafo PATH]
//! ```
//! Defaults: 20 disk-full trials, 100 kill trials, seed 1, the `kafo` beside this binary.

mod disk_full;
mod kill;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context, bail};
use kafo_bench::kafo_binary;

/// The caseload every trial draws from: 40 CHWs x 120 households.
const CHWS: u32 = 40;
/// Households the disk-full store holds before the import that fills the disk.
const DISK_FULL_BASE: usize = 1200;
/// Households that import tries to add.
const DISK_FULL_IMPORT: usize = 3600;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let disk_full_trials = flag(&args, "--disk-full")?.unwrap_or(20);
    let kill_trials = flag(&args, "--kill")?.unwrap_or(100);
    let seed = flag(&args, "--seed")?.unwrap_or(1);
    let kafo = match args.iter().position(|arg| arg == "--kafo") {
        Some(at) => PathBuf::from(args.get(at + 1).context("--kafo needs a path")?),
        None => kafo_binary()?,
    };
    let work = tempfile::tempdir()?;
    let caseload = Caseload::generate(seed)?;
    let kafo = Kafo { binary: kafo };

    // Which engine the binary writes, from the files of a store it creates.
    let probe = work.path().join("probe");
    kafo.ok(&probe, &["status"])?;
    let engine = if probe.join("kafo.redb").exists() {
        "redb"
    } else {
        "sled"
    };
    println!(
        "engine: {engine} ({}); caseload: kafo-gen seed {seed}, {CHWS} CHWs",
        kafo.binary.display()
    );

    if disk_full_trials > 0 {
        let started = Instant::now();
        let figures = disk_full::run(&kafo, &caseload, work.path(), disk_full_trials, seed)?;
        figures.print(engine, started.elapsed().as_secs_f64());
    }
    if kill_trials > 0 {
        let started = Instant::now();
        let figures = kill::run(&kafo, &caseload, work.path(), kill_trials, seed)?;
        figures.print(engine, started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The generated caseload, one canonical format v1 line per household.
pub(crate) struct Caseload {
    lines: Vec<String>,
}

impl Caseload {
    fn generate(seed: u64) -> anyhow::Result<Self> {
        let config = kafo_gen::GeneratorConfig {
            seed,
            chws: CHWS,
            ..kafo_gen::GeneratorConfig::default()
        };
        let mut bytes = Vec::new();
        kafo_gen::write_jsonl(&config, &mut bytes)?;
        let lines: Vec<String> = String::from_utf8(bytes)?
            .lines()
            .map(str::to_owned)
            .collect();
        if lines.len() < DISK_FULL_BASE + DISK_FULL_IMPORT {
            bail!("the caseload has {} households", lines.len());
        }
        Ok(Self { lines })
    }

    /// Writes lines `range` to a file in `dir`.
    fn write(
        &self,
        dir: &Path,
        name: &str,
        range: std::ops::Range<usize>,
    ) -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        let mut text = self.lines[range].join("\n");
        text.push('\n');
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// A directory `name` in `work` with a store, `base`, that `kafo` imported the
/// first `households` of `caseload` into. Returns the directory.
fn prepare(
    kafo: &Kafo,
    caseload: &Caseload,
    work: &Path,
    name: &str,
    households: usize,
) -> anyhow::Result<PathBuf> {
    let files = work.join(name);
    std::fs::create_dir_all(&files)?;
    let first = caseload.write(&files, "first.jsonl", 0..households)?;
    let args = ["import", "--progress", "none", path_str(&first)?];
    kafo.ok(&files.join("base"), &args)?;
    Ok(files)
}

/// The `kafo` binary under test.
pub(crate) struct Kafo {
    binary: PathBuf,
}

impl Kafo {
    /// A `kafo` command on the store in `store`.
    fn command(&self, store: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--data-dir")
            .arg(store)
            .env_remove("RUST_LOG")
            .env_remove("KAFO_DATA_DIR");
        command
    }

    fn run(&self, store: &Path, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.command(store).args(args).output()?)
    }

    /// Runs `kafo` and fails unless it succeeds.
    fn ok(&self, store: &Path, args: &[&str]) -> anyhow::Result<Output> {
        let output = self.run(store, args)?;
        if !output.status.success() {
            bail!(
                "kafo {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }

    /// The store's households as exported, or why the store does not read.
    fn exported(&self, store: &Path) -> Result<HashSet<String>, String> {
        let output = self
            .run(store, &["export"])
            .map_err(|error| error.to_string())?;
        if !output.status.success() {
            return Err(first_line(&output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

/// The first line of a process's stderr, for reports.
fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// What the trials of one kind found, whatever the fault.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    trials: u64,
    /// Households the imports acknowledged, over all trials.
    acknowledged: u64,
    /// Trials whose store did not open afterwards.
    damaged: u64,
    /// Households from before or acknowledged that were missing (or differed) afterwards.
    lost: u64,
    /// The first few failures, for the report.
    notes: Vec<String>,
}

impl Outcome {
    fn note(&mut self, note: String) {
        if self.notes.len() < 5 {
            self.notes.push(note);
        }
    }

    /// Counts one trial from what the store held afterwards (its export, or why it
    /// did not open) against the households it must hold.
    fn check<'a>(
        &mut self,
        trial: u64,
        expected: impl IntoIterator<Item = &'a String>,
        found: Result<HashSet<String>, String>,
    ) {
        self.trials += 1;
        let expected: Vec<&String> = expected.into_iter().collect();
        match found {
            Ok(found) => {
                let lost = expected
                    .iter()
                    .filter(|line| !found.contains(**line))
                    .count();
                if lost > 0 {
                    self.note(format!(
                        "trial {trial}: {lost} acknowledged households missing"
                    ));
                }
                self.lost += lost as u64;
            }
            Err(error) => {
                self.damaged += 1;
                self.lost += expected.len() as u64;
                self.note(format!("trial {trial}: the store does not open: {error}"));
            }
        }
    }

    fn print(&self) {
        println!(
            "  households acknowledged (sum)       {:>8}",
            self.acknowledged
        );
        println!("  damaged stores                      {:>8}", self.damaged);
        println!("  lost acknowledged households        {:>8}", self.lost);
        for note in &self.notes {
            println!("  - {note}");
        }
    }
}

use kafo_bench::path_str;

/// The largest `committed` of an import's JSON progress events: households durable.
fn acknowledged(stdout: &str) -> usize {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "committed")
        .filter_map(|event| event["committed"].as_u64())
        .max()
        .unwrap_or(0) as usize
}

fn flag(args: &[String], name: &str) -> anyhow::Result<Option<u64>> {
    match args.iter().position(|arg| arg == name) {
        Some(at) => {
            let value = args
                .get(at + 1)
                .with_context(|| format!("{name} needs a value"))?;
            Ok(Some(
                value.parse().with_context(|| format!("{name} {value}"))?,
            ))
        }
        None => Ok(None),
    }
}
