//! Shared measuring tools of Kafo's bench binaries (`src/bin/*`): child processes
//! timed with their peak resident memory, a process's own peak memory between two
//! points, directory sizes and copies, and a table printer.
//!
//! Run a bench in release mode, e.g. `cargo run --release -p kafo-bench --bin foundation`.

pub mod faults;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::{TimeVal, TimeValLike};

/// What a finished child process cost.
#[derive(Debug, Clone, Copy)]
pub struct ChildCost {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size, bytes.
    pub peak_rss: u64,
    /// CPU time (user and system) the process used: on a machine shared with other
    /// work, a steadier figure than the wall time.
    pub cpu: Duration,
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
    let micros = |time: TimeVal| u64::try_from(time.num_microseconds()).unwrap_or(0);
    let cpu = Duration::from_micros(micros(usage.user_time()) + micros(usage.system_time()));
    Ok(ChildCost {
        wall,
        peak_rss,
        cpu,
    })
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

/// Resets this process's peak resident set size (VmHWM) to its current RSS, so that
/// [`peak_rss`] measures from here (Linux `/proc/self/clear_refs`, value 5).
pub fn reset_peak_rss() -> anyhow::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS")
}

/// This process's peak resident set size (VmHWM) in bytes, since it started or since
/// the last [`reset_peak_rss`].
pub fn peak_rss() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("parsing VmHWM")?;
    Ok(kib * 1024)
}

/// Copies the directory tree `from` to `to` (created), e.g. a closed sled store.
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
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

/// The flag with which a bench binary re-runs itself to measure one command ([`measure`]).
pub const MEASURE_FLAG: &str = "--measure";

/// Runs `command` in a fresh copy of the current bench binary (which must hand
/// [`MEASURE_FLAG`] to [`measure`]), so that the peak RSS is the command's own.
pub fn measured(command: &[&str]) -> anyhow::Result<ChildCost> {
    let me = std::env::current_exe()?;
    let output = Command::new(me).arg(MEASURE_FLAG).args(command).output()?;
    if !output.status.success() {
        bail!(
            "{:?} failed: {}",
            command,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let mut parts = text.split_whitespace();
    let wall_ns: u64 = parts.next().context("wall time")?.parse()?;
    let peak_rss: u64 = parts.next().context("peak rss")?.parse()?;
    let cpu_ns: u64 = parts.next().context("cpu time")?.parse()?;
    Ok(ChildCost {
        wall: Duration::from_nanos(wall_ns),
        peak_rss,
        cpu: Duration::from_nanos(cpu_ns),
    })
}

/// The measurer: runs one command and prints `wall_ns peak_rss_bytes cpu_ns`.
pub fn measure(command: &[String]) -> anyhow::Result<()> {
    let (program, args) = command.split_first().context("a command to measure")?;
    let cost = run_measured(Command::new(program).args(args))?;
    println!(
        "{} {} {}",
        cost.wall.as_nanos(),
        cost.peak_rss,
        cost.cpu.as_nanos()
    );
    Ok(())
}

/// The value of `--seed S` among a bench binary's `args`, 1 by default.
pub fn seed_arg(args: &[String]) -> u64 {
    args.iter()
        .position(|arg| arg == "--seed")
        .and_then(|at| args.get(at + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
}

/// `path` as UTF-8, for a command line.
pub fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("a utf-8 path")
}

/// Writes `config`'s caseload to `json_path` and imports it into a new store at `store`
/// through the `kafo` binary, measured ([`measured`]).
pub fn generate_and_import(
    kafo: &str,
    config: &kafo_gen::GeneratorConfig,
    json_path: &Path,
    store: &Path,
) -> anyhow::Result<(kafo_gen::GenerateSummary, ChildCost)> {
    let mut writer = std::io::BufWriter::new(std::fs::File::create(json_path)?);
    let generated = kafo_gen::write_jsonl(config, &mut writer)?;
    drop(writer);
    let import = measured(&[
        kafo,
        "--data-dir",
        path_str(store)?,
        "import",
        "--progress",
        "none",
        path_str(json_path)?,
    ])?;
    Ok((generated, import))
}
