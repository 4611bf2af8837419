//! The storage fault suite at scale: disk-full and SIGKILL trials on real stores
//! through the real `kafo` binary (see `kafo_bench::faults`). Needs root (it mounts
//! a tmpfs) and a `kafo` binary beside this one:
//!
//! ```text
//! cargo build --release -p kafo-cli -p kafo-bench
//! target/release/storage-faults --disk-full 1000 --kill 2000
//! ```
//!
//! Flags: `--disk-full N` (default 1000), `--kill N` (default 2000; every other one
//! during open/close), `--seed S`, `--base N` and `--extra N` (households), `--kafo
//! PATH`. Prints a table of trials, faults that hit, damaged stores, lost
//! acknowledged records and resumed operations; exits 1 if any trial failed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use kafo_bench::faults::{SuiteConfig, run_suite};

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|arg| arg == name) {
        None => Ok(default),
        Some(at) => args
            .get(at + 1)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("{name} needs a value")),
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    let kafo = match args.iter().position(|arg| arg == "--kafo") {
        Some(at) => PathBuf::from(args.get(at + 1).context("--kafo needs a path")?),
        None => kafo_bench::kafo_binary()?,
    };
    let config = SuiteConfig {
        kafo,
        disk_full_trials: flag(&args, "--disk-full", 1000)?,
        kill_trials: flag(&args, "--kill", 2000)?,
        seed: flag(&args, "--seed", 7)?,
        base_households: flag(&args, "--base", 120)?,
        extra_households: flag(&args, "--extra", 240)?,
    };
    println!(
        "storage fault suite: {} disk-full trials, {} SIGKILL trials, {} + {} households, seed {}",
        config.disk_full_trials,
        config.kill_trials,
        config.base_households,
        config.extra_households,
        config.seed
    );
    let started = Instant::now();
    let tally = run_suite(&config, |done, total, tally| {
        if done.is_multiple_of(50) || done == total {
            let failed = tally.total(|_, _| true).failures.len();
            print!(
                "\r{done}/{total} trials, {failed} failed, {:.0} s",
                started.elapsed().as_secs_f64()
            );
            let _ = std::io::stdout().flush();
        }
    })?;
    println!("\n\n{}", tally.table());
    println!("took {:.0} s", started.elapsed().as_secs_f64());
    let failures = tally.total(|_, _| true).failures;
    for failure in &failures {
        println!("FAILED {failure}");
    }
    Ok(if tally.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
