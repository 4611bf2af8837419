//! Attributable changes: the actor this store's edits are authored as, the signer
//! that attests them, and the opaque attestation and actor-owner records kept
//! beside the documents.
//!
//! The store does not know what a signature or an owner is: an attestation is the
//! bytes the [`ChangeSigner`] returns for a change hash (or that a caller passes in
//! [`Attachments`]), an owner record is opaque bytes keyed by actor id. What it
//! guarantees is *when* they are written: in the same atomic batch as the document
//! that holds the changes, so a change stored by this device is never durable
//! without its attestation (once a signer is set), and an attestation is never
//! durable without its change. Both kinds of record are write-once: a second
//! record for the same change hash or actor is ignored, the first one is kept.

use std::fmt;
use std::sync::{Arc, PoisonError};

use automerge::{ActorId, AutoCommit, ChangeHash};
use kafo_model::HouseholdId;

use crate::changes::new_changes;
use crate::error::{ReadError, WriteError};
use crate::keys;
use crate::store::Store;
use crate::write::WriteSet;

/// Signs a change authored by this store's actor: returns the attestation record
/// stored for the change hash. Called on the thread that encodes the write (for
/// [`Store::load_for_update`] documents, the thread that calls
/// [`PendingDocument::prepare`](crate::PendingDocument::prepare)), so it must be cheap
/// and must not call back into the store.
pub type ChangeSigner = Arc<dyn Fn(&ChangeHash) -> Vec<u8> + Send + Sync>;

/// Records written with a document by [`Store::update_attested`]. Both are write-once:
/// an entry whose key is already stored (or appears earlier in the same write) is dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attachments {
    /// Attestation records by change hash (see [`Store::attestation`]).
    pub attestations: Vec<(ChangeHash, Vec<u8>)>,
    /// Owner records by actor id bytes (see [`Store::actor_owner`]).
    pub actor_owners: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Attachments {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.attestations.is_empty() && self.actor_owners.is_empty()
    }
}

/// Who the store's local edits are authored as: a snapshot taken by each write, so
/// one write never mixes two actors or signers. Replaced whole by the setters.
#[derive(Clone)]
pub(crate) struct Authoring {
    /// The actor of documents the store loads or creates for editing.
    pub(crate) actor: ActorId,
    /// Signs the new changes of `actor`, when set.
    pub(crate) signer: Option<ChangeSigner>,
    /// Written as the owner record of `actor` with its first signed change.
    pub(crate) owner: Option<Vec<u8>>,
}

impl fmt::Debug for Authoring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authoring")
            .field("actor", &self.actor)
            .field("signer", &self.signer.as_ref().map(|_| "set"))
            .field("owner", &self.owner.as_ref().map(Vec::len))
            .finish()
    }
}

impl Authoring {
    pub(crate) fn new(actor: ActorId) -> Self {
        Self {
            actor,
            signer: None,
            owner: None,
        }
    }

    /// The attestations of the changes of `doc` beyond `base_heads` authored by this
    /// actor, and this actor's owner record if any was signed. Empty without a signer.
    pub(crate) fn sign_new_changes(
        &self,
        doc: &mut AutoCommit,
        base_heads: &[ChangeHash],
    ) -> Attachments {
        if self.signer.is_none() {
            return Attachments::default();
        }
        // Change metadata comes from automerge's change graph: no op is decoded.
        let own = new_changes(doc, base_heads, &self.actor).own;
        self.sign(&own)
    }

    /// The attestations of `own`, changes of this actor, and this actor's owner
    /// record if any was signed. Empty without a signer.
    pub(crate) fn sign(&self, own: &[ChangeHash]) -> Attachments {
        let mut attachments = Attachments::default();
        let Some(signer) = &self.signer else {
            return attachments;
        };
        for hash in own {
            attachments.attestations.push((*hash, signer(hash)));
        }
        if let Some(owner) = &self.owner
            && !attachments.attestations.is_empty()
        {
            attachments
                .actor_owners
                .push((self.actor.to_bytes().to_vec(), owner.clone()));
        }
        attachments
    }
}

