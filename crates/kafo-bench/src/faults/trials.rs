//! The trials: one operation on a copy of the fixture's store, a fault during it (the
//! disk fills, or the process is killed), then the checks: the store opens and is
//! healthy, every acknowledged household and visit is there, and the operation
//! completes when run again.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::bail;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::disk::SmallDisk;
use super::driver::{ImportEnd, VisitArgs, wait_until};
use super::fixture::Fixture;
use crate::copy_dir as copy_store;

/// What a trial does when the fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// `kafo import` of the extra households.
    Import,
    /// `kafo sync --stdio` receiving the extra households from a peer.
    SyncReceive,
    /// `kafo visit add`, over and over on one household (its document is compacted
    /// every few visits).
    VisitsAndCompaction,
    /// Opening and closing the store (`kafo status`), on a full disk or killed.
    OpenClose,
}

impl Operation {
    /// Every operation, in the order trials cycle through them.
    pub const ALL: [Operation; 4] = [
        Operation::Import,
        Operation::SyncReceive,
        Operation::VisitsAndCompaction,
        Operation::OpenClose,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::SyncReceive => "sync receive",
            Self::VisitsAndCompaction => "visits + compaction",
            Self::OpenClose => "open/close",
        }
    }
}

/// The fault a trial injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The disk is nearly full when the operation starts (a random amount left).
    DiskFullBefore,
    /// Another app fills the disk while the operation runs (at a random moment).
    DiskFillsDuring,
    /// SIGKILL at a random moment of the operation.
    Kill,
}

impl Fault {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::DiskFullBefore => "disk full before",
            Self::DiskFillsDuring => "disk fills during",
            Self::Kill => "SIGKILL",
        }
    }
}

/// What one trial found.
#[derive(Debug, Clone, Default)]
pub struct TrialResult {
    /// The fault hit the operation (the disk was full when it wrote, or the process
    /// was killed before it ended).
    pub fault_hit: bool,
    /// The store did not open, or `kafo doctor` found problems.
    pub damaged: bool,
    /// Acknowledged households or visits missing afterwards.
    pub lost: u64,
    /// The operation did not complete when run again with space.
    pub not_resumed: bool,
    /// A read failed while the disk was full.
    pub read_failed_while_full: bool,
    /// What went wrong, for the report.
    pub detail: Option<String>,
}

impl TrialResult {
    /// Whether the trial found nothing wrong.
    pub fn passed(&self) -> bool {
        !self.damaged && self.lost == 0 && !self.not_resumed && !self.read_failed_while_full
    }
}

/// What the operation acknowledged before the fault: these must survive.
#[derive(Debug, Default)]
struct Acknowledged {
    /// Households (from the extra file) the operation acknowledged as written.
    extra_households: usize,
    /// Visits `kafo visit add` acknowledged: (household, visit id).
    visits: Vec<(String, String)>,
}

