//! Editing documents under the write lock: one document ([`Store::update`],
//! [`Store::update_attested`]), many
//! in one batch ([`Store::update_many`]), and changes received from peers
//! ([`Store::apply_changes`], [`Store::apply_document`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use automerge::{ActorId, AutoCommit, AutomergeError, LoadOptions, OnPartialLoad};
use kafo_model::HouseholdId;
use tracing::debug;

use crate::attest::Attachments;
use crate::error::{ApplyError, ReadError, UpdateError, WriteError};
use crate::pending::CommitReport;
use crate::read::Loaded;
use crate::records::DocEntry;
use crate::store::Store;
use crate::write::{WriteEffect, WriteOutcome, WriteSet, prepare};

impl Store {
    /// Edits one household's document and writes the result durably.
    ///
    /// Loads the stored document (or starts an empty one, for a new household) with
    /// the store's actor, runs `edit` on it, checks the result is a valid household
    /// document with this `id`, and, if its heads changed, writes the new changes in
    /// one atomic batch with the index (and their attestations, when a
    /// [change signer](Store::set_change_signer) is set) and flushes. Holds the
    /// store's write lock throughout, so two writers never extend a document with the
    /// same actor and sequence number. When `edit` or the check fails, nothing is
    /// written.
    pub fn update<T, E>(
        &self,
        id: &HouseholdId,
        edit: impl FnOnce(&mut AutoCommit) -> Result<T, E>,
    ) -> Result<(T, WriteOutcome), UpdateError<E>> {
        self.update_attested(id, |doc| {
            edit(doc).map(|value| (value, Attachments::default()))
        })
    }

    /// [`Store::update`], also writing the attestation and actor-owner records the
    /// edit returns, in the same atomic batch as the document.
    ///
    /// The records are written only if `edit` succeeds and the document passes the
    /// check; they are written even if the document is unchanged (to attest changes
    /// it already holds), unless the household does not exist. Both kinds are
    /// write-once: a record whose hash or actor is already stored is dropped. The
    /// store does not look inside them nor check that the hashes are the
    /// document's changes.
    pub fn update_attested<T, E>(
        &self,
        id: &HouseholdId,
        edit: impl FnOnce(&mut AutoCommit) -> Result<(T, Attachments), E>,
    ) -> Result<(T, WriteOutcome), UpdateError<E>> {
        let _guard = self.lock_writes();
        let authoring = self.authoring();
        let (base, mut doc) = self
            .load_for_write(id, &authoring.actor)
            .map_err(WriteError::from)?;
        let (value, attachments) = edit(&mut doc).map_err(|source| UpdateError::Edit {
            id: id.clone(),
            source,
        })?;
        let prepared = prepare(id, &mut doc, base.as_ref(), &authoring).map_err(|source| {
            UpdateError::Invalid {
                id: id.clone(),
                source,
            }
        })?;
        let mut set = WriteSet::new(self);
        let outcome = match prepared {
            Some(prepared) => set
                .put(id, base.as_ref(), prepared)
                .map_err(WriteError::from)?,
            None if base.is_none() => return Ok((value, unchanged(None))),
            None => unchanged(base.as_ref()),
        };
        set.attach(attachments).map_err(WriteError::from)?;
        set.finish()?;
        debug!(household = %id, effect = ?outcome.effect, "document written");
        Ok((value, outcome))
    }

    /// Edits many households' documents and writes them in one atomic batch and one flush.
    ///
    /// Each `(id, edit)` runs on that household's document, in order; an id that
    /// appears twice gets both edits on the same document. Every document is held in
    /// memory until the batch is written, so callers bound the batch (a few hundred
    /// households). The whole batch runs under the write lock; to build documents on
    /// several threads instead, use [`Store::load_for_update`] and [`Store::commit`].
    /// When any edit or check fails, nothing is written.
    pub fn update_many<E, F>(
        &self,
        edits: impl IntoIterator<Item = (HouseholdId, F)>,
    ) -> Result<CommitReport, UpdateError<E>>
    where
        F: FnOnce(&mut AutoCommit) -> Result<(), E>,
    {
        let _guard = self.lock_writes();
        let authoring = self.authoring();
        let mut docs: BTreeMap<HouseholdId, (Option<DocEntry>, AutoCommit)> = BTreeMap::new();
        for (id, edit) in edits {
            let slot = match docs.entry(id.clone()) {
                Entry::Occupied(slot) => slot.into_mut(),
                Entry::Vacant(slot) => slot.insert(
                    self.load_for_write(&id, &authoring.actor)
                        .map_err(WriteError::from)?,
                ),
            };
            edit(&mut slot.1).map_err(|source| UpdateError::Edit { id, source })?;
        }

        let mut set = WriteSet::new(self);
        let mut report = CommitReport::default();
        for (id, (base, mut doc)) in docs {
            let prepared = prepare(&id, &mut doc, base.as_ref(), &authoring).map_err(|source| {
                UpdateError::Invalid {
                    id: id.clone(),
                    source,
                }
            })?;
            let outcome = match prepared {
                Some(prepared) => set
                    .put(&id, base.as_ref(), prepared)
                    .map_err(WriteError::from)?,
                None => unchanged(base.as_ref()),
            };
            report.outcomes.insert(id, outcome);
        }
        set.finish()?;
        debug!(
            created = report.created(),
            extended = report.extended(),
            unchanged = report.unchanged(),
            "documents written"
        );
        Ok(report)
    }

