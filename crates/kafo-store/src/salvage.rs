//! Checking a store record by record, and salvaging what is readable from a
//! damaged one into a new store.
//!
//! [`Store::check`] reads every household document the way a sync or an export
//! would, and compares what it found with the counters the store keeps.
//! [`Store::salvage_into`] copies into an empty store everything that can still be
//! read: the opaque records of the layers above (the device identity and trust
//! state, peer states, change attestations and actor owners) as they are, and
//! every household document that loads, re-indexed by the new store. A document
//! whose index entry or chunk sequence is damaged is rebuilt from whatever of its
//! raw records still loads; only what automerge cannot read is lost.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use kafo_model::HouseholdId;
use tracing::{info, warn};

use crate::engine::Batch;
use crate::error::{ApplyError, ReadError, WriteError};
use crate::keys;
use crate::store::Store;

/// Raw records copied per durable batch.
const RECORDS_PER_BATCH: usize = 4096;

/// What [`Store::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCheck {
    /// Households with an index entry.
    pub households: u64,
    /// Of those, households whose document loads and matches its index.
    pub readable: u64,
    /// Households that do not read, with the reason, in id order.
    pub damaged: Vec<DamagedHousehold>,
    /// Document records with no index entry (a damaged index).
    pub unindexed: Vec<String>,
    /// The households the store's counters claim, when they differ from `households`.
    pub totals_mismatch: Option<u64>,
}

impl StoreCheck {
    /// Whether nothing is wrong.
    pub fn is_healthy(&self) -> bool {
        self.damaged.is_empty() && self.unindexed.is_empty() && self.totals_mismatch.is_none()
    }
}

/// A household whose stored records do not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedHousehold {
    /// The household id (or the damaged key, when the id itself does not decode).
    pub id: String,
    /// What is wrong.
    pub reason: String,
}

/// What [`Store::salvage_into`] copied and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalvageReport {
    /// Households copied whole, as the damaged store indexed them.
    pub households: u64,
    /// Households rebuilt from their raw records (their index was damaged).
    pub rebuilt: Vec<String>,
    /// Households that could not be read at all, with the reason.
    pub lost: Vec<DamagedHousehold>,
    /// Opaque records copied: identity, trust state, peers, attestations, owners.
    pub records: u64,
}

