//! Every stored document read straight from the engine, for the migrations that derive
//! a new record from each one (change lists, household views).

use automerge::AutoCommit;
use kafo_model::HouseholdId;

use crate::engine::Db;
use crate::error::ReadError;
use crate::keys;
use crate::records::DocEntry;

/// Each household with an index entry, with the entry, in id order.
pub(crate) fn entries(
    db: &Db,
) -> impl Iterator<Item = Result<(HouseholdId, DocEntry), ReadError>> + '_ {
    db.scan_prefix(keys::entry_prefix()).map(|record| {
        let (key, value) = record?;
        let entry = DocEntry::decode(&key, &value)?;
        let id = std::str::from_utf8(keys::entry_suffix(&key))
            .ok()
            .and_then(|text| HouseholdId::parse(text).ok())
            .ok_or_else(|| ReadError::corrupt_record(&key, "household id"))?;
        Ok((id, entry))
    })
}

/// A stored document as its entry lays it out, or `None` if it does not load.
pub(crate) fn load_raw(
    db: &Db,
    id: &HouseholdId,
    entry: &DocEntry,
) -> Result<Option<AutoCommit>, ReadError> {
    let Some(snapshot) = db.get(keys::snapshot(id))? else {
        return Ok(None);
    };
    let Ok(mut doc) = AutoCommit::load(&snapshot) else {
        return Ok(None);
    };
    for seq in entry.first_chunk..entry.next_chunk {
        let Some(chunk) = db.get(keys::chunk(id, seq))? else {
            return Ok(None);
        };
        if doc.load_incremental(&chunk).is_err() {
            return Ok(None);
        }
    }
    Ok(Some(doc))
}
