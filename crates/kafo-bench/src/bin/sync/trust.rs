//! Trust on against trust off, on the same data, through the real `Node::sync_over`
//! (Noise over an in-memory byte stream, the handshake, storage on real sled stores):
//!
//! * **Pull 6,840.** An empty device pulls the whole area. Off: two unenrolled devices.
//!   On: the source created a program (its changes are signed) and enrolled the puller as
//!   the area's supervisor; every payload then travels in signed envelopes and every
//!   change is verified before it is written. Runs alternate off/on; medians are
//!   compared (target: on/off <= 1.3).
//! * **Handshake round trips.** Two devices holding the same 6,840 households meet over
//!   a link with a fixed one-way latency: the session is then handshake and nothing
//!   else, so its duration in link round trips counts the handshake's round trips
//!   (Noise included, the same on both sides of the comparison). Also the sessions' own
//!   `round_trips` counters. Target: trust adds at most one round trip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kafo::Node;
use kafo::model::Scope;
use kafo::net::{Scopes as ShareScopes, SyncOptions, SyncReport};
use kafo::store::Store;
use kafo::trust::{DEFAULT_VALIDITY_DAYS, Role, Scopes};
use kafo_bench::{copy_dir, row};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::sync::mpsc;
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

/// Pull runs per mode (alternating); the median is kept.
const RUNS: usize = 5;
/// The one-way latency of the link the handshake is timed on.
const LATENCY: Duration = Duration::from_millis(50);

/// Source and (empty) puller stores for one mode.
struct Fixture {
    source: PathBuf,
    puller: PathBuf,
}

/// What one session between two stores cost.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: Duration,
    bytes: u64,
    round_trips: u32,
    docs: u64,
}

/// Prepares both modes from `program_dir` (a closed, unenrolled store of the program).
fn prepare(program_dir: &Path, area: &Scope, work: &Path) -> anyhow::Result<[Fixture; 2]> {
    let off = Fixture {
        source: program_dir.to_path_buf(),
        puller: work.join("off-puller"),
    };
    drop(Node::open(&off.puller)?);
    let on = Fixture {
        source: work.join("on-source"),
        puller: work.join("on-puller"),
    };
    copy_dir(program_dir, &on.source)?;
    let started = Instant::now();
    let source = Node::open(&on.source)?;
    source.create_program("bench program", DEFAULT_VALIDITY_DAYS)?;
    let puller = Node::open(&on.puller)?;
    let chain = source.enrol(
        puller.device_id(),
        Role::Supervisor,
        Scopes::only([area.clone()]),
        DEFAULT_VALIDITY_DAYS,
    )?;
    puller.join(&chain.to_text())?;
    println!(
        "trust fixtures: program created and the source's changes signed, a supervisor \
         enrolled, in {:.1} s (not measured)",
        started.elapsed().as_secs_f64()
    );
    Ok([off, on])
}

