//! Writing documents: encoding them as a snapshot or a change chunk (and signing
//! their new own changes, and reading their household views), and the atomic batch
//! that writes a set of documents with their index, views, aggregates, totals and
//! attachments, then flushes.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ChangeHash};
use kafo_model::document::{self, DocumentSummary};
use kafo_model::{Fingerprint, HeadsHash, HouseholdId, HouseholdScope, ItemKey};

use crate::attest::{Attachments, Authoring};
use crate::changes::{self, new_changes};
use crate::engine::Batch;
use crate::error::{InvalidDocument, ReadError, WriteError};
use crate::keys;
use crate::read::sorted_heads;
use crate::records::{Aggregate, DocEntry, decode_totals, encode_totals};
use crate::store::{Store, Totals};
use crate::view;

/// A document is compacted into a new snapshot when it would have more change
/// chunks than this, or when its chunks would outweigh its snapshot.
pub(crate) const MAX_CHUNKS: u64 = 8;

/// What a write did to one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Whether the document was created, extended or left as it was.
    pub effect: WriteEffect,
    /// The document's heads after the write, sorted.
    pub heads: Vec<ChangeHash>,
}

/// Whether a write created, extended or left a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEffect {
    /// The document had no new changes; nothing was written.
    Unchanged,
    /// The document is new to the store.
    Created,
    /// The document got new changes.
    Extended {
        /// Whether the write also replaced the document's chunks with a new snapshot.
        compacted: bool,
    },
}

/// A document encoded for writing.
#[derive(Debug)]
pub(crate) struct Prepared {
    summary: DocumentSummary,
    heads: Vec<ChangeHash>,
    bytes: Encoded,
    /// The household's view at `heads`; `None` when it does not read as a household.
    view: Option<Vec<u8>>,
    /// Attestations of its new own changes (and the actor's owner record).
    pub(crate) attachments: Attachments,
}

#[derive(Debug)]
enum Encoded {
    /// The whole document (`save`): a new document, or a compaction; with the
    /// hashes of all its authored changes.
    Snapshot(Vec<u8>, Vec<ChangeHash>),
    /// The changes since the stored heads (`save_after`); with the hashes of the
    /// authored ones.
    Chunk(Vec<u8>, Vec<ChangeHash>),
}

/// Validates `doc` as the document of `id`, encodes what it adds to `base` and signs
/// the new changes of `authoring`'s actor (when it has a signer); `None` when it has
/// no change beyond `base`.
pub(crate) fn prepare(
    id: &HouseholdId,
    doc: &mut AutoCommit,
    base: Option<&DocEntry>,
    authoring: &Authoring,
) -> Result<Option<Prepared>, InvalidDocument> {
    let heads = sorted_heads(doc);
    let base_heads = base.map_or(&[][..], |base| base.heads.as_slice());
    if heads == base_heads {
        return Ok(None);
    }
    // The chunk written below holds only what follows the stored heads: the
    // document must contain them (and nothing it holds back for lack of deps).
    let missing = doc.get_missing_deps(base_heads);
    if !missing.is_empty() {
        return Err(InvalidDocument::MissingChanges {
            missing: missing.len(),
        });
    }
    let summary = document::summary(&*doc)?;
    if summary.id != *id {
        return Err(InvalidDocument::WrongId {
            expected: id.clone(),
            found: summary.id,
        });
    }
    let new = new_changes(doc, base_heads, &authoring.actor);
    let bytes = match base {
        None => Encoded::Snapshot(doc.save(), new.authored),
        Some(base) => {
            let chunk = doc.save_after(&base.heads);
            let chunk_bytes = base.chunk_bytes.saturating_add(chunk.len() as u64);
            if base.chunks() + 1 > MAX_CHUNKS || chunk_bytes > base.snapshot_len {
                let all = new_changes(doc, &[], &authoring.actor).authored;
                Encoded::Snapshot(doc.save(), all)
            } else {
                Encoded::Chunk(chunk, new.authored)
            }
        }
    };
    let attachments = authoring.sign(&new.own);
    let view = view::record(doc, &heads);
    Ok(Some(Prepared {
        summary,
        heads,
        bytes,
        view,
        attachments,
    }))
}

