//! What every trial starts from: a store of base households, a peer holding those
//! and more, the file of extra households, and how long and how much disk each
//! operation takes without a fault (to place faults across the whole operation).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::driver::{ImportEnd, Kafo, Lines, VisitArgs};
use super::trials::Operation;
use crate::copy_dir as copy_store;

/// Households per generated CHW caseload (kafo-gen's default is about 120).
const CHWS_TO_GENERATE: u32 = 6;

/// The shared starting point of the trials.
#[derive(Debug)]
pub struct Fixture {
    /// The binary under test.
    pub kafo: Kafo,
    /// A closed store holding the base households.
    pub base_store: PathBuf,
    /// A closed store (another device) holding the base households (same history)
    /// and the extra ones: the sender of sync trials.
    pub sender_store: PathBuf,
    /// The extra households, format v1.
    pub extra_file: PathBuf,
    /// The first few extra households, for the import after an open/close trial.
    pub small_file: PathBuf,
    /// How many households `small_file` holds.
    pub small_count: usize,
    /// The base households as the base store exports them.
    pub base_lines: Lines,
    /// The extra households as they export once imported, in file order.
    pub extra_lines: Vec<(String, String)>,
    /// The household and person visit trials add visits to.
    pub visit_target: (String, String),
    /// Visits a visit trial adds at most (more than a compaction's worth).
    pub visits_per_trial: usize,
    /// The areas of the caseload: the scopes sync trials share.
    pub areas: Vec<String>,
    durations: BTreeMap<Operation, Duration>,
    growths: BTreeMap<Operation, u64>,
}

