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

/// Sets one raw record, durably, bypassing the store's write path.
pub(crate) fn put_raw(store: &crate::Store, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
    let mut batch = crate::engine::Batch::default();
    batch.insert(key, value);
    store.db.apply(batch).expect("writes");
}

/// Removes one raw record, durably, bypassing the store's write path.
pub(crate) fn remove_raw(store: &crate::Store, key: impl AsRef<[u8]>) {
    let mut batch = crate::engine::Batch::default();
    batch.remove(key);
    store.db.apply(batch).expect("removes");
}
