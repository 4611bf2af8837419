//! Loading documents: the snapshot plus every change chunk after it, read
//! consistently while writers may be compacting.

use automerge::{AutoCommit, ChangeHash};
use kafo_model::{HouseholdId, HouseholdScope};

use crate::error::{DocumentDamage, ReadError};
use crate::keys;
use crate::records::DocEntry;
use crate::store::Store;

/// How often a reader retries a document that writers keep changing before it
/// takes the write lock to read it.
const OPTIMISTIC_ATTEMPTS: usize = 4;

/// A document as stored, with its index entry.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) entry: DocEntry,
    pub(crate) doc: AutoCommit,
}

enum Attempt {
    Absent,
    /// A write landed while the document's records were being read.
    Raced,
    Read(Box<Loaded>),
}

/// How a document is laid out on disk: one snapshot and the change chunks after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredLayout {
    /// Bytes of the snapshot.
    pub snapshot_bytes: u64,
    /// Change chunks appended since the snapshot.
    pub chunks: u64,
    /// Bytes of those chunks.
    pub chunk_bytes: u64,
}

impl Store {
    /// The stored document of a household, with the store's actor, or `None`.
    ///
    /// The copy is for reading: edit through [`Store::update`] or
    /// [`Store::load_for_update`], which keep the actor's sequence numbers unique.
    pub fn document(&self, id: &HouseholdId) -> Result<Option<AutoCommit>, ReadError> {
        Ok(self.load(id)?.map(|loaded| loaded.doc))
    }

    /// The document in compacted (`save()`) form, or `None`.
    ///
    /// A document with no change chunks since its snapshot is served as the stored
    /// snapshot bytes, without loading or re-encoding it: what a sync sends to a
    /// device that lacks the document entirely.
    pub fn compacted_bytes(&self, id: &HouseholdId) -> Result<Option<Vec<u8>>, ReadError> {
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some(entry) = self.entry(id)? else {
                return Ok(None);
            };
            if entry.chunks() > 0 {
                break;
            }
            let snapshot = self.db.get(keys::snapshot(id))?;
            let again = self.entry(id)?;
            if again.map(|again| again.generation) != Some(entry.generation) {
                continue;
            }
            return match snapshot {
                Some(bytes) => Ok(Some(bytes.to_vec())),
                None => Err(ReadError::CorruptDocument {
                    id: id.clone(),
                    damage: DocumentDamage::MissingSnapshot,
                }),
            };
        }
        Ok(self.load(id)?.map(|mut loaded| loaded.doc.save()))
    }

    /// The heads of a household's document as indexed, sorted, or `None`.
    pub fn heads(&self, id: &HouseholdId) -> Result<Option<Vec<ChangeHash>>, ReadError> {
        Ok(self.entry(id)?.map(|entry| entry.heads))
    }

    /// The scope a household is indexed under, or `None`.
    pub fn scope(&self, id: &HouseholdId) -> Result<Option<HouseholdScope>, ReadError> {
        Ok(self.entry(id)?.map(|entry| entry.scope))
    }

    /// How a household's document is laid out on disk, or `None`.
    pub fn stored_layout(&self, id: &HouseholdId) -> Result<Option<StoredLayout>, ReadError> {
        Ok(self.entry(id)?.map(|entry| StoredLayout {
            snapshot_bytes: entry.snapshot_len,
            chunks: entry.chunks(),
            chunk_bytes: entry.chunk_bytes,
        }))
    }

    /// The index entry of a document.
    pub(crate) fn entry(&self, id: &HouseholdId) -> Result<Option<DocEntry>, ReadError> {
        let key = keys::entry(id);
        match self.db.get(&key)? {
            Some(bytes) => Ok(Some(DocEntry::decode(&key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Loads a document without the write lock, retrying if a write races the read.
    pub(crate) fn load(&self, id: &HouseholdId) -> Result<Option<Loaded>, ReadError> {
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            match self.read_once(id)? {
                Attempt::Absent => return Ok(None),
                Attempt::Raced => continue,
                Attempt::Read(loaded) => return Ok(Some(*loaded)),
            }
        }
        let _guard = self.lock_writes();
        self.load_locked(id)
    }

    /// Loads a document while the caller holds the write lock: no write can race it.
    pub(crate) fn load_locked(&self, id: &HouseholdId) -> Result<Option<Loaded>, ReadError> {
        match self.read_once(id)? {
            Attempt::Absent => Ok(None),
            Attempt::Read(loaded) => Ok(Some(*loaded)),
            // Every write that changes a document's records holds the lock.
            Attempt::Raced => Err(ReadError::corrupt_record(
                &keys::entry(id),
                "changed during a locked read",
            )),
        }
    }

    fn read_once(&self, id: &HouseholdId) -> Result<Attempt, ReadError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(Attempt::Absent);
        };
        let snapshot = self.db.get(keys::snapshot(id))?;
        let mut chunks = Vec::new();
        for record in self.db.scan_prefix(keys::chunk_prefix(id)) {
            chunks.push(record?);
        }
        // Every write of the document rewrites its entry with a new generation in the
        // same atomic batch: an unchanged generation means no write landed in between.
        let again = self.entry(id)?;
        if again.map(|again| again.generation) != Some(entry.generation) {
            return Ok(Attempt::Raced);
        }

        let damaged = |damage| ReadError::CorruptDocument {
            id: id.clone(),
            damage,
        };
        let snapshot = snapshot.ok_or_else(|| damaged(DocumentDamage::MissingSnapshot))?;
        let prefix_len = keys::chunk_prefix(id).len();
        let in_sequence = chunks.len() as u64 == entry.chunks()
            && chunks
                .iter()
                .zip(entry.first_chunk..entry.next_chunk)
                .all(|((key, _), seq)| key.get(prefix_len..) == Some(&seq.to_be_bytes()[..]));
        if !in_sequence {
            return Err(damaged(DocumentDamage::ChunkSequence));
        }
        let mut doc =
            AutoCommit::load(&snapshot).map_err(|e| damaged(DocumentDamage::Load(Box::new(e))))?;
        for (_, chunk) in &chunks {
            doc.load_incremental(chunk)
                .map_err(|e| damaged(DocumentDamage::Load(Box::new(e))))?;
        }
        if sorted_heads(&mut doc) != entry.heads {
            return Err(damaged(DocumentDamage::HeadsMismatch));
        }
        doc.set_actor(self.actor());
        Ok(Attempt::Read(Box::new(Loaded { entry, doc })))
    }
}

/// A document's heads in sorted order (the order the index keeps them in).
pub(crate) fn sorted_heads(doc: &mut AutoCommit) -> Vec<ChangeHash> {
    let mut heads = doc.get_heads();
    heads.sort_unstable();
    heads
}
