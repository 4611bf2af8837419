//! Which changes each household document holds, remembered while the node runs, so
//! that sending a whole document to an enrolled peer does not load it only to list
//! the changes whose signatures go with it.
//!
//! An entry is used only while the store's heads of the household are the ones it
//! was made for; it is refreshed whenever this node writes or loads the document.
//! Bounded: past [`MAX_ENTRIES`] households, new ones are not remembered (they are
//! loaded when sent, as without the index).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use automerge::{AutoCommit, ChangeHash};
use kafo_model::HouseholdId;
use kafo_model::document::GENESIS_ACTOR;

/// The most households remembered.
pub(crate) const MAX_ENTRIES: usize = 200_000;

/// The changes of a household's document as of some heads.
#[derive(Debug, Clone)]
struct Entry {
    /// The document's heads, sorted.
    heads: Vec<ChangeHash>,
    /// Every change except the shared first one.
    changes: Arc<[ChangeHash]>,
}

/// The changes each household's document holds, by heads.
#[derive(Debug, Default)]
pub(crate) struct ChangeIndex {
    entries: Mutex<HashMap<HouseholdId, Entry>>,
}

impl ChangeIndex {
    /// The changes (except the shared first one) of household `id` if its document's
    /// heads are `heads`.
    pub(crate) fn get(&self, id: &HouseholdId, heads: &[ChangeHash]) -> Option<Arc<[ChangeHash]>> {
        let mut heads = heads.to_vec();
        heads.sort_unstable();
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(id)
            .filter(|entry| entry.heads == heads)
            .map(|entry| Arc::clone(&entry.changes))
    }

    /// Remembers what `doc`, household `id`'s document, holds; returns its changes.
    pub(crate) fn remember(&self, id: &HouseholdId, doc: &mut AutoCommit) -> Arc<[ChangeHash]> {
        let mut heads = doc.get_heads();
        heads.sort_unstable();
        let changes: Arc<[ChangeHash]> = non_genesis(doc, &[]).into();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() < MAX_ENTRIES || entries.contains_key(id) {
            entries.insert(
                id.clone(),
                Entry {
                    heads,
                    changes: Arc::clone(&changes),
                },
            );
        }
        changes
    }
}

/// The hashes of a document's changes beyond `heads`, except the shared first change.
pub(crate) fn non_genesis(doc: &mut AutoCommit, heads: &[ChangeHash]) -> Vec<ChangeHash> {
    doc.get_changes_meta(heads)
        .into_iter()
        .filter(|meta| meta.actor.to_bytes() != GENESIS_ACTOR)
        .map(|meta| meta.hash)
        .collect()
}
