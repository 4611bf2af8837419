//! The list of each document's authored changes, kept beside the document so that
//! a caller can name the changes a document holds (to send their attestations with
//! it) without loading it.
//!
//! "Authored" means every change except the shared first change of a household
//! document ([`kafo_model::document::GENESIS_ACTOR`]), which every device creates
//! identically and nobody signs. The list follows the document's layout and is
//! written in the same atomic batch as the document: a snapshot write stores the
//! whole list (`l/<id>\0s`) and removes the chunk lists it replaces, a chunk write
//! appends the hashes of the chunk's changes under the chunk's sequence number
//! (`l/<id>\0c<seq>`), so the list is compacted whenever the document is. The
//! migration to schema 3 lists the documents already stored ([`fill_lists`]); one
//! that does not load then has no list (reads as `None`, as a caller that loads it
//! would find it damaged) until it is written again whole.

use automerge::{ActorId, AutoCommit, ChangeHash};
use kafo_model::HouseholdId;
use kafo_model::document::GENESIS_ACTOR;

use crate::engine::{Batch, Db};
use crate::error::ReadError;
use crate::keys;
use crate::store::Store;
use crate::stored;

/// The size of one stored hash.
const HASH_LEN: usize = 32;

/// How often a reader retries a list that writers keep changing.
const ATTEMPTS: usize = 4;

/// The changes a write adds to a document, from automerge's change metadata (no op
/// is decoded).
#[derive(Debug, Default)]
pub(crate) struct NewChanges {
    /// Every new change except the shared first change, in causal order.
    pub(crate) authored: Vec<ChangeHash>,
    /// The new changes of `actor` (the store's, to sign).
    pub(crate) own: Vec<ChangeHash>,
}

/// The changes of `doc` beyond `heads`.
pub(crate) fn new_changes(
    doc: &mut AutoCommit,
    heads: &[ChangeHash],
    actor: &ActorId,
) -> NewChanges {
    let mut changes = NewChanges::default();
    for meta in doc.get_changes_meta(heads) {
        if *meta.actor == *actor {
            changes.own.push(meta.hash);
        }
        if meta.actor.to_bytes() != GENESIS_ACTOR {
            changes.authored.push(meta.hash);
        }
    }
    changes
}

/// Adds to `batch` the change list of every stored document that has none (schema
/// 2 -> 3), loading each one. A document that does not load is left without a list.
pub(crate) fn fill_lists(db: &Db, batch: &mut Batch) -> Result<(), ReadError> {
    let actor = ActorId::from(&[0u8; 16][..]);
    let mut listed = 0u64;
    let mut damaged = 0u64;
    for stored in stored::entries(db) {
        let (id, entry) = stored?;
        if db.contains_key(keys::change_list(&id))? {
            continue;
        }
        match stored::load_raw(db, &id, &entry)? {
            Some(mut doc) => {
                let authored = new_changes(&mut doc, &[], &actor).authored;
                batch.insert(keys::change_list(&id), encode(&authored));
                listed += 1;
            }
            None => damaged += 1,
        }
    }
    tracing::info!(
        documents = listed,
        unreadable = damaged,
        "change lists written"
    );
    Ok(())
}

/// The stored form of a list: the hashes, concatenated.
pub(crate) fn encode(hashes: &[ChangeHash]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(hashes.len() * HASH_LEN);
    for hash in hashes {
        bytes.extend_from_slice(&hash.0);
    }
    bytes
}

/// Appends the hashes of a stored list to `out`.
fn decode_into(key: &[u8], bytes: &[u8], out: &mut Vec<ChangeHash>) -> Result<(), ReadError> {
    if !bytes.len().is_multiple_of(HASH_LEN) {
        return Err(ReadError::corrupt_record(key, "change list length"));
    }
    out.reserve(bytes.len() / HASH_LEN);
    for chunk in bytes.chunks_exact(HASH_LEN) {
        let hash = ChangeHash::try_from(chunk)
            .map_err(|_| ReadError::corrupt_record(key, "change hash"))?;
        out.push(hash);
    }
    Ok(())
}

