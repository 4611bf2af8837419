//! A health-centre meetup on one machine: a supervisor's laptop and 10 CHW phones, each
//! a real Kafo node (its own sled store, its own identity, libp2p over TCP on
//! 127.0.0.1, mDNS off: the phones dial the laptop), with generated caseloads of 120
//! households per CHW. Every phone holds only its own caseload; the laptop starts with
//! an old copy of half of them (synced at the previous meetup, before the CHWs recorded
//! new visits). The example lets them sync, shows progress, and ends by checking that
//! the laptop holds exactly every household as its CHW holds it and that each phone
//! still holds exactly its own; it prints the time to convergence and the bytes moved,
//! and exits non-zero if they did not converge within the deadline.
//!
//! ```sh
//! cargo run --release -p kafo-examples --example meetup
//! # Each device as its own `kafo serve` process, with its peak RSS:
//! cargo build --release -p kafo-cli && cargo run --release -p kafo-examples --example meetup -- --processes
//! ```
//!
//! Options: `--chws N` (10), `--households N` (120 per CHW), `--visits N` (2,500 per
//! CHW), `--seed S`, `--deadline SECONDS` (60), `--processes`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use kafo::model::{Scope, Visit};
use kafo::net::{Multiaddr, NetworkConfig, NodeEvent, Scopes, ServeConfig, SyncOptions};
use kafo::trust::{Role, Scopes as TrustScopes};
use kafo::{ImportOptions, Node};
use kafo_gen::GeneratorConfig;
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

/// Households and their heads hash, by key: two devices hold the same documents exactly
/// when these are equal.
type Holdings = BTreeMap<String, [u8; 32]>;

/// Visits each returning CHW recorded since the laptop's old copy (one per household
/// for this many households).
const NEW_VISITS: u32 = 12;