/// Why a salvage stopped.
#[derive(Debug, thiserror::Error)]
pub enum SalvageError {
    /// The new store could not be written.
    #[error("writing the new store: {0}")]
    Write(#[from] WriteError),
    /// The damaged store could not be listed at all.
    #[error("reading the damaged store: {0}")]
    Read(#[from] ReadError),
}

impl Store {
    /// Reads every household document and checks the store's counters and index.
    /// Errors only when the store cannot be listed; damage is reported in the result.
    pub fn check(&self) -> Result<StoreCheck, ReadError> {
        let mut check = StoreCheck::default();
        let mut indexed = BTreeSet::new();
        for record in self.db.scan_prefix(keys::entry_prefix()) {
            let (key, _) = record?;
            check.households += 1;
            let Ok(id) = decode_entry_id(&key) else {
                check.damaged.push(DamagedHousehold {
                    id: key.escape_ascii().to_string(),
                    reason: "index key does not decode".to_owned(),
                });
                continue;
            };
            match self.document(&id) {
                Ok(Some(_)) => check.readable += 1,
                Ok(None) => {}
                Err(error) => check.damaged.push(DamagedHousehold {
                    id: id.as_str().to_owned(),
                    reason: error.to_string(),
                }),
            }
            indexed.insert(id.as_str().to_owned());
        }
        for id in self.document_ids()? {
            if !indexed.contains(&id) {
                check.unindexed.push(id);
            }
        }
        match self.totals() {
            Ok(totals) if totals.households == check.households => {}
            Ok(totals) => check.totals_mismatch = Some(totals.households),
            Err(_) => check.totals_mismatch = Some(0),
        }
        Ok(check)
    }

    /// Copies everything readable into `target`, a new, empty store. See the
    /// [module documentation](self).
    pub fn salvage_into(&self, target: &Store) -> Result<SalvageReport, SalvageError> {
        let mut report = SalvageReport {
            records: self.copy_opaque_records(target)?,
            ..SalvageReport::default()
        };
        let mut ids: BTreeSet<String> = self.document_ids()?.into_iter().collect();
        for record in self.db.scan_prefix(keys::entry_prefix()) {
            let (key, _) = record.map_err(ReadError::from)?;
            if let Ok(id) = decode_entry_id(&key) {
                ids.insert(id.as_str().to_owned());
            }
        }
        for text in ids {
            let Ok(id) = HouseholdId::parse(&text) else {
                report.lost.push(DamagedHousehold {
                    id: text,
                    reason: "the household id does not decode".to_owned(),
                });
                continue;
            };
            let (bytes, rebuilt) = match self.document(&id) {
                Ok(Some(mut doc)) => (doc.save(), false),
                Ok(None) | Err(_) => match self.raw_document(&id) {
                    Ok(mut doc) => (doc.save(), true),
                    Err(reason) => {
                        warn!("salvage: a household is unreadable");
                        report.lost.push(DamagedHousehold { id: text, reason });
                        continue;
                    }
                },
            };
            match target.apply_document(&id, &bytes) {
                Ok(_) if rebuilt => report.rebuilt.push(text),
                Ok(_) => report.households += 1,
                Err(ApplyError::Write(error)) => return Err(error.into()),
                Err(error) => report.lost.push(DamagedHousehold {
                    id: text,
                    reason: error.to_string(),
                }),
            }
        }
        info!(
            households = report.households,
            rebuilt = report.rebuilt.len(),
            lost = report.lost.len(),
            "salvage done"
        );
        Ok(report)
    }

    /// Copies the layers' opaque records (`u/`, `p/`, `c/`, `o/`) as they are.
    fn copy_opaque_records(&self, target: &Store) -> Result<u64, SalvageError> {
        let mut copied = 0;
        for prefix in [&b"u/"[..], b"p/", b"c/", b"o/"] {
            let mut batch = Batch::default();
            let mut in_batch = 0;
            for record in self.db.scan_prefix(prefix) {
                // A record the engine cannot read is skipped: it is lost, the rest is not.
                let Ok((key, value)) = record else { continue };
                batch.insert(key, value);
                in_batch += 1;
                copied += 1;
                if in_batch == RECORDS_PER_BATCH {
                    target.write_batch(std::mem::take(&mut batch))?;
                    in_batch = 0;
                }
            }
            if in_batch > 0 {
                target.write_batch(batch)?;
            }
        }
        Ok(copied)
    }

    /// The ids of every household with a snapshot record, whatever its index says.
    fn document_ids(&self) -> Result<Vec<String>, ReadError> {
        let mut ids = Vec::new();
        for record in self.db.scan_prefix(b"d/") {
            let (key, _) = record?;
            let Some(rest) = key.strip_prefix(b"d/") else {
                continue;
            };
            if let Some(id) = rest.strip_suffix(b"\0s") {
                ids.push(String::from_utf8_lossy(id).into_owned());
            }
        }
        Ok(ids)
    }

    /// A household rebuilt from its snapshot and whichever change chunks load,
    /// ignoring its index entry.
    fn raw_document(&self, id: &HouseholdId) -> Result<AutoCommit, String> {
        let snapshot = self
            .db
            .get(keys::snapshot(id))
            .map_err(|error| error.to_string())?
            .ok_or("no snapshot record")?;
        let mut doc = AutoCommit::load(&snapshot).map_err(|error| error.to_string())?;
        for chunk in self.db.scan_prefix(keys::chunk_prefix(id)).flatten() {
            // A chunk that does not load is skipped: the rest of the document stays.
            let _ = doc.load_incremental(&chunk.1);
        }
        Ok(doc)
    }
}

fn decode_entry_id(key: &[u8]) -> Result<HouseholdId, ()> {
    let text = std::str::from_utf8(keys::entry_suffix(key)).map_err(|_| ())?;
    HouseholdId::parse(text).map_err(|_| ())
}