/// Runs one session between the stores in `a` and `b` over an in-memory stream, with
/// `latency` each way if set; checks both hold the same area afterwards.
fn session(a: &Path, b: &Path, area: &Scope, latency: Option<Duration>) -> anyhow::Result<Run> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (a_node, b_node) = (Node::open(a)?, Node::open(b)?);
    let options = SyncOptions {
        scopes: ShareScopes::Only(vec![area.clone()]),
        ..SyncOptions::default()
    };
    let (reports, wall) = runtime.block_on(async {
        let (a_end, b_end) = match latency {
            None => tokio::io::duplex(64 * 1024),
            Some(latency) => delayed_link(latency),
        };
        let (a_read, a_write) = tokio::io::split(a_end);
        let (b_read, b_write) = tokio::io::split(b_end);
        let started = Instant::now();
        let (a_report, b_report) = tokio::join!(
            a_node.sync_over(a_read.compat(), a_write.compat_write(), &options),
            b_node.sync_over(b_read.compat(), b_write.compat_write(), &options),
        );
        ((a_report, b_report), started.elapsed())
    });
    runtime.shutdown_background();
    let (a_report, b_report): (SyncReport, SyncReport) = (reports.0?, reports.1?);
    if !(a_report.is_in_sync() && b_report.is_in_sync()) {
        bail!(
            "the session did not reach sync: {} / {}",
            a_report.outcome,
            b_report.outcome
        );
    }
    drop((a_node, b_node));
    let (a_store, b_store) = (Store::open(a)?, Store::open(b)?);
    let (left, right) = (
        a_store.scope_fingerprint(area)?,
        b_store.scope_fingerprint(area)?,
    );
    if left != right || left.count == 0 {
        bail!("the devices differ in {area} after the session");
    }
    Ok(Run {
        wall,
        bytes: a_report.bytes_sent + b_report.bytes_sent,
        round_trips: a_report.round_trips.max(b_report.round_trips),
        docs: a_report.docs_received + b_report.docs_received,
    })
}

/// Two byte streams joined through a link that delivers every chunk `latency` after it
/// was written, in order.
fn delayed_link(latency: Duration) -> (DuplexStream, DuplexStream) {
    let (a_end, a_link) = tokio::io::duplex(64 * 1024);
    let (b_end, b_link) = tokio::io::duplex(64 * 1024);
    let (a_link_read, a_link_write) = tokio::io::split(a_link);
    let (b_link_read, b_link_write) = tokio::io::split(b_link);
    forward(a_link_read, b_link_write, latency);
    forward(b_link_read, a_link_write, latency);
    (a_end, b_end)
}