    /// Applies automerge changes received for a household (the output of
    /// `save_after`, `save_incremental` or concatenated change chunks) and writes the
    /// result durably; returns the document's new heads in the outcome.
    ///
    /// A household the store does not have yet is created from the changes. Bytes
    /// that do not decode, changes whose dependencies the store lacks, and changes
    /// that leave an invalid household document (or one with another id) are
    /// refused with a typed error, and nothing is written.
    pub fn apply_changes(
        &self,
        id: &HouseholdId,
        changes: &[u8],
    ) -> Result<WriteOutcome, ApplyError> {
        self.apply_bytes(id, changes)
    }

    /// Applies a whole saved document received for a household (`AutoCommit::save`),
    /// merging it with what the store holds; otherwise as [`Store::apply_changes`].
    pub fn apply_document(
        &self,
        id: &HouseholdId,
        document: &[u8],
    ) -> Result<WriteOutcome, ApplyError> {
        self.apply_bytes(id, document)
    }

    fn apply_bytes(&self, id: &HouseholdId, bytes: &[u8]) -> Result<WriteOutcome, ApplyError> {
        let malformed = |source| ApplyError::Malformed {
            id: id.clone(),
            source: Box::new(source),
        };
        // Decode strictly first: automerge's incremental load skips what it cannot
        // parse, and a peer's damaged bytes must be refused, not half applied.
        let strict = LoadOptions::new().on_partial_load(OnPartialLoad::Error);
        let incoming = match AutoCommit::load_with_options(bytes, strict) {
            Ok(doc) => Some(doc),
            // Well-formed changes that build on changes not in `bytes`: the stored
            // document may have them, checked below.
            Err(AutomergeError::MissingDeps) => None,
            Err(source) => return Err(malformed(source)),
        };

        let _guard = self.lock_writes();
        let authoring = self.authoring();
        let (base, mut doc) = self
            .load_for_write(id, &authoring.actor)
            .map_err(WriteError::from)?;
        match (&base, incoming) {
            (None, Some(incoming)) => doc = incoming.with_actor(authoring.actor.clone()),
            _ => {
                doc.load_incremental(bytes).map_err(malformed)?;
            }
        }
        let missing = doc.get_missing_deps(&[]);
        if !missing.is_empty() {
            return Err(ApplyError::MissingDependencies {
                id: id.clone(),
                missing: missing.len(),
            });
        }
        let prepared = prepare(id, &mut doc, base.as_ref(), &authoring).map_err(|source| {
            ApplyError::Invalid {
                id: id.clone(),
                source,
            }
        })?;
        let Some(prepared) = prepared else {
            return Ok(unchanged(base.as_ref()));
        };
        let mut set = WriteSet::new(self);
        let outcome = set
            .put(id, base.as_ref(), prepared)
            .map_err(WriteError::from)?;
        set.finish()?;
        debug!(household = %id, effect = ?outcome.effect, "changes applied");
        Ok(outcome)
    }

    /// Loads a document for writing as `actor` while the caller holds the write
    /// lock, or starts an empty one.
    pub(crate) fn load_for_write(
        &self,
        id: &HouseholdId,
        actor: &ActorId,
    ) -> Result<(Option<DocEntry>, AutoCommit), ReadError> {
        Ok(match self.load_locked(id)? {
            Some(Loaded { entry, mut doc }) => {
                doc.set_actor(actor.clone());
                (Some(entry), doc)
            }
            None => (None, AutoCommit::new().with_actor(actor.clone())),
        })
    }
}

/// The outcome of a write that found nothing new.
pub(crate) fn unchanged(base: Option<&DocEntry>) -> WriteOutcome {
    WriteOutcome {
        effect: WriteEffect::Unchanged,
        heads: base.map(|base| base.heads.clone()).unwrap_or_default(),
    }
}
