//! Bulk writes built outside the write lock: [`Store::load_for_update`] hands out a
//! [`PendingDocument`] that can be edited (and encoded) on any thread, and
//! [`Store::commit`] writes many of them in one atomic batch, refusing any whose
//! stored document changed meanwhile so no change is ever lost.

use std::collections::BTreeMap;
use std::sync::Arc;

use automerge::{AutoCommit, ChangeHash};
use kafo_model::HouseholdId;
use tracing::debug;

use crate::attest::{Attachments, Authoring};
use crate::edit::unchanged;
use crate::error::{CommitError, InvalidDocument, ReadError, WriteError};
use crate::read::Loaded;
use crate::records::DocEntry;
use crate::store::Store;
use crate::write::{Prepared, WriteEffect, WriteOutcome, WriteSet, prepare};

/// A household's document loaded for editing, with the stored state it builds on.
///
/// Edit it through [`PendingDocument::doc_mut`], optionally encode it with
/// [`PendingDocument::prepare`] on a worker thread, and write it with
/// [`Store::commit`]. If the commit refuses it as stale, drop it (its changes were
/// never written nor shown to anyone) and load the household again.
#[derive(Debug)]
pub struct PendingDocument {
    id: HouseholdId,
    base: Option<DocEntry>,
    doc: AutoCommit,
    encoding: Encoding,
    /// The store's actor and signer when the document was loaded.
    authoring: Arc<Authoring>,
}

#[derive(Debug)]
enum Encoding {
    /// Not encoded since the last edit.
    Stale,
    /// Encoded: nothing new to write.
    Unchanged,
    /// Encoded and ready to write.
    Ready(Box<Prepared>),
}

impl PendingDocument {
    /// The household.
    pub fn id(&self) -> &HouseholdId {
        &self.id
    }

    /// Whether the household is new to the store.
    pub fn is_new(&self) -> bool {
        self.base.is_none()
    }

    /// The stored heads this document builds on (empty for a new household).
    pub fn base_heads(&self) -> &[ChangeHash] {
        self.base.as_ref().map_or(&[], |base| base.heads.as_slice())
    }

    /// The document, for reading.
    pub fn doc(&self) -> &AutoCommit {
        &self.doc
    }

    /// The document, for editing; edits with the store's actor.
    pub fn doc_mut(&mut self) -> &mut AutoCommit {
        self.encoding = Encoding::Stale;
        &mut self.doc
    }

    /// Validates and encodes the document now (and signs its new changes, when the
    /// store had a [change signer](Store::set_change_signer) at load), so that
    /// [`Store::commit`] only writes.
    ///
    /// Optional: `commit` encodes what is not encoded yet, but it does so on the
    /// committing thread, under the store's write lock. Call this on the threads that
    /// built the documents.
    pub fn prepare(&mut self) -> Result<(), InvalidDocument> {
        if matches!(self.encoding, Encoding::Stale) {
            let prepared = prepare(&self.id, &mut self.doc, self.base.as_ref(), &self.authoring)?;
            self.encoding = match prepared {
                Some(prepared) => Encoding::Ready(Box::new(prepared)),
                None => Encoding::Unchanged,
            };
        }
        Ok(())
    }

    /// The document, giving up the pending write.
    pub fn into_doc(self) -> AutoCommit {
        self.doc
    }
}

/// What [`Store::commit`] or [`Store::update_many`] did, per household.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// The outcome of each household of the batch.
    pub outcomes: BTreeMap<HouseholdId, WriteOutcome>,
}

impl CommitReport {
    /// Households created by the batch.
    pub fn created(&self) -> usize {
        self.count(|effect| matches!(effect, WriteEffect::Created))
    }

    /// Existing households that got new changes.
    pub fn extended(&self) -> usize {
        self.count(|effect| matches!(effect, WriteEffect::Extended { .. }))
    }

    /// Households with nothing new.
    pub fn unchanged(&self) -> usize {
        self.count(|effect| matches!(effect, WriteEffect::Unchanged))
    }

