//! Damage a store on purpose, for the tests of `check`, `salvage_into` and
//! `kafo doctor` (cargo feature `fault-injection`; never in a shipped build).
//!
//! Each kind of damage is what a failing disk or a bug could leave: a record whose
//! bytes are garbage, or a record that is missing. The damage bypasses the store's
//! own write path (no counters, no index updates), as a fault would.

use kafo_model::HouseholdId;

use crate::error::WriteError;
use crate::keys;
use crate::store::Store;

/// What to damage in one household's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The document's snapshot is overwritten with bytes automerge cannot load:
    /// the household is truly unreadable.
    GarbledSnapshot,
    /// The household's index entry is removed; its document is intact.
    MissingIndexEntry,
}

impl Store {
    /// Damages `id`'s records as `damage` says, durably.
    pub fn inject_damage(&self, id: &HouseholdId, damage: Damage) -> Result<(), WriteError> {
        let mut batch = crate::engine::Batch::default();
        match damage {
            Damage::GarbledSnapshot => {
                batch.insert(keys::snapshot(id), &b"not an automerge document"[..]);
            }
            Damage::MissingIndexEntry => batch.remove(keys::entry(id)),
        }
        // Straight to the engine: no write guard, counters or index updates.
        self.db.apply(batch)
    }
}
