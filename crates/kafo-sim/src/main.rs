//! `kafo-sim`: run a field simulation scenario, or stress it over many seeds.
//!
//! - `kafo-sim run SCENARIO.toml [--seed N] [--scale F] --out DIR` writes
//!   `metrics.json`, CSV series and SVG charts into DIR, prints the summary table, and
//!   exits with status 1 if an invariant failed (printing the seed and the command that
//!   replays it).
//! - `kafo-sim stress SCENARIO.toml --seeds N [--scale F] [--first-seed S]` runs N
//!   seeds (random ones unless `--first-seed` is given) and exits with status 1 if any
//!   failed, printing the replay command of each failure.
//!
//! Exit status 2 means the run could not be made (bad scenario, unwritable output).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kafo_sim::{Run, RunOptions, Scenario, simulate};

#[derive(Debug, Parser)]
#[command(
    name = "kafo-sim",
    version,
    about = "Kafo's deterministic field simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario once and write its metrics, series and charts.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// CHWs per area and households per CHW are multiplied by this.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Where to write metrics.json, the CSV series and the SVG charts.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a scenario on many seeds, checking the invariants on each.
    Stress {
        /// The scenario file.
        scenario: PathBuf,
        /// How many seeds.
        #[arg(long)]
        seeds: u64,
        /// CHWs per area and households per CHW are multiplied by this.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// The first seed (default: a random one); the others follow it.
        #[arg(long)]
        first_seed: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            scale,
            out,
        } => run(&scenario, seed, scale, &out),
        Command::Stress {
            scenario,
            seeds,
            scale,
            first_seed,
        } => stress(&scenario, seeds, scale, first_seed),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("kafo-sim: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(path: &Path, seed: Option<u64>, scale: f64, out: &Path) -> anyhow::Result<bool> {
    let scenario = Scenario::load(path)?;
    let seed = seed.unwrap_or(scenario.seed);
    let started = Instant::now();
    let result = simulate(&scenario, &RunOptions::new(seed, scale))
        .with_context(|| format!("simulating {} with seed {seed}", scenario.name))?;
    let elapsed = started.elapsed();
    result
        .write(out)
        .with_context(|| format!("writing the results into {}", out.display()))?;
    print!("{}", result.summary());
    println!(
        "  {:<11} {:.1} s of wall time (not in metrics.json)",
        "wall",
        elapsed.as_secs_f64()
    );
    report(&result, path, seed, scale, Some(out))
}

fn stress(path: &Path, seeds: u64, scale: f64, first: Option<u64>) -> anyhow::Result<bool> {
    let scenario = Scenario::load(path)?;
    // Seeds are picked at random only here, in the binary; each run is reproducible
    // from the seed it prints.
    let first = first.unwrap_or_else(|| rand::random::<u32>().into());
    let mut failures = 0u64;
    for seed in first..first.saturating_add(seeds) {
        let started = Instant::now();
        let result = simulate(&scenario, &RunOptions::new(seed, scale))
            .with_context(|| format!("simulating {} with seed {seed}", scenario.name))?;
        let verdict = if result.held() { "ok" } else { "FAILED" };
        println!(
            "seed {seed}: {verdict} · {} sessions, {} failed · latency p95 {:.1} h · {:.1} s",
            result.metrics.sessions.total,
            result.metrics.sessions.failed,
            result.metrics.visits.latency_hours.p95,
            started.elapsed().as_secs_f64()
        );
        if !report(&result, path, seed, scale, None)? {
            failures += 1;
        }
    }
    println!("{seeds} seeds from {first}: {failures} failed");
    Ok(failures == 0)
}

/// Prints the violations and the replay command of a failed run; `true` if it held.
fn report(
    result: &Run,
    path: &Path,
    seed: u64,
    scale: f64,
    out: Option<&Path>,
) -> anyhow::Result<bool> {
    if result.held() {
        return Ok(true);
    }
    let out = out.map_or_else(
        || format!("out/{}-{seed}", result.metrics.scenario),
        |out| out.display().to_string(),
    );
    eprintln!(
        "invariants failed for {} with seed {seed} ({} violations):",
        result.metrics.scenario, result.violations.count
    );
    eprint!("{}", result.violations);
    eprintln!(
        "replay: kafo-sim run {} --seed {seed} --scale {scale} --out {out}",
        path.display()
    );
    Ok(false)
}