impl Fixture {
    /// Builds the fixture in `work` (a roomy directory) and measures each operation.
    pub fn build(
        kafo: Kafo,
        work: &Path,
        base: usize,
        extra: usize,
        seed: u64,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(work)?;
        let caseload = kafo.generate(work, CHWS_TO_GENERATE, seed, &work.join("caseload.jsonl"))?;
        ensure!(
            caseload.len() >= base + extra,
            "the generated caseload has {} households, fewer than {base} + {extra}",
            caseload.len()
        );
        let write = |name: &str, lines: &[(String, String)]| -> anyhow::Result<PathBuf> {
            let path = work.join(name);
            let text: String = lines.iter().map(|(_, line)| format!("{line}\n")).collect();
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let base_file = write("base.jsonl", &caseload[..base])?;
        let extra_file = write("extra.jsonl", &caseload[base..base + extra])?;
        let small_count = extra.min(10);
        let small_file = write("small.jsonl", &caseload[base..base + small_count])?;

        // The sender imports the base households; the base store gets them by sync,
        // so both hold the same documents; then the sender imports the extra ones.
        let sender_store = work.join("sender");
        let base_store = work.join("base");
        ensure!(
            kafo.import(&sender_store, &base_file)? == ImportEnd::Complete,
            "importing the base households"
        );
        kafo.ok(&base_store, &["init"])?;
        let areas = areas(&caseload)?;
        let ((receiver, said), (sender, _)) = kafo
            .spawn_sync(&base_store, &sender_store, &areas)?
            .wait(Duration::from_secs(120))?;
        ensure!(
            receiver.success() && sender.success(),
            "the fixture's first sync failed: {said}"
        );
        ensure!(
            kafo.import(&sender_store, &extra_file)? == ImportEnd::Complete,
            "importing the extra households"
        );
        let base_lines = kafo.export(&base_store)?;
        ensure!(
            base_lines.len() == base,
            "the base store holds {} households, not {base}",
            base_lines.len()
        );
        let sender_lines = kafo.export(&sender_store)?;
        let extra_lines = caseload[base..base + extra]
            .iter()
            .map(|(id, _)| {
                Ok((
                    id.clone(),
                    sender_lines
                        .get(id)
                        .context("an extra household exports")?
                        .clone(),
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let visit_target = visit_target(&base_lines)?;

        let mut fixture = Self {
            kafo,
            base_store,
            sender_store,
            extra_file,
            small_file,
            small_count,
            base_lines,
            extra_lines,
            visit_target,
            visits_per_trial: 12,
            areas,
            durations: BTreeMap::new(),
            growths: BTreeMap::new(),
        };
        for operation in Operation::ALL {
            let (duration, growth) = fixture.measure(operation, &work.join("measure"))?;
            fixture.durations.insert(operation, duration);
            fixture.growths.insert(operation, growth);
        }
        Ok(fixture)
    }

    /// How long `operation` takes without a fault.
    pub fn duration(&self, operation: Operation) -> Duration {
        self.durations
            .get(&operation)
            .copied()
            .unwrap_or(Duration::from_millis(100))
    }

    /// Bytes `operation` adds to the disk without a fault (at least 64 KiB, so that
    /// open/close trials sweep the space its snapshot needs).
    pub fn growth(&self, operation: Operation) -> u64 {
        self.growths
            .get(&operation)
            .copied()
            .unwrap_or(0)
            .max(64 * 1024)
    }

    /// Bytes the base store takes on disk.
    pub fn base_size(&self) -> anyhow::Result<u64> {
        disk_usage(&self.base_store)
    }

    fn measure(&self, operation: Operation, scratch: &Path) -> anyhow::Result<(Duration, u64)> {
        let _ = std::fs::remove_dir_all(scratch);
        std::fs::create_dir_all(scratch)?;
        let store = scratch.join("store");
        copy_store(&self.base_store, &store)?;
        let sender = scratch.join("sender");
        copy_store(&self.sender_store, &sender)?;
        let before = disk_usage(&store)?;
        let started = Instant::now();
        match operation {
            Operation::Import => {
                ensure!(
                    self.kafo.import(&store, &self.extra_file)? == ImportEnd::Complete,
                    "measuring the import"
                );
            }
            Operation::SyncReceive => {
                let ((receiver, said), _) = self
                    .kafo
                    .spawn_sync(&store, &sender, &self.areas)?
                    .wait(Duration::from_secs(120))?;
                ensure!(receiver.success(), "measuring the sync: {said}");
            }
            Operation::VisitsAndCompaction => {
                let (household, person) = &self.visit_target;
                for n in 0..self.visits_per_trial {
                    let id = format!("{household}.measure-v{n:03}");
                    let args = VisitArgs {
                        household,
                        person,
                        date: "2026-11-20",
                        id: &id,
                    };
                    let output = self.kafo.add_visit(&store, &args)?;
                    if !output.status.success() {
                        bail!(
                            "measuring visits: {}",
                            String::from_utf8_lossy(&output.stderr).trim()
                        );
                    }
                }
            }
            Operation::OpenClose => {
                self.kafo.ok(&store, &["status"])?;
            }
        }
        let duration = started.elapsed();
        let growth = disk_usage(&store)?.saturating_sub(before);
        std::fs::remove_dir_all(scratch)?;
        Ok((duration, growth))
    }
}

/// The first household of the base with a member, and that member.
fn visit_target(lines: &Lines) -> anyhow::Result<(String, String)> {
    for (id, line) in lines {
        let value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(person) = value["members"][0]["id"].as_str() {
            return Ok((id.clone(), person.to_owned()));
        }
    }
    bail!("no base household has a member")
}

/// The distinct areas of a caseload.
fn areas(caseload: &[(String, String)]) -> anyhow::Result<Vec<String>> {
    let mut areas = std::collections::BTreeSet::new();
    for (_, line) in caseload {
        let value: serde_json::Value = serde_json::from_str(line)?;
        areas.insert(
            value["area"]
                .as_str()
                .context("a household has an area")?
                .to_owned(),
        );
    }
    Ok(areas.into_iter().collect())
}

/// Bytes the files under `dir` take on disk (allocated blocks).
pub fn disk_usage(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            disk_usage(&entry.path())?
        } else {
            metadata.blocks() * 512
        };
    }
    Ok(total)
}