/// Copies `from` to `to`, each chunk `latency` after it was read; closes `to` at the end.
fn forward(
    mut from: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    mut to: impl tokio::io::AsyncWrite + Unpin + Send + 'static,
    latency: Duration,
) {
    let (sender, mut receiver) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = tokio::time::Instant::now() + latency;
                    let chunk = buffer.get(..n).unwrap_or_default().to_vec();
                    if sender.send((due, chunk)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
}

/// A fresh copy of a fixture in `run_dir`.
fn fresh(fixture: &Fixture, run_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    if run_dir.exists() {
        std::fs::remove_dir_all(run_dir)?;
    }
    let (a, b) = (run_dir.join("a"), run_dir.join("b"));
    copy_dir(&fixture.source, &a)?;
    copy_dir(&fixture.puller, &b)?;
    Ok((a, b))
}

fn median(mut runs: Vec<Run>) -> anyhow::Result<Run> {
    runs.sort_by_key(|run| run.wall);
    runs.get(runs.len() / 2)
        .copied()
        .context("at least one run")
}

/// Runs only one mode's pull (`on` or `off`) once, for a profiler: prints its wall time.
pub fn profile(program_dir: &Path, area: &Scope, work: &Path, mode: &str) -> anyhow::Result<()> {
    let work = work.join("trust");
    std::fs::create_dir_all(&work)?;
    let [off, on] = prepare(program_dir, area, &work)?;
    let fixture = match mode {
        "on" => on,
        "off" => off,
        other => bail!("--trust-profile on|off, not {other:?}"),
    };
    let (a, b) = fresh(&fixture, &work.join("profile"))?;
    let run = session(&a, &b, area, None)?;
    println!("trust {mode}: pull in {:.2} s", run.wall.as_secs_f64());
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

/// Runs the trust comparison and prints its table and targets.
pub fn compare(program_dir: &Path, area: &Scope, work: &Path) -> anyhow::Result<()> {
    let work = work.join("trust");
    std::fs::create_dir_all(&work)?;
    let fixtures = prepare(program_dir, area, &work)?;
    let mut pulls: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    let mut synced: [Option<(PathBuf, PathBuf)>; 2] = [None, None];
    for round in 0..RUNS {
        for (mode, fixture) in fixtures.iter().enumerate() {
            let run_dir = work.join(format!("pull-{mode}-{round}"));
            let (a, b) = fresh(fixture, &run_dir)?;
            pulls[mode].push(session(&a, &b, area, None)?);
            // Keep the last run's pair: two devices holding the same households.
            if let Some((old, _)) = synced[mode].replace((a, b))
                && let Some(dir) = old.parent()
            {
                std::fs::remove_dir_all(dir)?;
            }
        }
    }
    let [off, on] = [median(pulls[0].clone())?, median(pulls[1].clone())?];
    let mut same = [None, None];
    for (mode, pair) in synced.iter().enumerate() {
        let (a, b) = pair.as_ref().context("a synced pair")?;
        same[mode] = Some(session(a, b, area, Some(LATENCY))?);
    }
    let [Some(same_off), Some(same_on)] = same else {
        bail!("both modes met once more");
    };

    println!(
        "\ntrust off vs on (Node::sync_over both ends, Noise in both modes; pull: median of {RUNS})"
    );
    println!(
        "{:<36} {:>12} {:>12} {:>8}",
        "", "trust off", "trust on", "on/off"
    );
    let line = |what: &str, off: String, on: String, ratio: String| {
        println!("{what:<36} {off:>12} {on:>12} {ratio:>8}");
    };
    let walls: Vec<String> = pulls
        .iter()
        .map(|runs| {
            runs.iter()
                .map(|run| format!("{:.2}", run.wall.as_secs_f64()))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    let wall_ratio = on.wall.as_secs_f64() / off.wall.as_secs_f64();
    line(
        "pull 6,840: wall (median)",
        format!("{:.2} s", off.wall.as_secs_f64()),
        format!("{:.2} s", on.wall.as_secs_f64()),
        format!("{wall_ratio:.2}x"),
    );
    line(
        "  each run, s",
        walls.first().cloned().unwrap_or_default(),
        walls.get(1).cloned().unwrap_or_default(),
        String::new(),
    );
    line(
        "pull 6,840: bytes both ways",
        off.bytes.to_string(),
        on.bytes.to_string(),
        format!("{:.2}x", on.bytes as f64 / off.bytes as f64),
    );
    line(
        "pull 6,840: docs received",
        off.docs.to_string(),
        on.docs.to_string(),
        String::new(),
    );
    line(
        "pull 6,840: report round trips",
        off.round_trips.to_string(),
        on.round_trips.to_string(),
        String::new(),
    );
    let rtt = |run: &Run| run.wall.as_secs_f64() / (2.0 * LATENCY.as_secs_f64());
    line(
        &format!("same 6,840, {} ms link: in RTT", LATENCY.as_millis()),
        format!("{:.2}", rtt(&same_off)),
        format!("{:.2}", rtt(&same_on)),
        format!("{:+.2}", rtt(&same_on) - rtt(&same_off)),
    );
    line(
        "same 6,840: report round trips",
        same_off.round_trips.to_string(),
        same_on.round_trips.to_string(),
        String::new(),
    );
    line(
        "same 6,840: bytes both ways",
        same_off.bytes.to_string(),
        same_on.bytes.to_string(),
        String::new(),
    );
    println!();
    row(
        "trust: pull 6,840 on/off wall",
        &format!("{wall_ratio:.2}x"),
        "<= 1.30",
        wall_ratio <= 1.3,
    );
    let extra = rtt(&same_on) - rtt(&same_off);
    row(
        "trust: handshake extra round trips",
        &format!("{extra:.2}"),
        "<= 1",
        // Timed on a real clock: compute adds a little to the link's round trips.
        extra.round() <= 1.0,
    );
    row(
        "  (sessions' round-trip counters)",
        &format!("{} -> {}", same_off.round_trips, same_on.round_trips),
        "<= +1",
        same_on.round_trips <= same_off.round_trips + 1,
    );
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