/// The writes of one atomic batch: documents, their index entries and items, and the
/// aggregates and totals they change (read once, updated in memory, written at the end).
pub(crate) struct WriteSet<'a> {
    store: &'a Store,
    batch: Batch,
    entries: BTreeMap<HouseholdId, DocEntry>,
    aggregates: BTreeMap<HouseholdScope, Aggregate>,
    totals: Option<Totals>,
    /// Keys of the attestation and owner records this set writes.
    attached: BTreeSet<Vec<u8>>,
}

impl<'a> WriteSet<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Self {
            store,
            batch: Batch::default(),
            entries: BTreeMap::new(),
            aggregates: BTreeMap::new(),
            totals: None,
            attached: BTreeSet::new(),
        }
    }

    /// The index entry of a document as this set would leave it.
    pub(crate) fn current_entry(&self, id: &HouseholdId) -> Result<Option<DocEntry>, ReadError> {
        if let Some(entry) = self.entries.get(id) {
            return Ok(Some(entry.clone()));
        }
        let key = keys::entry(id);
        match self.store.db.get(&key)? {
            Some(bytes) => Ok(Some(DocEntry::decode(&key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Adds a prepared document to the set; `base` must be its current entry.
    pub(crate) fn put(
        &mut self,
        id: &HouseholdId,
        base: Option<&DocEntry>,
        prepared: Prepared,
    ) -> Result<WriteOutcome, ReadError> {
        let Prepared {
            summary,
            heads,
            bytes,
            view,
            attachments,
        } = prepared;
        self.attach(attachments)?;
        let mut entry = match base {
            Some(base) => DocEntry {
                generation: base.generation.wrapping_add(1),
                ..base.clone()
            },
            None => DocEntry {
                generation: 0,
                scope: summary.scope.clone(),
                heads: Vec::new(),
                members: 0,
                visits: 0,
                snapshot_len: 0,
                first_chunk: 0,
                next_chunk: 0,
                chunk_bytes: 0,
            },
        };
        let effect = match bytes {
            Encoded::Snapshot(bytes, changes) => {
                // Snapshot and chunk removals go in one batch: a crash keeps either
                // the old snapshot with its chunks or the new snapshot alone. The
                // change list is compacted with them.
                for seq in entry.first_chunk..entry.next_chunk {
                    self.batch.remove(keys::chunk(id, seq));
                    self.batch.remove(keys::change_list_chunk(id, seq));
                }
                self.batch
                    .insert(keys::change_list(id), changes::encode(&changes));
                entry.snapshot_len = bytes.len() as u64;
                entry.first_chunk = entry.next_chunk;
                entry.chunk_bytes = 0;
                self.batch.insert(keys::snapshot(id), bytes);
                match base {
                    None => WriteEffect::Created,
                    Some(_) => WriteEffect::Extended { compacted: true },
                }
            }
            Encoded::Chunk(bytes, changes) => {
                entry.chunk_bytes += bytes.len() as u64;
                self.batch.insert(keys::chunk(id, entry.next_chunk), bytes);
                self.batch.insert(
                    keys::change_list_chunk(id, entry.next_chunk),
                    changes::encode(&changes),
                );
                entry.next_chunk += 1;
                WriteEffect::Extended { compacted: false }
            }
        };
        // The view goes with the heads it was read at; without one, a stale view
        // left by an earlier write is removed (readers would ignore it anyway).
        match view {
            Some(view) => self.batch.insert(keys::view(id), view),
            None => self.batch.remove(keys::view(id)),
        }
        entry.heads = heads;
        entry.scope = summary.scope;
        entry.members = summary.members as u64;
        entry.visits = summary.visits as u64;

        let mut totals = self.totals()?;
        if let Some(base) = base {
            self.batch
                .remove(keys::item(&ItemKey::new(&base.scope, id)));
            let old = Fingerprint::of_item(id, &HeadsHash::of(&base.heads));
            let aggregate = self.aggregate_mut(&base.scope)?;
            aggregate.fingerprint = aggregate.fingerprint.sub(old);
            aggregate.count = aggregate
                .count
                .checked_sub(1)
                .ok_or_else(|| ReadError::corrupt_record(&keys::aggregate(&base.scope), "count"))?;
            totals.households = totals.households.saturating_sub(1);
            totals.members = totals.members.saturating_sub(base.members);
            totals.visits = totals.visits.saturating_sub(base.visits);
        }
        let heads_hash = HeadsHash::of(&entry.heads);
        self.batch
            .insert(keys::item(&ItemKey::new(&entry.scope, id)), heads_hash.0);
        let aggregate = self.aggregate_mut(&entry.scope)?;
        aggregate.fingerprint = aggregate
            .fingerprint
            .add(Fingerprint::of_item(id, &heads_hash));
        aggregate.count += 1;
        totals.households += 1;
        totals.members += entry.members;
        totals.visits += entry.visits;
        self.totals = Some(totals);

        self.batch.insert(keys::entry(id), entry.encode());
        let outcome = WriteOutcome {
            effect,
            heads: entry.heads.clone(),
        };
        self.entries.insert(id.clone(), entry);
        Ok(outcome)
    }

    /// Adds attestation and owner records to the set, keeping any already stored
    /// (or already in the set): both are write-once.
    pub(crate) fn attach(&mut self, attachments: Attachments) -> Result<(), ReadError> {
        let keyed = attachments
            .attestations
            .into_iter()
            .map(|(hash, record)| (keys::attestation(&hash), record))
            .chain(
                attachments
                    .actor_owners
                    .into_iter()
                    .map(|(actor, owner)| (keys::actor_owner(&actor), owner)),
            );
        for (key, value) in keyed {
            if self.attached.contains(&key) || self.store.db.contains_key(&key)? {
                continue;
            }
            self.batch.insert(key.clone(), value);
            self.attached.insert(key);
        }
        Ok(())
    }

    /// Writes the set in one atomic batch and flushes it. An empty set writes nothing.
    pub(crate) fn finish(mut self) -> Result<(), WriteError> {
        if self.entries.is_empty() && self.attached.is_empty() {
            return Ok(());
        }
        for (scope, aggregate) in &self.aggregates {
            let key = keys::aggregate(scope);
            if aggregate.count == 0 {
                self.batch.remove(key);
            } else {
                self.batch.insert(key, aggregate.encode());
            }
        }
        if let Some(totals) = &self.totals {
            self.batch.insert(keys::TOTALS, encode_totals(totals));
        }
        self.store.write_batch(self.batch)
    }

    fn totals(&mut self) -> Result<Totals, ReadError> {
        if let Some(totals) = self.totals {
            return Ok(totals);
        }
        match self.store.db.get(keys::TOTALS)? {
            Some(bytes) => decode_totals(keys::TOTALS, &bytes),
            None => Err(ReadError::corrupt_record(keys::TOTALS, "missing")),
        }
    }

    fn aggregate_mut(&mut self, scope: &HouseholdScope) -> Result<&mut Aggregate, ReadError> {
        match self.aggregates.entry(scope.clone()) {
            Entry::Occupied(cached) => Ok(cached.into_mut()),
            Entry::Vacant(slot) => {
                let key = keys::aggregate(scope);
                let stored = match self.store.db.get(&key)? {
                    Some(bytes) => Aggregate::decode(&key, &bytes)?,
                    None => Aggregate::default(),
                };
                Ok(slot.insert(stored))
            }
        }
    }
}
