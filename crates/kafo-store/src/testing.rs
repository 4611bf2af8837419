//! Helpers of the store's unit tests.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutomergeError, ROOT};
use kafo_model::HouseholdId;

/// A household id from a test literal.
pub(crate) fn id(value: &str) -> HouseholdId {
    HouseholdId::parse(value).expect("test ids are valid")
}

/// Writes the root fields of household `name` (in `sikoro/chw-01`) into `doc`.
pub(crate) fn put_root(doc: &mut AutoCommit, name: &str) -> Result<(), AutomergeError> {
    doc.put(ROOT, "layout", 1u64)?;
    doc.put(ROOT, "id", name)?;
    doc.put(ROOT, "area", "sikoro")?;
    doc.put(ROOT, "chw", "chw-01")?;
    doc.put(ROOT, "name", "Famille Test")
}
