//! Shared measuring tools of Kafo's bench binaries (`src/bin/*`): child processes
//! timed with their peak resident memory, directory sizes, and a table printer.
//!
//! Run a bench in release mode, e.g. `cargo run --release -p kafo-bench --bin foundation`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::resource::{UsageWho, getrusage};

/// What a finished child process cost.
#[derive(Debug, Clone, Copy)]
pub struct ChildCost {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size, bytes.
    pub peak_rss: u64,
}

/// Runs `command` to completion, measuring its wall time and peak RSS.
///
/// Peak RSS is the children's `ru_maxrss`, which is the largest of any waited-for
/// child so far: run the measured commands from the smallest to the largest, or
/// one per bench process.
pub fn run_measured(command: &mut Command) -> anyhow::Result<ChildCost> {
    let start = Instant::now();
    let output = command.output().context("running the measured process")?;
    let wall = start.elapsed();
    if !output.status.success() {
        bail!(
            "measured process failed ({:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("reading the children's rusage")?;
    // Linux reports ru_maxrss in KiB.
    let peak_rss = u64::try_from(usage.max_rss()).unwrap_or(0) * 1024;
    Ok(ChildCost { wall, peak_rss })
}

/// Total size in bytes of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The `kafo` binary built beside this bench binary (same cargo profile).
pub fn kafo_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating this binary")?;
    let dir = me.parent().context("this binary has a directory")?;
    let kafo = dir.join("kafo");
    if !kafo.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release -p kafo-cli`",
            kafo.display()
        );
    }
    Ok(kafo)
}

/// Formats a byte count in MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// One row of a results table: what, measured, target, verdict.
pub fn row(what: &str, measured: &str, target: &str, ok: bool) {
    println!(
        "{what:<34} {measured:>14}   target {target:<12} {}",
        if ok { "ok" } else { "MISSED" }
    );
}
