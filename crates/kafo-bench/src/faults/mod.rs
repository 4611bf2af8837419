//! The storage fault suite: the real `kafo` binary on real stores, faulted at
//! random points of import, sync receive, visits with compaction, and open/close,
//! by a full disk (a tmpfs the suite mounts) or by SIGKILL. After each fault the
//! store must open healthy (`kafo doctor`), keep every household and visit it
//! acknowledged, and complete the operation when run again.
//!
//! `cargo test` runs it at small counts (`crates/kafo-bench/tests/storage_faults.rs`);
//! the `storage-faults` binary runs it at large ones.

pub mod disk;
pub mod driver;
pub mod fixture;
pub mod trials;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use self::disk::SmallDisk;
use self::driver::Kafo;
use self::fixture::Fixture;
use self::trials::{Fault, Operation, TrialResult, run_trial, trial_name};

/// How much of the suite to run.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The `kafo` binary under test.
    pub kafo: PathBuf,
    /// Disk-full trials (cycling over operations, full before and filling during).
    pub disk_full_trials: u32,
    /// SIGKILL trials; every other one is during open/close.
    pub kill_trials: u32,
    /// Seed of the caseload and of the fault points.
    pub seed: u64,
    /// Households in the store before each trial.
    pub base_households: usize,
    /// Households the import and sync trials add.
    pub extra_households: usize,
}

/// One row of the results: an operation under one kind of fault.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Trials run.
    pub trials: u32,
    /// Trials where the fault hit the operation before it ended.
    pub fault_hit: u32,
    /// Trials after which the store did not open healthy.
    pub damaged: u32,
    /// Acknowledged households or visits missing, over all trials.
    pub lost: u64,
    /// Trials after which the operation did not complete when run again.
    pub not_resumed: u32,
    /// Trials where a read failed while the disk was full.
    pub read_failed_while_full: u32,
    /// The first failures, described.
    pub failures: Vec<String>,
}

/// The suite's results, per operation and fault.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Rows by (operation, fault).
    pub rows: BTreeMap<(Operation, Fault), Row>,
}

impl Tally {
    fn add(&mut self, operation: Operation, fault: Fault, name: String, result: &TrialResult) {
        let row = self.rows.entry((operation, fault)).or_default();
        row.trials += 1;
        row.fault_hit += u32::from(result.fault_hit);
        row.damaged += u32::from(result.damaged);
        row.lost += result.lost;
        row.not_resumed += u32::from(result.not_resumed);
        row.read_failed_while_full += u32::from(result.read_failed_while_full);
        if !result.passed() && row.failures.len() < 5 {
            let detail = result.detail.clone().unwrap_or_default();
            row.failures.push(format!("{name}: {detail}"));
        }
    }

    /// Sum over the rows that match `keep`.
    pub fn total(&self, keep: impl Fn(Operation, Fault) -> bool) -> Row {
        let mut total = Row::default();
        for ((operation, fault), row) in &self.rows {
            if !keep(*operation, *fault) {
                continue;
            }
            total.trials += row.trials;
            total.fault_hit += row.fault_hit;
            total.damaged += row.damaged;
            total.lost += row.lost;
            total.not_resumed += row.not_resumed;
            total.read_failed_while_full += row.read_failed_while_full;
            total.failures.extend(row.failures.iter().cloned());
        }
        total
    }

    /// Whether every trial passed.
    pub fn all_passed(&self) -> bool {
        let total = self.total(|_, _| true);
        total.damaged == 0
            && total.lost == 0
            && total.not_resumed == 0
            && total.read_failed_while_full == 0
    }

    /// The results as a table, with totals.
    pub fn table(&self) -> String {
        let mut text = format!(
            "{:<22} {:<18} {:>7} {:>7} {:>8} {:>6} {:>8} {:>10}\n",
            "operation", "fault", "trials", "hit", "damaged", "lost", "resumed", "read-full"
        );
        let line = |name: &str, fault: &str, row: &Row| {
            format!(
                "{name:<22} {fault:<18} {:>7} {:>7} {:>8} {:>6} {:>8} {:>10}\n",
                row.trials,
                row.fault_hit,
                row.damaged,
                row.lost,
                row.trials - row.not_resumed,
                row.read_failed_while_full
            )
        };
        for ((operation, fault), row) in &self.rows {
            text.push_str(&line(operation.name(), fault.name(), row));
        }
        let disk_full = self.total(|_, fault| fault != Fault::Kill);
        let kill_open_close = self
            .total(|operation, fault| fault == Fault::Kill && operation == Operation::OpenClose);
        let kill = self.total(|_, fault| fault == Fault::Kill);
        text.push_str(&line("all disk-full", "", &disk_full));
        text.push_str(&line("all SIGKILL", "", &kill));
        text.push_str(&line("SIGKILL open/close", "", &kill_open_close));
        text
    }
}

/// The operation of kill trial `n`: open/close every other trial.
fn kill_operation(n: u32) -> Operation {
    const OTHERS: [Operation; 3] = [
        Operation::Import,
        Operation::SyncReceive,
        Operation::VisitsAndCompaction,
    ];
    if n.is_multiple_of(2) {
        Operation::OpenClose
    } else {
        OTHERS[(n as usize / 2) % OTHERS.len()]
    }
}

/// The operation and fault of disk-full trial `n`.
fn disk_full_trial(n: u32) -> (Operation, Fault) {
    let operation = Operation::ALL[(n as usize / 2) % Operation::ALL.len()];
    let fault = if n.is_multiple_of(2) {
        Fault::DiskFullBefore
    } else {
        Fault::DiskFillsDuring
    };
    (operation, fault)
}

/// Runs the suite; `progress` is called after each trial with (done, total).
pub fn run_suite(
    config: &SuiteConfig,
    mut progress: impl FnMut(u32, u32, &Tally),
) -> anyhow::Result<Tally> {
    let kafo = Kafo::new(config.kafo.clone())?;
    let work = tempfile::tempdir().context("a work directory")?;
    let fixture = Fixture::build(
        kafo,
        &work.path().join("fixture"),
        config.base_households,
        config.extra_households,
        config.seed,
    )
    .context("building the fixture")?;
    // Room for the base store, two imports' worth, and the write margin.
    let needed = fixture.base_size()? + 3 * fixture.growth(Operation::Import);
    let megabytes = needed.div_ceil(1024 * 1024) + 4;
    let disk = SmallDisk::mount(&work.path().join("disk"), megabytes)?;
    let scratch = work.path().join("scratch");
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut tally = Tally::default();
    let total = config.disk_full_trials + config.kill_trials;
    let mut done = 0;
    for n in 0..config.disk_full_trials {
        let (operation, fault) = disk_full_trial(n);
        let name = trial_name(operation, fault, n);
        let result = run_trial(&fixture, &disk, &scratch, operation, fault, &mut rng)
            .with_context(|| name.clone())?;
        tally.add(operation, fault, name, &result);
        done += 1;
        progress(done, total, &tally);
    }
    for n in 0..config.kill_trials {
        let operation = kill_operation(n);
        let name = trial_name(operation, Fault::Kill, n);
        let result = run_trial(&fixture, &disk, &scratch, operation, Fault::Kill, &mut rng)
            .with_context(|| name.clone())?;
        tally.add(operation, Fault::Kill, name, &result);
        done += 1;
        progress(done, total, &tally);
    }
    Ok(tally)
}
