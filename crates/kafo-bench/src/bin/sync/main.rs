//! Sync benchmark: Kafo's protocol between two real stores against the naive reference
//! (automerge's per-document sync, as automerge-repo and samod run it), measured in the
//! same run on the same kafo-gen data (one household per document).
//!
//! Scenarios: an empty device pulls 120, 1,200 and 6,840 households; a meetup of two
//! devices sharing 1,200 households that each recorded one visit in 1% of them (different
//! households); the same meetup where 6 of those households were edited on both devices;
//! two identical devices with 6,840 households meet. Each sync runs in a
//! child process (both devices in it, one thread, storage on real sled stores in temp
//! dirs) so its peak RSS is its own; the parent checks that both stores converged.
//!
//! Then trust on against trust off (`trust.rs`): the 6,840 pull and the handshake's
//! round trips through the real `Node::sync_over`.
//!
//! `cargo run --release -p kafo-bench --bin sync` (options: `--seed S`; `--pulls-only`
//! runs only the three pulls, e.g. to compare storage engines; `--trust-only`
//! runs only the trust comparison; `--trust-profile on|off` one pull of one mode, for a
//! profiler).

mod lockstep;
mod naive;
mod phase;
mod trust;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kafo::model::record::{Visit, VisitKind};
use kafo::model::{HouseholdScope, Scope};
use kafo::store::Store;
use kafo::{ImportOptions, Node};
use kafo_bench::{copy_dir, mib, row};
use kafo_gen::GeneratorConfig;

use phase::{Measured, Protocol, scopes_arg};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--phase") {
        return phase::run(&args[2..]);
    }
    let seed = flag(&args, "--seed").unwrap_or(kafo_gen::DEFAULT_SEED);
    let work = tempfile::tempdir()?;
    let program = GeneratorConfig {
        seed,
        ..GeneratorConfig::default()
    };
    let meetup = GeneratorConfig {
        chws: 10,
        ..program.clone()
    };
    let built = Instant::now();
    let program_dir = build(&program, &work.path().join("program"))?;
    let area_scope = Scope::area(program.areas[0].clone());
    if let Some(mode) = args
        .iter()
        .position(|arg| arg == "--trust-profile")
        .and_then(|at| args.get(at + 1))
    {
        return trust::profile(&program_dir, &area_scope, work.path(), mode);
    }
    if args.iter().any(|arg| arg == "--trust-only") {
        println!(
            "data: kafo-gen seed {seed}; {} households, built in {:.1} s",
            program.household_count(),
            built.elapsed().as_secs_f64()
        );
        return trust::compare(&program_dir, &area_scope, work.path());
    }
    let caseloads: Vec<Scope> = program
        .scopes()
        .into_iter()
        .map(|scope: HouseholdScope| Scope::chw(scope.area, scope.chw))
        .collect();
    let area = vec![Scope::area(program.areas[0].clone())];
    let compacted = compacted_sizes(&program_dir, &caseloads)?;
    println!(
        "data: kafo-gen seed {seed}; {} households in {} CHWs' caseloads ({} compacted), \
         built in {:.1} s",
        program.household_count(),
        program.chws,
        mib(compacted.all),
        built.elapsed().as_secs_f64()
    );
    println!(
        "one durable store write (a small batch, applied and flushed): {:.2} ms\n",
        durable_write(&work.path().join("probe"))?.as_secs_f64() * 1e3
    );

    let pulls = [
        Scenario::pull(
            "pull 120",
            &program_dir,
            &area,
            caseloads[..1].to_vec(),
            compacted.first,
        ),
        Scenario::pull(
            "pull 1,200",
            &program_dir,
            &area,
            caseloads[..10].to_vec(),
            compacted.ten,
        ),
        Scenario::pull(
            "pull 6,840",
            &program_dir,
            &area,
            area.clone(),
            compacted.all,
        ),
    ];
    if args.iter().any(|arg| arg == "--pulls-only") {
        header();
        for scenario in &pulls {
            let kafo = scenario.measure(Protocol::Kafo, work.path())?;
            let naive = scenario.measure(Protocol::Naive, work.path())?;
            print_scenario(scenario, &kafo, &naive);
        }
        return Ok(());
    }
    let meetup_dir = build(&meetup, &work.path().join("meetup"))?;
    let (meet_a, meet_b) = meetup_devices(&meetup_dir, &work.path().join("meetup-devices"), 0)?;
    let (both_a, both_b) = meetup_devices(&meetup_dir, &work.path().join("overlap-devices"), 6)?;
    let mut scenarios = Vec::from(pulls);
    scenarios.extend([
        Scenario {
            name: "meetup 1,200 / 1%",
            a: meet_a,
            b: Some(meet_b),
            scopes_a: area.clone(),
            scopes_b: area.clone(),
            share: area.clone(),
            compacted: None,
        },
        Scenario {
            name: "meetup, 6 shared edits",
            a: both_a,
            b: Some(both_b),
            scopes_a: area.clone(),
            scopes_b: area.clone(),
            share: area.clone(),
            compacted: None,
        },
        Scenario {
            name: "nothing changed 6,840",
            a: program_dir.clone(),
            b: Some(program_dir.clone()),
            scopes_a: area.clone(),
            scopes_b: area.clone(),
            share: area.clone(),
            compacted: None,
        },
    ]);
    let mut results = Vec::new();
    header();
    for scenario in &scenarios {
        let kafo = scenario.measure(Protocol::Kafo, work.path())?;
        let naive = scenario.measure(Protocol::Naive, work.path())?;
        print_scenario(scenario, &kafo, &naive);
        results.push((scenario, kafo, naive));
    }
    println!();
    targets(&results)?;
    trust::compare(&program_dir, &area_scope, work.path())
}

