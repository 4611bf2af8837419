//! Checking a device's store, and replacing a damaged one with everything that can
//! still be read from it (`kafo doctor`).
//!
//! [`diagnose`] opens the store the way every command does (which already repairs
//! what interrupted writers leave behind, see [`Store::repaired_files`]), then reads
//! every household document, the device identity and the trust state, and reports
//! what does not read. [`salvage`] copies every readable household, the identity and
//! the trust state into a new store in an empty directory, checks it, and then swaps
//! the directories: the damaged store is kept beside it as `<dir>.damaged-<time>`
//! (for a specialist, never opened again by Kafo), and the new store takes its path,
//! so the app and the CLI carry on with it and both never run.

use std::path::{Path, PathBuf};

use kafo_store::{
    DamagedHousehold, OpenStoreError, ReadError, SalvageError, Store, StoreCheck, Unlock,
};
use serde::Serialize;
use tracing::{info, warn};

use crate::identity::{DeviceIdentity, META_DEVICE_KEY};
use crate::trust::state::TrustState;

/// What [`diagnose`] found in a store.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// The store directory.
    pub data_dir: PathBuf,
    /// Households with an index entry.
    pub households: u64,
    /// Of those, the households whose document reads.
    pub readable: u64,
    /// Households whose records do not read, with the reason (ids, never contents).
    pub damaged: Vec<DamagedHouseholdJson>,
    /// Household documents the index does not list.
    pub unindexed: Vec<String>,
    /// The household count the store's counters claim, when it differs.
    pub totals_mismatch: Option<u64>,
    /// What is wrong with the device identity, if anything (`None`: it reads, or the
    /// store has none yet).
    pub identity_problem: Option<String>,
    /// What is wrong with the trust state (program, certificates, revocations).
    pub trust_problem: Option<String>,
    /// Files interrupted writers had left, removed by this opening (already fixed).
    pub repaired_files: Vec<PathBuf>,
    /// Bytes free on the store's disk, when known.
    pub free_space: Option<u64>,
    /// Whether free space is low (writes stop before the disk is full).
    pub low_space: bool,
}

/// A damaged household, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedHouseholdJson {
    /// The household id.
    pub id: String,
    /// What is wrong.
    pub reason: String,
}

impl From<DamagedHousehold> for DamagedHouseholdJson {
    fn from(damaged: DamagedHousehold) -> Self {
        Self {
            id: damaged.id,
            reason: damaged.reason,
        }
    }
}

impl Diagnosis {
    /// The problems found, one sentence each; empty when the store is healthy.
    /// Removed leftovers and low space are not problems of the store's data.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for damaged in &self.damaged {
            problems.push(format!(
                "household {} does not read: {}",
                damaged.id, damaged.reason
            ));
        }
        if !self.unindexed.is_empty() {
            problems.push(format!(
                "{} household document(s) are missing from the index",
                self.unindexed.len()
            ));
        }
        if let Some(claimed) = self.totals_mismatch {
            problems.push(format!(
                "the store's counters claim {claimed} households, the index lists {}",
                self.households
            ));
        }
        if let Some(problem) = &self.identity_problem {
            problems.push(format!("the device identity does not read: {problem}"));
        }
        if let Some(problem) = &self.trust_problem {
            problems.push(format!("the trust state does not read: {problem}"));
        }
        problems
    }

    /// Whether nothing is wrong with the store's data.
    pub fn is_healthy(&self) -> bool {
        self.problems().is_empty()
    }
}

/// Why [`diagnose`] or [`salvage`] could not run.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The store cannot be opened at all (or is in use: see [`OpenStoreError::Locked`]).
    #[error(transparent)]
    Open(#[from] OpenStoreError),
    /// The store opened but its records cannot be listed.
    #[error("the store {path} cannot be read: {source}")]
    Unreadable {
        /// The store directory.
        path: PathBuf,
        /// What failed.
        source: ReadError,
    },
    /// The directory for the new store is not empty.
    #[error("{} is not empty: salvage builds the new store in an empty directory", path.display())]
    TargetNotEmpty {
        /// The directory given.
        path: PathBuf,
    },
    /// The new store is the old one, or inside it.
    #[error("{} is inside the store being salvaged; choose a directory beside it", path.display())]
    TargetInsideStore {
        /// The directory given.
        path: PathBuf,
    },
    /// Copying into the new store failed (a full disk, most often); the damaged
    /// store was not changed.
    #[error("salvage stopped, the damaged store was not changed: {0}")]
    Salvage(#[from] SalvageError),
    /// A file operation of the swap failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl DoctorError {
    /// Whether the store could not be read at all (as opposed to a problem with the
    /// salvage target or the swap).
    pub fn is_unreadable(&self) -> bool {
        match self {
            Self::Open(OpenStoreError::Locked { .. }) => false,
            Self::Open(_) | Self::Unreadable { .. } => true,
            _ => false,
        }
    }
}

/// Checks the store in `data_dir`. Fails only when the store cannot be opened or
/// listed at all; everything else is reported in the [`Diagnosis`].
///
/// `unlock` opens an encrypted store ([`Unlock::Plain`] for a plain one).
pub fn diagnose(data_dir: &Path, unlock: Unlock<'_>) -> Result<Diagnosis, DoctorError> {
    let store = Store::open_unlocking(data_dir, unlock)?;
    let unreadable = |source| DoctorError::Unreadable {
        path: data_dir.to_path_buf(),
        source,
    };
    let check = store.check().map_err(unreadable)?;
    let (identity_problem, trust_problem) = identity_and_trust_problems(&store);
    let space = store.space().ok();
    Ok(diagnosis_from(
        data_dir,
        check,
        identity_problem,
        trust_problem,
        store.repaired_files().to_vec(),
        space,
    ))
}

fn diagnosis_from(
    data_dir: &Path,
    check: StoreCheck,
    identity_problem: Option<String>,
    trust_problem: Option<String>,
    repaired_files: Vec<PathBuf>,
    space: Option<kafo_store::Space>,
) -> Diagnosis {
    Diagnosis {
        data_dir: data_dir.to_path_buf(),
        households: check.households,
        readable: check.readable,
        damaged: check.damaged.into_iter().map(Into::into).collect(),
        unindexed: check.unindexed,
        totals_mismatch: check.totals_mismatch,
        identity_problem,
        trust_problem,
        repaired_files,
        free_space: space.map(|space| space.free),
        low_space: space.is_some_and(|space| space.is_low()),
    }
}

/// Reads the device identity and the trust state as [`crate::Node::open`] does.
fn identity_and_trust_problems(store: &Store) -> (Option<String>, Option<String>) {
    let identity = match store.meta(META_DEVICE_KEY) {
        Ok(Some(bytes)) => match DeviceIdentity::decode(&bytes) {
            Ok(identity) => identity,
            Err(error) => return (Some(error.to_string()), None),
        },
        // A store that never had a node opened on it has no identity yet.
        Ok(None) => return (None, None),
        Err(error) => return (Some(error.to_string()), None),
    };
    let trust = TrustState::load(store, &identity)
        .err()
        .map(|error| error.to_string());
    (None, trust)
}

/// What [`salvage`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Salvaged {
    /// Households copied whole.
    pub households: u64,
    /// Households rebuilt from their raw records (their index entry was damaged).
    pub rebuilt: Vec<String>,
    /// Households that could not be read at all: the only loss.
    pub lost: Vec<DamagedHouseholdJson>,
    /// Identity, trust, peer and attestation records copied.
    pub records: u64,
    /// Where the salvaged store now is: the original store directory.
    pub data_dir: PathBuf,
    /// Where the damaged store was moved.
    pub damaged_store: PathBuf,
    /// The check of the new store, after the copy.
    pub check: Diagnosis,
}