impl Store {
    /// The hashes of every change of a household's document except its shared first
    /// change ([`kafo_model::document::GENESIS_ACTOR`]), in causal order, read from
    /// the list kept with the document (the document is not loaded).
    ///
    /// `None` if the household is absent, or if its document has no list (it did not
    /// load when the store was migrated to schema 3): load the document instead. The
    /// document only grows, so a list read after the document's bytes names every
    /// change in them (and possibly changes written since).
    pub fn authored_changes(&self, id: &HouseholdId) -> Result<Option<Vec<ChangeHash>>, ReadError> {
        for _ in 0..ATTEMPTS {
            let Some(entry) = self.entry(id)? else {
                return Ok(None);
            };
            let list = self.read_change_list(id)?;
            // Every write of the document rewrites its entry with a new generation in
            // the same batch as its list: an unchanged generation means no write landed.
            let again = self.entry(id)?;
            if again.map(|again| again.generation) == Some(entry.generation) {
                return Ok(list);
            }
        }
        let _guard = self.lock_writes();
        if self.entry(id)?.is_none() {
            return Ok(None);
        }
        self.read_change_list(id)
    }

    fn read_change_list(&self, id: &HouseholdId) -> Result<Option<Vec<ChangeHash>>, ReadError> {
        let base_key = keys::change_list(id);
        let Some(base) = self.db.get(&base_key)? else {
            return Ok(None);
        };
        let mut hashes = Vec::new();
        decode_into(&base_key, &base, &mut hashes)?;
        for record in self.db.scan_prefix(keys::change_list_chunk_prefix(id)) {
            let (key, bytes) = record?;
            decode_into(&key, &bytes, &mut hashes)?;
        }
        Ok(Some(hashes))
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ReadDoc};

    use super::*;
    use crate::schema::MIGRATIONS;
    use crate::testing::{id, put_root};

    fn write_household(store: &Store, name: &str, visits: usize) {
        for visit in 0..=visits {
            store
                .update(&id(name), |doc| -> Result<(), automerge::AutomergeError> {
                    put_root(doc, name)?;
                    if doc.get(ROOT, "members")?.is_none() {
                        doc.put_object(ROOT, "members", ObjType::Map)?;
                        doc.put_object(ROOT, "visits", ObjType::Map)?;
                    }
                    doc.put(ROOT, "note", format!("v{visit}"))?;
                    Ok(())
                })
                .expect("writes");
        }
    }

    fn in_document(store: &Store, name: &str) -> Vec<ChangeHash> {
        let mut doc = store.document(&id(name)).expect("reads").expect("exists");
        doc.get_changes_meta(&[])
            .into_iter()
            .map(|meta| meta.hash)
            .collect()
    }

    #[test]
    fn migrating_to_schema_3_lists_the_documents_already_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with(dir.path(), crate::Unlock::Plain, &MIGRATIONS[..1], 2)
            .expect("opens at 2");
        write_household(&store, "h1", 0);
        write_household(&store, "h2", 3);
        write_household(&store, "h3", 1);
        // A version 2 store has no lists.
        let mut batch = Batch::default();
        for record in store.db.scan_prefix(b"l/") {
            let (key, _) = record.expect("reads");
            batch.remove(key);
        }
        // A document that no longer loads is left without a list.
        batch.insert(keys::snapshot(&id("h3")), b"not automerge");
        store.db.apply(batch).expect("writes");
        assert_eq!(store.authored_changes(&id("h1")).expect("reads"), None);
        drop(store);

        let store = Store::open(dir.path()).expect("migrates to 3");
        for name in ["h1", "h2"] {
            let listed = store.authored_changes(&id(name)).expect("reads");
            assert_eq!(listed, Some(in_document(&store, name)), "{name}");
        }
        assert_eq!(store.authored_changes(&id("h3")).expect("reads"), None);
        // Later writes extend the migrated list.
        write_household(&store, "h2", 2);
        assert_eq!(
            store.authored_changes(&id("h2")).expect("reads"),
            Some(in_document(&store, "h2"))
        );
    }

    #[test]
    fn a_damaged_list_is_reported_not_misread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        write_household(&store, "h1", 0);
        let mut batch = Batch::default();
        batch.insert(keys::change_list(&id("h1")), [1u8; 33]);
        store.db.apply(batch).expect("writes");
        assert!(matches!(
            store.authored_changes(&id("h1")),
            Err(ReadError::CorruptRecord { .. })
        ));
    }
}