    fn count(&self, wanted: impl Fn(&WriteEffect) -> bool) -> usize {
        self.outcomes
            .values()
            .filter(|outcome| wanted(&outcome.effect))
            .count()
    }
}

impl Store {
    /// Loads a household's document for a bulk write (an empty document if the
    /// household is new), with the store's actor, without taking the write lock.
    pub fn load_for_update(&self, id: &HouseholdId) -> Result<PendingDocument, ReadError> {
        let authoring = self.authoring();
        let (base, doc) = match self.load(id)? {
            Some(Loaded { entry, mut doc }) => {
                doc.set_actor(authoring.actor.clone());
                (Some(entry), doc)
            }
            None => (None, AutoCommit::new().with_actor(authoring.actor.clone())),
        };
        Ok(PendingDocument {
            id: id.clone(),
            base,
            doc,
            encoding: Encoding::Stale,
            authoring,
        })
    }

    /// Writes pending documents in one atomic batch and one flush.
    ///
    /// Encodes what [`PendingDocument::prepare`] has not, then, under the write lock,
    /// checks each changed document still builds on the stored state: if any was
    /// written since it was loaded (or appears twice with changes), the commit
    /// returns [`CommitError::Stale`] and writes nothing. Documents without changes
    /// are never stale. All or nothing: any error writes nothing.
    ///
    /// New changes of the actor a document was loaded with are signed by the store's
    /// [change signer](Store::set_change_signer); a document loaded before the
    /// signer (or the actor) was last set is signed again here, under the lock.
    pub fn commit(&self, pending: Vec<PendingDocument>) -> Result<CommitReport, CommitError> {
        let mut pending = pending;
        for document in &mut pending {
            document.prepare().map_err(|source| CommitError::Invalid {
                id: document.id.clone(),
                source,
            })?;
        }

        let _guard = self.lock_writes();
        let current = self.authoring();
        let mut set = WriteSet::new(self);
        let mut report = CommitReport::default();
        let mut stale = Vec::new();
        for document in pending {
            let PendingDocument {
                id,
                base,
                mut doc,
                encoding,
                authoring,
            } = document;
            let mut prepared = match encoding {
                Encoding::Ready(prepared) => *prepared,
                Encoding::Unchanged | Encoding::Stale => {
                    report
                        .outcomes
                        .entry(id)
                        .or_insert_with(|| unchanged(base.as_ref()));
                    continue;
                }
            };
            if set.current_entry(&id).map_err(WriteError::from)? != base {
                stale.push(id);
                continue;
            }
            if !Arc::ptr_eq(&authoring, &current) {
                prepared.attachments = resign(&authoring, &current, &mut doc, base.as_ref());
            }
            let outcome = set
                .put(&id, base.as_ref(), prepared)
                .map_err(WriteError::from)?;
            report.outcomes.insert(id, outcome);
        }
        if !stale.is_empty() {
            stale.sort();
            stale.dedup();
            debug!(stale = stale.len(), "commit refused: stale documents");
            return Err(CommitError::Stale { ids: stale });
        }
        set.finish()?;
        debug!(
            created = report.created(),
            extended = report.extended(),
            unchanged = report.unchanged(),
            "commit durable"
        );
        Ok(report)
    }
}

/// The attachments of a document loaded (and signed) as `loaded`, signed again with
/// the store's `current` signer: its own changes are still those of the actor it was
/// loaded with; the owner record goes with them only if that is the current actor.
fn resign(
    loaded: &Authoring,
    current: &Authoring,
    doc: &mut AutoCommit,
    base: Option<&DocEntry>,
) -> Attachments {
    let same_actor = loaded.actor == current.actor;
    let signing = Authoring {
        actor: loaded.actor.clone(),
        signer: current.signer.clone(),
        owner: current.owner.clone().filter(|_| same_actor),
    };
    signing.sign_new_changes(doc, base.map_or(&[], |base| base.heads.as_slice()))
}