struct Args {
    chws: u32,
    households: u32,
    visits: u32,
    seed: u64,
    deadline: Duration,
    processes: bool,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let number = |name: &str, default: u64| -> anyhow::Result<u64> {
            match args.iter().position(|arg| arg == name) {
                Some(index) => args
                    .get(index + 1)
                    .context(format!("{name} needs a value"))?
                    .parse()
                    .context(format!("{name} takes a number")),
                None => Ok(default),
            }
        };
        Ok(Self {
            chws: u32::try_from(number("--chws", 10)?)?,
            households: u32::try_from(number("--households", 120)?)?,
            visits: u32::try_from(number("--visits", 2_500)?)?,
            seed: number("--seed", 2026)?,
            deadline: Duration::from_secs(number("--deadline", 60)?),
            processes: args.iter().any(|arg| arg == "--processes"),
        })
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let root = meetup_dir()?;
    let meetup = runtime.block_on(prepare(&args, &root))?;
    let converged = if args.processes {
        meetup.run_as_processes(&args)?
    } else {
        runtime.block_on(meetup.run_in_process(&args))?
    };
    println!(
        "\nThe devices' stores are in {}: look inside with e.g.\n  cargo run --release -- --data-dir {} status",
        root.display(),
        root.join("supervisor").display()
    );
    Ok(if converged {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Where the meetup keeps its devices' stores: `meetup/` in the platform data
/// directory (beside the `kafo` CLI's default store), emptied at every run.
fn meetup_dir() -> anyhow::Result<std::path::PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "kafo", "kafo")
        .ok_or_else(|| anyhow::anyhow!("no data directory on this platform"))?;
    let root = dirs.data_dir().join("meetup");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    Ok(root)
}

/// The devices before the meetup.
struct Meetup {
    program: GeneratorConfig,
    supervisor: Arc<Node>,
    chws: Vec<Arc<Node>>,
    /// What each CHW holds: what the laptop must end up holding of its caseload.
    expected: Vec<Holdings>,
}

/// How long the demo's certificates are valid.
const VALID_DAYS: u64 = 90;

fn area_scope(program: &GeneratorConfig) -> anyhow::Result<Scope> {
    let area = program.areas.first().context("the program has an area")?;
    Ok(Scope::area(area.clone()))
}

async fn prepare(args: &Args, root: &Path) -> anyhow::Result<Meetup> {
    let program = GeneratorConfig {
        seed: args.seed,
        areas: GeneratorConfig::bamako_areas(1),
        chws: args.chws,
        households_per_chw: args.households,
        visits_per_chw: args.visits,
        ..GeneratorConfig::default()
    };
    program.check()?;
    let bar = ProgressBar::new(u64::from(args.chws)).with_style(ProgressStyle::with_template(
        "{msg:>24} [{bar:30}] {pos}/{len}",
    )?);
    bar.set_message("generating caseloads");
    // The laptop creates the program (it becomes its admin) and enrols each phone as
    // the CHW of exactly her caseload: every session below is certificate-checked, and
    // every change signed by the device that made it.
    let supervisor = Arc::new(Node::open(root.join("supervisor"))?);
    supervisor.create_program("Sikoro CHW programme", VALID_DAYS)?;
    let mut chws = Vec::new();
    for (index, scope) in program.scopes().iter().enumerate() {
        let node = Arc::new(Node::open(root.join(format!("chw-{:02}", index + 1)))?);
        let caseload = Scope::chw(scope.area.clone(), scope.chw.clone());
        let certificate = supervisor.enrol(
            node.device_id(),
            Role::Chw,
            TrustScopes::only([caseload]),
            VALID_DAYS,
        )?;
        node.join(&certificate.to_text())?;
        let mut lines = String::new();
        for household in kafo_gen::generate_chw(&program, scope)? {
            lines.push_str(&kafo::model::canonical::to_line(&household)?);
            lines.push('\n');
        }
        let node_for_import = Arc::clone(&node);
        tokio::task::spawn_blocking(move || {
            node_for_import.import(lines.as_bytes(), &ImportOptions::default(), |_| {})
        })
        .await??;
        chws.push(node);
        bar.inc(1);
    }
    bar.finish_and_clear();

    // The previous meetup: the laptop got every other CHW's caseload, then those CHWs
    // went on recording visits.
    let old_copy = SyncOptions {
        scopes: Scopes::Only(vec![area_scope(&program)?]),
        ..SyncOptions::default()
    };
    let phone_options = SyncOptions::default();
    for chw in chws.iter().step_by(2) {
        let (laptop_end, phone_end) = tokio::io::duplex(256 * 1024);
        let (laptop_read, laptop_write) = tokio::io::split(laptop_end);
        let (phone_read, phone_write) = tokio::io::split(phone_end);
        let (laptop, phone) = tokio::join!(
            supervisor.sync_over(laptop_read.compat(), laptop_write.compat_write(), &old_copy),
            chw.sync_over(
                phone_read.compat(),
                phone_write.compat_write(),
                &phone_options
            ),
        );
        if !(laptop?.is_in_sync() && phone?.is_in_sync()) {
            bail!("the previous meetup's sync did not complete");
        }
        record_new_visits(chw)?;
    }
    let old = supervisor.store().len()?;
    let expected = chws
        .iter()
        .map(|chw| holdings(chw))
        .collect::<Result<_, _>>()?;
    println!(
        "{} CHWs x {} households ({} visits each); the laptop holds an old copy of {old} households",
        args.chws, args.households, args.visits
    );
    Ok(Meetup {
        program,
        supervisor,
        chws,
        expected,
    })
}

/// One new visit in each of the CHW's first [`NEW_VISITS`] households.
fn record_new_visits(chw: &Node) -> anyhow::Result<()> {
    for listing in chw.households(None, None)?.iter().take(NEW_VISITS as usize) {
        let view = chw
            .household(&listing.id)?
            .context("a listed household is stored")?;
        let person = view
            .household
            .members
            .first()
            .context("every household has a member")?;
        let visit: Visit = serde_json::from_value(serde_json::json!({
            "id": format!("{}.v90001", listing.id),
            "person_id": person.id.as_str(),
            "date": "2026-01-10",
            "chw": listing.chw.as_str(),
            "kind": "routine",
        }))?;
        chw.add_visit(&listing.id, &visit)?;
    }
    Ok(())
}

fn holdings(node: &Node) -> anyhow::Result<Holdings> {
    node.store()
        .items(..)
        .map(|item| {
            let item = item?;
            Ok((item.key.as_str().to_owned(), item.heads_hash.0))
        })
        .collect()
}

/// Whether the laptop holds exactly every caseload as its CHW holds it, and each phone
/// exactly its own.
fn converged(supervisor: &Holdings, chws: &[Holdings], expected: &[Holdings]) -> bool {
    let all: Holdings = expected
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    *supervisor == all && chws == expected
}

/// What moved during the meetup, as the laptop saw it.
#[derive(Debug, Default)]
struct Traffic {
    sessions: u64,
    failed: u64,
    docs_received: u64,
    docs_sent: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl Traffic {
    fn count(&mut self, report: &kafo::net::SyncReport) {
        self.sessions += 1;
        if !report.is_in_sync() {
            self.failed += 1;
        }
        self.docs_received += report.docs_received;
        self.docs_sent += report.docs_sent;
        self.bytes_in += report.bytes_received;
        self.bytes_out += report.bytes_sent;
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn progress_bar(total: u64) -> anyhow::Result<ProgressBar> {
    let bar = ProgressBar::new(total).with_style(ProgressStyle::with_template(
        "laptop holds {pos:>5}/{len} households [{bar:30}] {elapsed_precise} {msg}",
    )?);
    Ok(bar)
}

/// A laptop at a meetup takes every phone at once (a phone's default leaves room for
/// 24 inbound connections), as `kafo serve --max-connections` does.
fn laptop_network(mut network: NetworkConfig) -> NetworkConfig {
    network.limits.max_established = 160;
    network.limits.max_established_incoming = 152;
    network.limits.max_pending_incoming = 64;
    network
}

fn loopback_network() -> anyhow::Result<NetworkConfig> {
    Ok(NetworkConfig::loopback_only(vec![
        "/ip4/127.0.0.1/tcp/0".parse()?,
    ]))
}

impl Meetup {
    fn total(&self) -> u64 {
        self.program.household_count()
    }

    async fn run_in_process(self, args: &Args) -> anyhow::Result<bool> {
        let laptop_config = ServeConfig {
            network: laptop_network(loopback_network()?),
            sync: SyncOptions {
                scopes: Scopes::Only(vec![area_scope(&self.program)?]),
                ..SyncOptions::default()
            },
            ..ServeConfig::default()
        };
        let start = Instant::now();
        let laptop = Arc::clone(&self.supervisor).serve(laptop_config).await?;
        let mut events = laptop.events();
        let addr = laptop
            .listen_addrs()
            .into_iter()
            .next()
            .context("the laptop listens")?;
        let mut phones = Vec::new();
        for chw in &self.chws {
            let phone = Arc::clone(chw)
                .serve(ServeConfig {
                    network: loopback_network()?,
                    ..ServeConfig::default()
                })
                .await?;
            phone.dial(addr.clone()).await?;
            phones.push(phone);
        }

        let bar = progress_bar(self.total())?;
        let mut traffic = Traffic::default();
        let mut converged_after = None;
        while start.elapsed() < args.deadline {
            while let Ok(event) = events.try_recv() {
                if let NodeEvent::SessionFinished { report, .. } = event {
                    traffic.count(&report);
                }
            }
            bar.set_position(self.supervisor.store().len()?);
            bar.set_message(format!(
                "{} sessions, {} in",
                traffic.sessions,
                mib(traffic.bytes_in)
            ));
            let phones_hold: Vec<Holdings> = self
                .chws
                .iter()
                .map(|chw| holdings(chw))
                .collect::<Result<_, _>>()?;
            if converged(&holdings(&self.supervisor)?, &phones_hold, &self.expected) {
                converged_after = Some(start.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bar.finish_and_clear();
        // Sessions still finishing (a last resync) are counted too.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while let Ok(event) = events.try_recv() {
            if let NodeEvent::SessionFinished { report, .. } = event {
                traffic.count(&report);
            }
        }
        for phone in phones {
            phone.shutdown(Duration::from_secs(5)).await;
        }
        laptop.shutdown(Duration::from_secs(5)).await;
        self.report(converged_after, &traffic, &BTreeMap::new())
    }

    /// Checks the stores and prints the outcome; returns whether they converged.
    fn report(
        &self,
        converged_after: Option<Duration>,
        traffic: &Traffic,
        peak_rss: &BTreeMap<String, u64>,
    ) -> anyhow::Result<bool> {
        let laptop = holdings(&self.supervisor)?;
        let phones: Vec<Holdings> = self
            .chws
            .iter()
            .map(|chw| holdings(chw))
            .collect::<Result<_, _>>()?;
        let ok = converged(&laptop, &phones, &self.expected);
        println!(
            "\n{:<12} {:>10} {:>10}  check",
            "device", "households", "expected"
        );
        let check = |same: bool| if same { "ok" } else { "MISMATCH" };
        let all = self.expected.iter().map(BTreeMap::len).sum::<usize>();
        let laptop_ok = laptop.len() == all
            && self
                .expected
                .iter()
                .flatten()
                .all(|(key, heads)| laptop.get(key) == Some(heads));
        println!(
            "{:<12} {:>10} {:>10}  {}",
            "supervisor",
            laptop.len(),
            all,
            check(laptop_ok)
        );
        for (index, (phone, expected)) in phones.iter().zip(&self.expected).enumerate() {
            println!(
                "{:<12} {:>10} {:>10}  {}",
                format!("chw-{:02}", index + 1),
                phone.len(),
                expected.len(),
                check(phone == expected)
            );
        }
        println!();
        match converged_after {
            Some(after) => println!("converged in {:.2} s", after.as_secs_f64()),
            None => println!("NOT converged within the deadline"),
        }
        println!(
            "laptop: {} sessions ({} not in sync), {} documents received, {} sent, {} in, {} out",
            traffic.sessions,
            traffic.failed,
            traffic.docs_received,
            traffic.docs_sent,
            mib(traffic.bytes_in),
            mib(traffic.bytes_out)
        );
        if !peak_rss.is_empty() {
            println!("peak RSS per node:");
            for (device, bytes) in peak_rss {
                println!("  {device:<12} {}", mib(*bytes));
            }
        }
        println!(
            "{}",
            if ok && converged_after.is_some() {
                "every device holds exactly what it should"
            } else {
                "the devices did NOT converge"
            }
        );
        Ok(ok && converged_after.is_some())
    }

    /// The same meetup with each device as its own `kafo serve` process.
    fn run_as_processes(self, args: &Args) -> anyhow::Result<bool> {
        let kafo = kafo_binary()?;
        let dirs: Vec<PathBuf> = std::iter::once(&self.supervisor)
            .chain(&self.chws)
            .map(|node| node.data_dir().to_path_buf())
            .collect();
        // The processes hold the stores while they run: release them here.
        let Self {
            program,
            supervisor,
            chws,
            expected,
        } = self;
        drop((supervisor, chws));

        let (lines, receiver) = mpsc::channel();
        let area = area_scope(&program)?.to_string();
        let start = Instant::now();
        let mut laptop = Device::spawn(&kafo, &dirs[0], &["--scope", &area], 0, &lines)?;
        let laptop_addr = laptop.addr.clone();
        let mut devices = Vec::new();
        for (index, dir) in dirs.iter().enumerate().skip(1) {
            devices.push(Device::spawn(
                &kafo,
                dir,
                &["--peer", &laptop_addr.to_string()],
                index,
                &lines,
            )?);
        }

        let bar = ProgressBar::new(devices.len() as u64).with_style(ProgressStyle::with_template(
            "laptop in sync with {pos:>2}/{len} phones [{bar:30}] {elapsed_precise} {msg}",
        )?);
        let mut traffic = Traffic::default();
        let mut synced: BTreeMap<String, u32> = BTreeMap::new();
        let mut running = 0i64;
        let mut last_finished = None;
        let mut quiet_since = Instant::now();
        let phone_ids: Vec<String> = devices.iter().map(|device| device.peer.clone()).collect();
        let converged_after = loop {
            if start.elapsed() > args.deadline {
                break None;
            }
            match receiver.recv_timeout(Duration::from_millis(100)) {
                Ok((0, event)) => match event["event"].as_str() {
                    Some("session_started") => running += 1,
                    Some("session_finished") => {
                        running -= 1;
                        quiet_since = Instant::now();
                        last_finished = Some(start.elapsed());
                        let report = &event["report"];
                        traffic.sessions += 1;
                        traffic.failed += u64::from(report["in_sync"] != true);
                        traffic.docs_received += report["docs_received"].as_u64().unwrap_or(0);
                        traffic.docs_sent += report["docs_sent"].as_u64().unwrap_or(0);
                        traffic.bytes_in += report["bytes_received"].as_u64().unwrap_or(0);
                        traffic.bytes_out += report["bytes_sent"].as_u64().unwrap_or(0);
                        if report["in_sync"] == true
                            && let Some(peer) = event["peer"].as_str()
                        {
                            *synced.entry(peer.to_owned()).or_default() += 1;
                        }
                        bar.set_position(
                            phone_ids
                                .iter()
                                .filter(|id| synced.contains_key(*id))
                                .count() as u64,
                        );
                    }
                    _ => {}
                },
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            }
            bar.set_message(format!(
                "{} sessions, {} in",
                traffic.sessions,
                mib(traffic.bytes_in)
            ));
            let everyone = phone_ids.iter().all(|id| synced.contains_key(id));
            // In sync with every phone, and nothing running for a while: done (the
            // stores are checked once the processes stopped).
            if everyone && running <= 0 && quiet_since.elapsed() > Duration::from_millis(1500) {
                break last_finished;
            }
        };
        bar.finish_and_clear();

        let mut peak_rss = BTreeMap::new();
        peak_rss.insert("supervisor".to_owned(), laptop.peak_rss()?);
        for (index, device) in devices.iter().enumerate() {
            peak_rss.insert(format!("chw-{:02}", index + 1), device.peak_rss()?);
        }
        for device in devices.iter_mut().chain(std::iter::once(&mut laptop)) {
            device.stop()?;
        }
        let supervisor = Arc::new(Node::open(&dirs[0])?);
        let chws = dirs[1..]
            .iter()
            .map(|dir| Node::open(dir).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let meetup = Meetup {
            program,
            supervisor,
            chws,
            expected,
        };
        meetup.report(converged_after, &traffic, &peak_rss)
    }
}

/// A `kafo serve` child process.
struct Device {
    child: Child,
    addr: Multiaddr,
    peer: String,
}

impl Device {
    /// Starts `kafo serve` on `dir` and waits for its listen address; its JSON events
    /// go to `lines` tagged with `index`.
    fn spawn(
        kafo: &Path,
        dir: &Path,
        extra: &[&str],
        index: usize,
        lines: &mpsc::Sender<(usize, serde_json::Value)>,
    ) -> anyhow::Result<Self> {
        let mut child = std::process::Command::new(kafo)
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--json",
                "serve",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--no-mdns",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", kafo.display()))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let addr: Multiaddr = loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("kafo serve exited before listening");
            }
            let event: serde_json::Value = serde_json::from_str(&line)?;
            if event["event"] == "listening" {
                break event["addr"].as_str().context("an address")?.parse()?;
            }
        };
        let peer = addr
            .to_string()
            .rsplit('/')
            .next()
            .context("the address ends in the peer id")?
            .to_owned();
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                let Ok(event) = serde_json::from_str(&line) else {
                    continue;
                };
                if lines.send((index, event)).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, addr, peer })
    }

    /// The process's peak resident set size so far (VmHWM).
    fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .context("VmHWM in /proc/PID/status")?;
        Ok(kib * 1024)
    }

    /// SIGTERM, then waits for the process to finish its sessions and exit.
    fn stop(&mut self) -> anyhow::Result<()> {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("kafo serve exited with {status}");
        }
        Ok(())
    }
}

/// The release `kafo` binary beside this example's own directory.
fn kafo_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the example runs from target/<profile>/examples")?;
    let kafo = profile_dir.join("kafo");
    if !kafo.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release -p kafo-cli`",
            kafo.display()
        );
    }
    Ok(kafo)
}
