//! Disk-full trials on a small tmpfs mounted for the run.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use kafo_bench::copy_dir;
use kafo_bench::faults::disk::SmallDisk;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    Caseload, DISK_FULL_BASE, DISK_FULL_IMPORT, Kafo, Outcome, acknowledged, first_line, path_str,
    prepare,
};

/// The size of the filesystem: a phone with little room left.
const DISK_MEGABYTES: u64 = 12;
/// Up to this much of the disk is taken by other files before a trial's import, so
/// that the disk fills at a different point of the import in each trial.
const MAX_BALLAST: u64 = 2 * 1024 * 1024;

/// What the trials found.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    outcome: Outcome,
    /// Imports that stopped on the full disk (the others fit).
    filled: u64,
    /// Trials where `status` or `export` failed while the disk was full.
    unreadable_while_full: u64,
}

impl Figures {
    pub(crate) fn print(&self, engine: &str, seconds: f64) {
        println!(
            "\ndisk full ({DISK_MEGABYTES} MB tmpfs), {engine}: {} trials in {seconds:.0} s",
            self.outcome.trials
        );
        println!("  imports stopped by the full disk    {:>8}", self.filled);
        println!(
            "  reads failed while the disk was full {:>7}",
            self.unreadable_while_full
        );
        self.outcome.print();
    }
}

/// Writes `bytes` of non-zero data to `path`, durably.
fn write_file(path: &Path, bytes: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8 + 1).collect();
    let mut written = 0u64;
    while written < bytes {
        let len = (bytes - written).min(chunk.len() as u64);
        file.write_all(&chunk[..len as usize])?;
        written += len;
    }
    file.sync_all()
}

pub(crate) fn run(
    kafo: &Kafo,
    caseload: &Caseload,
    work: &Path,
    trials: u64,
    seed: u64,
) -> anyhow::Result<Figures> {
    let files = prepare(kafo, caseload, work, "disk-full-files", DISK_FULL_BASE)?;
    let second = caseload.write(
        &files,
        "second.jsonl",
        DISK_FULL_BASE..DISK_FULL_BASE + DISK_FULL_IMPORT,
    )?;
    let base = files.join("base");
    let before = &caseload.lines[..DISK_FULL_BASE];
    let more = &caseload.lines[DISK_FULL_BASE..DISK_FULL_BASE + DISK_FULL_IMPORT];

    let disk = SmallDisk::mount(&work.join("disk"), DISK_MEGABYTES)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut figures = Figures::default();
    for trial in 0..trials {
        disk.wipe()?;
        let store = disk.path().join("store");
        copy_dir(&base, &store).context("the base store fits on the disk")?;
        let ballast = disk.path().join("ballast.bin");
        write_file(&ballast, rng.random_range(0..=MAX_BALLAST))?;

        let import = kafo.run(
            &store,
            &["import", "--progress", "json", path_str(&second)?],
        )?;
        let acked = acknowledged(&String::from_utf8_lossy(&import.stdout));
        figures.outcome.acknowledged += acked as u64;
        if !import.status.success() {
            figures.filled += 1;
        }

        // Another app takes whatever space is left; the store must still read.
        let filler = disk.fill_leaving(0)?;
        let status = kafo.run(&store, &["--json", "status"])?;
        let while_full = kafo.exported(&store);
        if !status.status.success() || while_full.is_err() {
            figures.unreadable_while_full += 1;
            let why = match &while_full {
                Err(error) => error.clone(),
                Ok(_) => first_line(&status.stderr),
            };
            figures
                .outcome
                .note(format!("trial {trial}: unreadable on the full disk: {why}"));
        }

        fs::remove_file(&filler)?;
        fs::remove_file(&ballast)?;
        let found = kafo.exported(&store);
        figures
            .outcome
            .check(trial, before.iter().chain(&more[..acked]), found);
    }
    drop(disk);
    Ok(figures)
}