/// One sync to measure: device A (a store to copy), device B (a copy, or empty).
struct Scenario {
    name: &'static str,
    a: PathBuf,
    b: Option<PathBuf>,
    scopes_a: Vec<Scope>,
    scopes_b: Vec<Scope>,
    share: Vec<Scope>,
    /// Sum of the `save()` sizes of the documents a pull moves.
    compacted: Option<u64>,
}

impl Scenario {
    /// An empty device taking `scopes` pulls them from `source`.
    fn pull(
        name: &'static str,
        source: &Path,
        offers: &[Scope],
        scopes: Vec<Scope>,
        compacted: u64,
    ) -> Self {
        Self {
            name,
            a: source.to_path_buf(),
            b: None,
            scopes_a: offers.to_vec(),
            scopes_b: scopes.clone(),
            share: scopes,
            compacted: Some(compacted),
        }
    }

    /// Runs the sync in a child process on fresh copies, then checks convergence.
    fn measure(&self, protocol: Protocol, work: &Path) -> anyhow::Result<Measured> {
        let run = work.join(format!("run-{}", protocol.name()));
        if run.exists() {
            std::fs::remove_dir_all(&run)?;
        }
        let (dir_a, dir_b) = (run.join("a"), run.join("b"));
        copy_dir(&self.a, &dir_a)?;
        match &self.b {
            Some(b) => copy_dir(b, &dir_b)?,
            None => drop(Node::open(&dir_b)?),
        }
        let me = std::env::current_exe()?;
        let output = Command::new(me)
            .arg("--phase")
            .arg(protocol.name())
            .arg(&dir_a)
            .arg(&dir_b)
            .arg(scopes_arg(&self.scopes_a))
            .arg(scopes_arg(&self.scopes_b))
            .arg(scopes_arg(&self.share))
            .output()
            .context("running a measured sync")?;
        if !output.status.success() {
            bail!(
                "{} / {} failed: {}",
                self.name,
                protocol.name(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8(output.stdout)?;
        let mut measured = Measured::from_line(stdout.lines().last().context("no result line")?)?;
        measured.details = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .map(|line| format!("{}: {line}", protocol.name()))
            .collect();
        let (a, b) = (Store::open(&dir_a)?, Store::open(&dir_b)?);
        for scope in &self.share {
            let (left, right) = (a.scope_fingerprint(scope)?, b.scope_fingerprint(scope)?);
            if left != right || left.count == 0 {
                bail!(
                    "{} / {}: devices differ in {scope} after the sync",
                    self.name,
                    protocol.name()
                );
            }
        }
        drop((a, b));
        std::fs::remove_dir_all(&run)?;
        Ok(measured)
    }
}

/// Builds a device store holding `config`'s caseloads, through the public import.
fn build(config: &GeneratorConfig, dir: &Path) -> anyhow::Result<PathBuf> {
    let json = dir.with_extension("jsonl");
    let mut writer = std::io::BufWriter::new(std::fs::File::create(&json)?);
    kafo_gen::write_jsonl(config, &mut writer)?;
    drop(writer);
    let node = Node::open(dir)?;
    let reader = std::io::BufReader::new(std::fs::File::open(&json)?);
    node.import(reader, &ImportOptions::default(), |_| {})?;
    std::fs::remove_file(&json)?;
    Ok(dir.to_path_buf())
}

/// Two copies of the meetup store; each records a visit in 1% of the households. A visits
/// every 100th household from the first; B the first `overlap` of those too (concurrent
/// edits of the same documents), then every 100th from the 51st.
fn meetup_devices(base: &Path, work: &Path, overlap: usize) -> anyhow::Result<(PathBuf, PathBuf)> {
    let mut dirs = Vec::new();
    for name in ["a", "b"] {
        let dir = work.join(name);
        copy_dir(base, &dir)?;
        let node = Node::open(&dir)?;
        let households = node.households(None, None)?;
        let visited = (0..households.len() / 100).map(|k| match name {
            "b" if k >= overlap => k * 100 + 50,
            _ => k * 100,
        });
        for listing in visited.filter_map(|index| households.get(index)) {
            let view = node
                .household(&listing.id)?
                .context("a listed household is held")?;
            let person = view
                .household
                .members
                .first()
                .context("households have members")?;
            let visit = Visit {
                id: format!("{}.meetup-{name}", listing.id).parse()?,
                person_id: person.id.clone(),
                date: "2026-01-02".parse()?,
                chw: listing.chw.clone(),
                kind: VisitKind::Routine,
                weight_kg: None,
                height_cm: None,
                muac_mm: None,
                danger_signs: Vec::new(),
                vaccines: Vec::new(),
                referral: None,
                note: None,
            };
            node.add_visit(&listing.id, &visit)?;
        }
        dirs.push(dir);
    }
    let [a, b] = <[PathBuf; 2]>::try_from(dirs).map_err(|_| anyhow::anyhow!("two devices"))?;
    Ok((a, b))
}

/// The mean time of one small durable write on this machine's disk.
fn durable_write(dir: &Path) -> anyhow::Result<Duration> {
    const WRITES: u32 = 200;
    let store = Store::open(dir)?;
    let started = Instant::now();
    for n in 0..WRITES {
        store.put_meta("bench-probe", &n.to_be_bytes())?;
    }
    Ok(started.elapsed() / WRITES)
}

/// What the pulls must move at least: the compacted documents.
struct Compacted {
    first: u64,
    ten: u64,
    all: u64,
}

fn compacted_sizes(dir: &Path, caseloads: &[Scope]) -> anyhow::Result<Compacted> {
    let store = Store::open(dir)?;
    let mut sizes = Vec::with_capacity(caseloads.len());
    for scope in caseloads {
        let mut size = 0u64;
        for item in store.scope_items(scope) {
            let id = item?.id;
            let mut doc = store
                .document(&id)?
                .context("an indexed household is held")?;
            size += doc.save().len() as u64;
        }
        sizes.push(size);
    }
    Ok(Compacted {
        first: sizes.iter().take(1).sum(),
        ten: sizes.iter().take(10).sum(),
        all: sizes.iter().sum(),
    })
}

fn header() {
    println!(
        "columns: messages = Kafo frames / naive sync messages, both ways; docs = documents \
         received by either side;\n  RTT = latency in round trips (both devices start at once, \
         one-way trips / 2); report RT = the larger SessionReport::round_trips of the two sides;\n  \
         wall = both devices in one thread on real stores, storage included (on two devices \
         sender and receiver overlap);\n  peak RSS = both devices, stores open; naive bytes count \
         a minimal envelope per message (4-byte length + document id).\n"
    );
    println!(
        "{:<22} {:<6} {:>11} {:>11} {:>9} {:>7} {:>6} {:>9} {:>9} {:>10}",
        "scenario",
        "",
        "bytes A->B",
        "bytes B->A",
        "messages",
        "docs",
        "RTT",
        "report RT",
        "wall",
        "peak RSS"
    );
}

fn print_scenario(scenario: &Scenario, kafo: &Measured, naive: &Measured) {
    for (protocol, m) in [("kafo", kafo), ("naive", naive)] {
        println!(
            "{:<22} {:<6} {:>11} {:>11} {:>9} {:>7} {:>6.1} {:>9} {:>9} {:>10}",
            scenario.name,
            protocol,
            m.bytes_ab,
            m.bytes_ba,
            m.messages_ab + m.messages_ba,
            m.docs_moved,
            m.round_trips(),
            m.report_round_trips
                .map_or("-".to_string(), |rt| rt.to_string()),
            format!("{:.3} s", m.wall.as_secs_f64()),
            mib(m.peak_rss)
        );
    }
    for detail in kafo.details.iter().chain(&naive.details) {
        println!("{:<22} {detail}", "");
    }
    let compacted = scenario
        .compacted
        .map(|size| {
            format!(
                ", kafo bytes / compacted documents {:.2}",
                kafo.bytes() as f64 / size as f64
            )
        })
        .unwrap_or_default();
    println!(
        "{:<22} naive/kafo: bytes {:.1}x, wall {:.1}x, RTT {:.1}x{compacted}",
        "",
        ratio(naive.bytes() as f64, kafo.bytes() as f64),
        ratio(naive.wall.as_secs_f64(), kafo.wall.as_secs_f64()),
        ratio(naive.round_trips(), kafo.round_trips()),
    );
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        f64::INFINITY
    }
}

/// Prints the targets with ok / MISSED.
fn targets(results: &[(&Scenario, Measured, Measured)]) -> anyhow::Result<()> {
    let find = |name: &str| {
        results
            .iter()
            .find(|(scenario, _, _)| scenario.name == name)
            .with_context(|| format!("scenario {name} ran"))
    };
    let report_rt = |m: &Measured| m.report_round_trips.unwrap_or(u32::MAX);
    let (_, kafo, naive) = find("nothing changed 6,840")?;
    row(
        "nothing changed: round trips",
        &report_rt(kafo).to_string(),
        "1",
        report_rt(kafo) <= 1,
    );
    row(
        "  (latency: RTT, both start at once)",
        &format!("{:.1}", kafo.round_trips()),
        "1",
        kafo.round_trips() <= 1.0,
    );
    row(
        "nothing changed: bytes",
        &kafo.bytes().to_string(),
        "< 1,024",
        kafo.bytes() < 1024,
    );
    let fewer = ratio(naive.bytes() as f64, kafo.bytes() as f64);
    row(
        "nothing changed: naive/kafo bytes",
        &format!("{fewer:.0}x"),
        ">= 100x",
        fewer >= 100.0,
    );
    let (_, kafo, naive) = find("meetup 1,200 / 1%")?;
    let fewer = ratio(naive.bytes() as f64, kafo.bytes() as f64);
    row(
        "meetup: naive/kafo bytes",
        &format!("{fewer:.1}x"),
        ">= 10x",
        fewer >= 10.0,
    );
    let faster = ratio(naive.wall.as_secs_f64(), kafo.wall.as_secs_f64());
    row(
        "meetup: naive/kafo wall time",
        &format!("{faster:.1}x"),
        ">= 5x",
        faster >= 5.0,
    );
    row(
        "meetup: round trips",
        &report_rt(kafo).to_string(),
        "<= 4",
        report_rt(kafo) <= 4,
    );
    row(
        "  (latency: RTT, both start at once)",
        &format!("{:.1}", kafo.round_trips()),
        "<= 4",
        kafo.round_trips() <= 4.0,
    );
    let (scenario, kafo, _) = find("pull 6,840")?;
    let seconds = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    row(
        "pull 6,840: wall time",
        &seconds(kafo.wall),
        "<= 10 s",
        kafo.wall <= Duration::from_secs(10),
    );
    let compacted = scenario.compacted.unwrap_or(1);
    let share = kafo.bytes() as f64 / compacted as f64;
    row(
        "pull 6,840: bytes / compacted docs",
        &format!("{share:.2}"),
        "<= 1.20",
        share <= 1.2,
    );
    Ok(())
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}