impl Store {
    /// The authoring snapshot a write uses.
    pub(crate) fn authoring(&self) -> Arc<Authoring> {
        Arc::clone(
            &self
                .authoring
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn change_authoring(&self, change: impl FnOnce(&mut Authoring)) {
        let mut current = self
            .authoring
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = Authoring::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }

    /// Rebinds the actor of this opening: documents loaded or created afterwards
    /// (by [`Store::update`], [`Store::load_for_update`], [`Store::document`], ...)
    /// edit as `actor`. Writes already under way keep the actor they started with.
    ///
    /// The caller must never give two openings of any store the same actor (an
    /// actor's sequence numbers restart with each opening): derive it with a random
    /// part, as the fresh actor of [`Store::open`] is.
    pub fn set_actor(&self, actor: ActorId) {
        self.change_authoring(|authoring| authoring.actor = actor);
    }

    /// From now on, every write that adds changes authored by this store's actor
    /// ([`Store::actor`]) stores `signer(hash)` as the attestation record of each such
    /// change, in the same atomic batch as the document: [`Store::update`],
    /// [`Store::update_attested`], [`Store::update_many`], [`Store::commit`] (signed
    /// by [`PendingDocument::prepare`](crate::PendingDocument::prepare) on the worker
    /// thread when it is called), [`Store::apply_changes`] and
    /// [`Store::apply_document`]. Changes of other actors are never signed.
    pub fn set_change_signer(&self, signer: ChangeSigner) {
        self.change_authoring(|authoring| authoring.signer = Some(signer));
    }

    /// Sets the owner record of this store's actor (e.g. the device key that signs
    /// its changes): written, if the actor has none yet, with the first write that
    /// signs one of the actor's changes. Rebinding the actor keeps the owner bytes
    /// for the new actor.
    pub fn set_actor_owner_record(&self, owner: Vec<u8>) {
        self.change_authoring(|authoring| authoring.owner = Some(owner));
    }

    /// The attestation record of a change, or `None`.
    pub fn attestation(&self, hash: &ChangeHash) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self
            .db
            .get(keys::attestation(hash))?
            .map(|value| value.to_vec()))
    }

    /// The owner record of an actor (its id bytes), or `None`.
    pub fn actor_owner(&self, actor: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self
            .db
            .get(keys::actor_owner(actor))?
            .map(|value| value.to_vec()))
    }

    /// Writes the attestation and actor-owner records of many households in one
    /// atomic batch and one flush (e.g. signing the changes a device held before it
    /// joined a program), under the write lock. The records of a household the store
    /// does not hold are dropped, as by [`Store::update_attested`]; both kinds are
    /// write-once. The store does not check that the hashes are the households'
    /// changes (a change is never removed from a document, so a record written for
    /// one it holds stays valid). An empty list writes nothing.
    pub fn attach_many(&self, records: Vec<(HouseholdId, Attachments)>) -> Result<(), WriteError> {
        let _guard = self.lock_writes();
        let mut set = WriteSet::new(self);
        for (id, attachments) in records {
            if attachments.is_empty()
                || !self
                    .db
                    .contains_key(keys::entry(&id))
                    .map_err(ReadError::from)?
            {
                continue;
            }
            set.attach(attachments)?;
        }
        set.finish()
    }

    /// The changes of a household's document without an attestation record, in
    /// causal order (empty if the household is absent). Loads the document.
    pub fn unattested_changes(&self, id: &HouseholdId) -> Result<Vec<ChangeHash>, ReadError> {
        let Some(mut doc) = self.document(id)? else {
            return Ok(Vec::new());
        };
        let mut unattested = Vec::new();
        for change in doc.get_changes_meta(&[]) {
            if !self.db.contains_key(keys::attestation(&change.hash))? {
                unattested.push(change.hash);
            }
        }
        Ok(unattested)
    }
}