/// Runs one trial on `disk` (wiped first) or, for kills, in `scratch`.
pub fn run_trial(
    fixture: &Fixture,
    disk: &SmallDisk,
    scratch: &Path,
    operation: Operation,
    fault: Fault,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<TrialResult> {
    let kafo = &fixture.kafo;
    let root = if fault == Fault::Kill {
        scratch
    } else {
        disk.path()
    };
    if fault == Fault::Kill {
        let _ = std::fs::remove_dir_all(scratch);
        std::fs::create_dir_all(scratch)?;
    } else {
        disk.wipe()?;
        std::fs::create_dir_all(scratch)?;
    }
    let store = root.join("store");
    copy_store(&fixture.base_store, &store)?;
    let sender = scratch.join("sender");
    if operation == Operation::SyncReceive {
        let _ = std::fs::remove_dir_all(&sender);
        copy_store(&fixture.sender_store, &sender)?;
    }

    let mut result = TrialResult::default();
    let mut filler = None;
    let growth = fixture.growth(operation);
    // A full disk from the start hits when less is left than the operation needs.
    let mut full_at_start = false;
    if fault == Fault::DiskFullBefore {
        let leave = rng.random_range(0..=growth + growth / 5);
        filler = Some(disk.fill_leaving(leave)?);
        full_at_start = leave < growth;
    }
    // Faults land anywhere in the operation (a kill also just after it, which must
    // be harmless); a filling disk takes a moment to fill, so it starts earlier.
    let typical = fixture.duration(operation);
    let spread = if fault == Fault::DiskFillsDuring {
        0.8
    } else {
        1.1
    };
    let fault_at = typical.mul_f64(rng.random_range(0.0..spread));
    let acknowledged = match operation {
        Operation::VisitsAndCompaction => run_visits(
            fixture,
            &store,
            fault,
            fault_at,
            disk,
            &mut filler,
            &mut result,
        )?,
        _ => {
            let mut running = spawn_operation(fixture, &store, &sender, operation)?;
            let ended = inject(running.main_child(), fault, fault_at, disk, &mut filler)?;
            // A full disk from the start hits only if the operation fails for it.
            result.fault_hit = if fault == Fault::DiskFullBefore {
                full_at_start
            } else {
                !ended
            };
            match finish_operation(running, operation, fault, &mut result) {
                Ok(acknowledged) => acknowledged,
                Err(error) => {
                    // A hang or an unclean end is a failed trial, not a failed suite.
                    result.not_resumed = true;
                    result.detail = Some(format!("{error:#}"));
                    Acknowledged::default()
                }
            }
        }
    };
    result.fault_hit |= full_at_start;

    if filler.is_some() || fault == Fault::DiskFullBefore {
        // Reads work while the disk is full.
        if fault != Fault::Kill {
            disk.fill_leaving(0).ok();
            if let Err(error) = kafo
                .ok(&store, &["status"])
                .and_then(|_| kafo.export(&store))
            {
                result.read_failed_while_full = true;
                result.detail = Some(format!("read on a full disk: {error:#}"));
            }
        }
        let _ = std::fs::remove_file(disk.path().join("filler.bin"));
    }

    check_survivors(fixture, &store, &acknowledged, &mut result)?;
    if !result.damaged {
        resume(fixture, &store, &sender, operation, &mut result)?;
    }
    Ok(result)
}

fn spawn_operation(
    fixture: &Fixture,
    store: &Path,
    sender: &Path,
    operation: Operation,
) -> anyhow::Result<Running> {
    let kafo = &fixture.kafo;
    Ok(match operation {
        Operation::Import => Running::One(
            kafo.command(store)
                .arg("import")
                .arg(&fixture.extra_file)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()?,
        ),
        Operation::OpenClose => Running::One(
            kafo.command(store)
                .arg("status")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()?,
        ),
        Operation::SyncReceive => Running::Sync(kafo.spawn_sync(store, sender, &fixture.areas)?),
        Operation::VisitsAndCompaction => bail!("visits run one process per visit"),
    })
}

/// A running operation: one process, or the two sides of a sync.
#[derive(Debug)]
enum Running {
    One(Child),
    Sync(super::driver::SyncPair),
}

impl Running {
    fn main_child(&mut self) -> &mut Child {
        match self {
            Self::One(child) => child,
            Self::Sync(pair) => &mut pair.receiver,
        }
    }
}

/// Waits until `fault_at`, then injects the fault unless the operation already
/// ended. Returns whether it had ended before the fault.
fn inject(
    child: &mut Child,
    fault: Fault,
    fault_at: Duration,
    disk: &SmallDisk,
    filler: &mut Option<std::path::PathBuf>,
) -> anyhow::Result<bool> {
    if fault == Fault::DiskFullBefore {
        return Ok(false);
    }
    let deadline = Instant::now() + fault_at;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    if child.try_wait()?.is_some() {
        return Ok(true);
    }
    match fault {
        Fault::Kill => {
            let _ = child.kill();
        }
        Fault::DiskFillsDuring => *filler = Some(disk.fill_leaving(0)?),
        Fault::DiskFullBefore => {}
    }
    Ok(false)
}

/// Waits for the operation; what it acknowledged.
fn finish_operation(
    running: Running,
    operation: Operation,
    fault: Fault,
    result: &mut TrialResult,
) -> anyhow::Result<Acknowledged> {
    let limit = Duration::from_secs(60);
    match running {
        Running::One(mut child) => {
            let status = wait_until(&mut child, limit)?;
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            if status.code().is_none() {
                return Ok(Acknowledged::default()); // killed: acknowledged nothing
            }
            if operation == Operation::Import {
                let output = std::process::Output {
                    status,
                    stdout: Vec::new(),
                    stderr: stderr.into_bytes(),
                };
                match super::driver::import_end(&output) {
                    Ok(ImportEnd::Complete) => {
                        return Ok(Acknowledged {
                            extra_households: usize::MAX,
                            visits: Vec::new(),
                        });
                    }
                    Ok(ImportEnd::Interrupted { written }) => {
                        result.fault_hit = true;
                        return Ok(Acknowledged {
                            extra_households: written,
                            visits: Vec::new(),
                        });
                    }
                    Ok(ImportEnd::NothingWritten) => result.fault_hit = true,
                    Err(error) => {
                        result.not_resumed = true;
                        result.detail = Some(format!("unclean stop: {error:#}"));
                    }
                }
            } else if !status.success() {
                // Opening and reading must work on a full disk.
                result.fault_hit = true;
                result.read_failed_while_full = fault != Fault::Kill;
                result.detail = Some(format!("open/close ended {status}: {}", stderr.trim()));
            }
            Ok(Acknowledged::default())
        }
        Running::Sync(pair) => {
            let ((receiver, receiver_err), _) = pair.wait(limit)?;
            if !receiver.success() {
                result.fault_hit = true;
                if receiver.code().is_some()
                    && receiver.code() != Some(74)
                    && receiver.code() != Some(1)
                {
                    result.detail = Some(format!("sync ended {receiver}: {}", receiver_err.trim()));
                }
            }
            // A sync acknowledges to nobody; what it wrote is checked by `doctor`.
            Ok(Acknowledged::default())
        }
    }
}

/// Adds visits one process at a time until one fails; the fault hits at `fault_at`.
fn run_visits(
    fixture: &Fixture,
    store: &Path,
    fault: Fault,
    fault_at: Duration,
    disk: &SmallDisk,
    filler: &mut Option<std::path::PathBuf>,
    result: &mut TrialResult,
) -> anyhow::Result<Acknowledged> {
    let mut acknowledged = Acknowledged::default();
    let started = Instant::now();
    let (household, person) = &fixture.visit_target;
    for n in 0..fixture.visits_per_trial {
        let id = format!("{household}.fault-v{n:03}");
        let args = VisitArgs {
            household,
            person,
            date: "2026-11-20",
            id: &id,
        };
        let mut child = fixture
            .kafo
            .visit_command(store, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let remaining = fault_at.saturating_sub(started.elapsed());
        // The fault comes once: a kill, or the disk filling; after the disk is full
        // the loop goes on until a visit is refused.
        let ended = if filler.is_none() || fault == Fault::Kill {
            inject(&mut child, fault, remaining, disk, filler)?
        } else {
            true
        };
        let status = wait_until(&mut child, Duration::from_secs(30))?;
        if status.success() {
            acknowledged.visits.push((household.clone(), id));
        } else {
            result.fault_hit = true;
            break;
        }
        if !ended && fault == Fault::Kill {
            break;
        }
    }
    Ok(acknowledged)
}

fn check_survivors(
    fixture: &Fixture,
    store: &Path,
    acknowledged: &Acknowledged,
    result: &mut TrialResult,
) -> anyhow::Result<()> {
    let kafo = &fixture.kafo;
    let (healthy, said) = kafo.healthy(store)?;
    if !healthy {
        result.damaged = true;
        result.detail = Some(format!("doctor: {said}"));
        return Ok(());
    }
    let exported = match kafo.export(store) {
        Ok(lines) => lines,
        Err(error) => {
            result.damaged = true;
            result.detail = Some(format!("export: {error:#}"));
            return Ok(());
        }
    };
    let mut lost = 0;
    for (id, line) in &fixture.base_lines {
        let kept = exported
            .get(id)
            .is_some_and(|now| now == line || fixture.visit_target.0 == *id);
        lost += u64::from(!kept);
    }
    let extra_acknowledged = acknowledged.extra_households.min(fixture.extra_lines.len());
    for (id, line) in &fixture.extra_lines[..extra_acknowledged] {
        lost += u64::from(exported.get(id) != Some(line));
    }
    for (household, visit) in &acknowledged.visits {
        let needle = format!("\"id\":\"{visit}\"");
        lost += u64::from(
            !exported
                .get(household)
                .is_some_and(|line| line.contains(&needle)),
        );
    }
    if lost > 0 {
        result.lost = lost;
        result.detail = Some(format!("{lost} acknowledged record(s) missing"));
    }
    Ok(())
}

/// Runs the operation again with space and no fault: it must complete.
fn resume(
    fixture: &Fixture,
    store: &Path,
    sender: &Path,
    operation: Operation,
    result: &mut TrialResult,
) -> anyhow::Result<()> {
    let kafo = &fixture.kafo;
    let outcome: anyhow::Result<()> = (|| {
        match operation {
            Operation::Import => {
                let end = kafo.import(store, &fixture.extra_file)?;
                if end != ImportEnd::Complete {
                    bail!("the import again did not complete: {end:?}");
                }
            }
            Operation::OpenClose => {
                // The next import completes (a few households: opening is what was faulted).
                let end = kafo.import(store, &fixture.small_file)?;
                if end != ImportEnd::Complete {
                    bail!("the next import did not complete: {end:?}");
                }
            }
            Operation::SyncReceive => {
                let ((receiver, receiver_err), (sender_status, _)) = kafo
                    .spawn_sync(store, sender, &fixture.areas)?
                    .wait(Duration::from_secs(60))?;
                if !receiver.success() || !sender_status.success() {
                    bail!("the sync again did not reach sync: {}", receiver_err.trim());
                }
            }
            Operation::VisitsAndCompaction => {
                let (household, person) = &fixture.visit_target;
                let id = format!("{household}.fault-resume");
                let args = VisitArgs {
                    household,
                    person,
                    date: "2026-11-21",
                    id: &id,
                };
                let output = kafo.add_visit(store, &args)?;
                if !output.status.success() {
                    bail!(
                        "the next visit was refused: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    );
                }
                return Ok(());
            }
        }
        let exported = kafo.export(store)?;
        let extra = if operation == Operation::OpenClose {
            &fixture.extra_lines[..fixture.small_count]
        } else {
            &fixture.extra_lines[..]
        };
        for (id, line) in fixture
            .base_lines
            .iter()
            .chain(extra.iter().map(|(id, line)| (id, line)))
        {
            if exported.get(id) != Some(line) {
                bail!("after the operation completed, household {id} differs or is missing");
            }
        }
        Ok(())
    })();
    if let Err(error) = outcome {
        result.not_resumed = true;
        result.detail = Some(format!("{error:#}")).or(result.detail.take());
    }
    Ok(())
}

/// Names a trial in errors and reports.
pub fn trial_name(operation: Operation, fault: Fault, trial: u32) -> String {
    format!("trial {trial} ({}, {})", operation.name(), fault.name())
}