/// Copies everything readable of the store in `data_dir` into a new store built in
/// `new_dir` (which must be empty or absent, on the same filesystem), then moves the
/// damaged store to `<data_dir>.damaged-<UTC time>` and the new store to `data_dir`.
///
/// If the copy fails (a full disk), the damaged store is left as it was and the
/// partial new store stays in `new_dir` to be removed. The swap is two renames; the
/// damaged store is renamed first, so at no point do two stores sit at `data_dir`.
///
/// `unlock` opens an encrypted store; the new store is encrypted with the same key.
pub fn salvage(
    data_dir: &Path,
    new_dir: &Path,
    unlock: Unlock<'_>,
) -> Result<Salvaged, DoctorError> {
    check_target(data_dir, new_dir)?;
    let report = {
        let damaged = Store::open_unlocking(data_dir, unlock.clone())?;
        let fresh = damaged.open_alike(new_dir)?;
        // Every batch of the copy is durable when `salvage_into` returns; both
        // stores close at the end of this block, before their directories move.
        damaged.salvage_into(&fresh)?
    };
    info!(
        households = report.households,
        rebuilt = report.rebuilt.len(),
        lost = report.lost.len(),
        "salvaged the store; swapping it in"
    );
    let damaged_store = damaged_path(data_dir);
    rename(data_dir, &damaged_store, "moving the damaged store to")?;
    if let Err(error) = rename(new_dir, data_dir, "moving the new store to") {
        warn!("could not move the salvaged store into place; putting the damaged one back");
        // Best effort: put the old store back so the device still opens something.
        let _ = std::fs::rename(&damaged_store, data_dir);
        return Err(error);
    }
    let check = diagnose(data_dir, unlock)?;
    Ok(Salvaged {
        households: report.households,
        rebuilt: report.rebuilt,
        lost: report.lost.into_iter().map(Into::into).collect(),
        records: report.records,
        data_dir: data_dir.to_path_buf(),
        damaged_store,
        check,
    })
}

fn check_target(data_dir: &Path, new_dir: &Path) -> Result<(), DoctorError> {
    let canonical = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
    let store = canonical(data_dir);
    let target = match new_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            canonical(parent).join(new_dir.file_name().unwrap_or_default())
        }
        _ => canonical(new_dir),
    };
    if target.starts_with(&store) {
        return Err(DoctorError::TargetInsideStore {
            path: new_dir.to_path_buf(),
        });
    }
    match std::fs::read_dir(new_dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(DoctorError::TargetNotEmpty {
            path: new_dir.to_path_buf(),
        }),
        Ok(false) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DoctorError::Io {
            action: "reading",
            path: new_dir.to_path_buf(),
            source,
        }),
    }
}

/// `<data_dir>.damaged-<UTC time>`, with a counter if that exists already.
fn damaged_path(data_dir: &Path) -> PathBuf {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = data_dir.file_name().map_or_else(
        || "kafo".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mut candidate = data_dir.with_file_name(format!("{name}.damaged-{stamp}"));
    let mut counter = 1;
    while candidate.exists() {
        counter += 1;
        candidate = data_dir.with_file_name(format!("{name}.damaged-{stamp}-{counter}"));
    }
    candidate
}

fn rename(from: &Path, to: &Path, action: &'static str) -> Result<(), DoctorError> {
    std::fs::rename(from, to).map_err(|source| DoctorError::Io {
        action,
        path: to.to_path_buf(),
        source,
    })?;
    if let Some(parent) = to.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        // Make the rename itself durable.
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
