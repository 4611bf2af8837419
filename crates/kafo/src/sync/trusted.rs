//! The protocol's storage effects between two enrolled devices: every payload leaves
//! wrapped in a [`SignedEnvelope`] (the signature of each change inside and the
//! chains of their authors), and every payload that arrives is checked change by
//! change before anything is written ([`crate::trust`]'s verifier).
//!
//! A document holding a change without a signature is never sent to an enrolled peer
//! (it is skipped with a warning). A payload that fails any check is rejected whole,
//! nothing of it written, and the session ends with the peer at fault (the running
//! node then disconnects and bans it); one whose only fault is a change a revoked
//! device made beyond its revocation's frontier is skipped instead (an honest relay
//! may carry it before it heard of the revocation). A payload that passes is merged
//! and written in one atomic batch with the attestations of its new changes and the
//! owners of their actors. Once the peer is known to be revoked, nothing more is
//! sent to it or taken from it.

use std::collections::BTreeSet;

use automerge::{AutoCommit, ChangeHash, sync};
use kafo_model::document::GENESIS_ACTOR;
use kafo_model::{AreaId, HouseholdId, HouseholdScope, Scope};
use kafo_proto::docops::{self, Refusal, RejectReason};
use kafo_proto::storage::{
    ApplyOutcome, ApplyPayload, CaseloadSummary, ChangesSince, Item, RangeSummary, StorageError,
    StorageOperation, SyncOutcome, SyncStorage,
};
use kafo_proto::tree::HeadPrefix;
use kafo_store::{Attachments, UpdateError};
use kafo_trust::{Attestation, DeviceKey, ProgramId, SignedEnvelope};
use tracing::{debug, warn};

use crate::node::Node;
use crate::sync::StoreStorage;
use crate::sync::storage::{apply_outcome, merge_payload};
use crate::trust::unix_now;
use crate::trust::verify::{Opened, Untrusted, Verifier, short};

/// [`SyncStorage`] between two enrolled devices, on a [`Node`]'s store.
#[derive(Debug)]
pub struct TrustedStorage<'a> {
    node: &'a Node,
    inner: StoreStorage<'a>,
    verifier: Verifier,
    /// The peer: once it is revoked, nothing more is sent to it or taken from it.
    peer: DeviceKey,
    /// Households this session held back ([`crate::trust::held_back`]).
    held_back: BTreeSet<HouseholdId>,
}

/// The session's peer was revoked while the session ran.
#[derive(Debug, thiserror::Error)]
#[error("the peer was revoked during the session")]
struct PeerRevokedError;

/// A payload refused by the trust checks, as the session reports it (peer misbehaviour).
fn reject(untrusted: Untrusted) -> RejectReason {
    RejectReason::Untrusted(untrusted.to_string())
}

/// The hashes of a document's changes beyond `heads`, except the shared first change.
fn non_genesis(doc: &mut AutoCommit, heads: &[ChangeHash]) -> Vec<ChangeHash> {
    doc.get_changes_meta(heads)
        .into_iter()
        .filter(|meta| meta.actor.to_bytes() != GENESIS_ACTOR)
        .map(|meta| meta.hash)
        .collect()
}

impl<'a> TrustedStorage<'a> {
    /// Storage for a session with `peer` (the device its transport authenticated), or
    /// `None` if `node` is not enrolled in a program.
    pub fn new(node: &'a Node, peer: DeviceKey) -> Option<Self> {
        let program = {
            let known = node.trust.read();
            known.own.as_ref()?;
            known.book.as_ref()?.program()
        };
        Some(Self::for_session(node, peer, program))
    }

    /// Storage for a session of an enrolled node pinned to `program`.
    pub(crate) fn for_session(node: &'a Node, peer: DeviceKey, program: ProgramId) -> Self {
        Self {
            node,
            inner: StoreStorage::new(node.store()),
            verifier: Verifier::new(program, unix_now()),
            peer,
            held_back: BTreeSet::new(),
        }
    }

    /// The households this session held back (offered with a revoked device's
    /// unsettled changes), in id order.
    pub fn held_back(&self) -> Vec<HouseholdId> {
        self.held_back.iter().cloned().collect()
    }

    /// After `id` was merged: if it was held back and now holds every held-back
    /// change (a settlement let them in), it is no longer held back.
    fn taken(&mut self, id: &HouseholdId, operation: StorageOperation) -> Result<(), StorageError> {
        let held = self.node.trust.read().held_back.get(id).cloned();
        let Some(held) = held else {
            return Ok(());
        };
        let store = self.node.store();
        let Some(mut doc) = store
            .document(id)
            .map_err(|e| StorageError::new(operation, e))?
        else {
            return Ok(());
        };
        if held
            .iter()
            .all(|hash| doc.get_change_by_hash(&ChangeHash(*hash)).is_some())
        {
            self.node
                .trust
                .clear_held_back(store, id)
                .map_err(|e| StorageError::new(operation, e))?;
            self.held_back.remove(id);
        }
        Ok(())
    }

    fn peer_revoked(&self) -> bool {
        self.node.trust.is_revoked(&self.peer)
    }

    /// Ends the session (as a storage failure) rather than read ids, counts or
    /// fingerprints for a peer learnt to be revoked since it was admitted.
    fn refuse_if_revoked(&self, operation: StorageOperation) -> Result<(), StorageError> {
        if self.peer_revoked() {
            return Err(StorageError::new(operation, PeerRevokedError));
        }
        Ok(())
    }

    /// Wraps `body` with the signatures of `changes` and the chains of their
    /// authors; `None` (with a warning) when a change has no signature or an author
    /// no known chain.
    fn seal(
        &self,
        operation: StorageOperation,
        body: Vec<u8>,
        changes: impl IntoIterator<Item = ChangeHash>,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let store = self.node.store();
        let mut signatures = Vec::new();
        let mut authors = BTreeSet::new();
        for hash in changes {
            let record = store
                .attestation(&hash)
                .map_err(|e| StorageError::new(operation, e))?;
            let Some(attestation) = record.and_then(|bytes| Attestation::decode(&bytes).ok())
            else {
                warn!("a household holds a change without a signature: it is not sent");
                debug!(change = %short(&hash), "unsigned change");
                return Ok(None);
            };
            authors.insert(attestation.author);
            signatures.push((hash.0, attestation));
        }
        let known = self.node.trust.read();
        let Some(book) = known.book.as_ref() else {
            return Ok(None);
        };
        let own = known.own.as_ref().map(|(chain, _)| chain);
        let mut chains = Vec::with_capacity(authors.len());
        for author in authors {
            let chain = own
                .filter(|chain| chain.subject() == author)
                .or_else(|| book.chain(&author));
            let Some(chain) = chain else {
                warn!("an author's certificate is unknown here: the household is not sent");
                debug!(author = %author.redacted(), "author without a chain");
                return Ok(None);
            };
            chains.push(chain.clone());
        }
        Ok(Some(
            SignedEnvelope {
                body,
                chains,
                signatures,
            }
            .encode(),
        ))
    }

    /// Opens an envelope and remembers the chains it proves that are new here
    /// (before anything they attribute is written).
    fn open(
        &mut self,
        operation: StorageOperation,
        bytes: &[u8],
    ) -> Result<Result<(Opened, Vec<u8>), Untrusted>, StorageError> {
        let envelope = match SignedEnvelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(error) => return Ok(Err(Untrusted::Envelope(error))),
        };
        let opened = {
            let known = self.node.trust.read();
            let Some(book) = known.book.as_ref() else {
                return Ok(Err(Untrusted::PeerRevoked));
            };
            self.verifier.open(&envelope, book)
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(untrusted) => return Ok(Err(untrusted)),
        };
        if !opened.new_chains.is_empty() {
            self.node
                .trust
                .learn_chains(self.node.store(), &opened.new_chains, unix_now())
                .map_err(|e| StorageError::new(operation, e))?;
        }
        Ok(Ok((opened, envelope.body)))
    }

    /// Merges inside one store update, checking the new changes before anything is
    /// written; maps the outcome for the session.
    fn merge<T>(
        &mut self,
        id: &HouseholdId,
        operation: StorageOperation,
        opened: Option<&Opened>,
        merge: impl FnOnce(Option<&AutoCommit>) -> Result<(Option<AutoCommit>, T), Refusal>,
    ) -> Result<Result<T, Refusal>, StorageError> {
        let node = self.node;
        let store = node.store();
        let verifier = &mut self.verifier;
        let mut written_owners = Vec::new();
        let owners_out = &mut written_owners;
        let mut held_back = None;
        let held_out = &mut held_back;
        let result = store.update_attested(id, |doc| {
            let before = doc.get_heads();
            let existing = (!before.is_empty()).then_some(&*doc);
            let (merged, value) = merge(existing)?;
            let mut attachments = Attachments::default();
            if let Some(mut merged) = merged {
                if merged.get_heads() != before {
                    let Some(opened) = opened else {
                        return Err(Refusal::Rejected(reject(Untrusted::Unsigned {
                            hash: String::from("(sync)"),
                        })));
                    };
                    let known = node.trust.read();
                    let Some(book) = known.book.as_ref() else {
                        return Err(Refusal::Rejected(reject(Untrusted::PeerRevoked)));
                    };
                    let checked = verifier.check(
                        opened,
                        book,
                        &known.settlements,
                        store,
                        id,
                        &mut merged,
                        &before,
                    );
                    attachments = refusal(checked, held_out)?;
                    owners_out.clone_from(&attachments.actor_owners);
                }
                *doc = merged;
            }
            Ok::<_, Refusal>((value, attachments))
        });
        if let Some(changes) = held_back {
            node.trust
                .note_held_back(store, id, changes)
                .map_err(|e| StorageError::new(operation, e))?;
            self.held_back.insert(id.clone());
        }
        match result {
            Ok((value, _outcome)) => {
                self.verifier.committed(&written_owners);
                self.taken(id, operation)?;
                Ok(Ok(value))
            }
            Err(UpdateError::Edit { source, .. }) => Ok(Err(source)),
            Err(UpdateError::Invalid { source, .. }) => Err(StorageError::new(operation, source)),
            Err(UpdateError::Write(error)) => Err(StorageError::new(operation, error)),
        }
    }

    /// The changes a reply to the peer may carry: those not behind its known heads.
    fn unsent_changes(doc: &mut AutoCommit, state: &sync::State) -> Vec<ChangeHash> {
        let their_heads: Vec<ChangeHash> = state
            .their_heads
            .iter()
            .flatten()
            .filter(|head| doc.get_change_by_hash(head).is_some())
            .copied()
            .collect();
        non_genesis(doc, &their_heads)
    }
}

/// The trust checks' verdict on new changes, as a refusal for the session; the
/// changes that hold the household back go to `held_back`.
fn refusal(
    checked: Result<Result<Attachments, Untrusted>, kafo_store::ReadError>,
    held_back: &mut Option<BTreeSet<[u8; 32]>>,
) -> Result<Attachments, Refusal> {
    match checked {
        Ok(Ok(attachments)) => Ok(attachments),
        Ok(Err(Untrusted::HeldBack { changes })) => {
            // An honest relay may carry what a revoked device wrote before it heard of
            // the revocation: the household is held back (reported, and kept until a
            // supervisor settles it), and the relay is not at fault.
            warn!(
                changes = changes.len(),
                "a household holds changes of a revoked device: held back"
            );
            *held_back = Some(changes);
            Err(Refusal::Skipped)
        }
        Ok(Err(untrusted @ Untrusted::Revoked { .. })) => {
            // An honest relay may carry what a revoked device wrote before it heard of
            // the revocation: the document is not taken, but the relay is not at fault.
            warn!(%untrusted, "a household holds a change of a revoked device: not taken");
            Err(Refusal::Skipped)
        }
        Ok(Err(untrusted)) => {
            warn!(%untrusted, "a peer sent a change that fails the trust checks: rejected");
            Err(Refusal::Rejected(reject(untrusted)))
        }
        Err(error) => {
            warn!(%error, "reading the store while checking changes failed");
            Err(Refusal::Skipped)
        }
    }
}

impl SyncStorage for TrustedStorage<'_> {
    fn summarize(&mut self, scopes: &[Scope]) -> Result<Vec<RangeSummary>, StorageError> {
        self.refuse_if_revoked(StorageOperation::Summarize)?;
        self.inner.summarize(scopes)
    }

    fn caseloads(&mut self, area: &AreaId) -> Result<Vec<CaseloadSummary>, StorageError> {
        self.refuse_if_revoked(StorageOperation::Caseloads)?;
        self.inner.caseloads(area)
    }

    fn items(&mut self, caseload: &HouseholdScope) -> Result<Vec<Item>, StorageError> {
        self.refuse_if_revoked(StorageOperation::Items)?;
        self.inner.items(caseload)
    }

    fn changes_since(
        &mut self,
        id: &HouseholdId,
        their_heads: &[HeadPrefix],
    ) -> Result<ChangesSince, StorageError> {
        let operation = StorageOperation::ChangesSince;
        if self.peer_revoked() {
            return Ok(ChangesSince::Missing);
        }
        let Some(mut doc) = self
            .node
            .store()
            .document(id)
            .map_err(|e| StorageError::new(operation, e))?
        else {
            return Ok(ChangesSince::Missing);
        };
        let Some(changes) = docops::missing_changes(&mut doc, their_heads) else {
            return Ok(ChangesSince::UnknownHeads);
        };
        let signed: Vec<ChangeHash> = changes
            .iter()
            .filter(|change| change.actor_id().to_bytes() != GENESIS_ACTOR)
            .map(automerge::Change::hash)
            .collect();
        let bytes = docops::concatenated(&changes);
        let count = changes.len() as u64;
        if count == 0 {
            return Ok(ChangesSince::Changes { bytes, count });
        }
        Ok(match self.seal(operation, bytes, signed)? {
            Some(bytes) => ChangesSince::Changes { bytes, count },
            None => ChangesSince::Missing,
        })
    }

    fn whole_document(&mut self, id: &HouseholdId) -> Result<Option<Vec<u8>>, StorageError> {
        let operation = StorageOperation::WholeDocument;
        if self.peer_revoked() {
            return Ok(None);
        }
        let store = self.node.store();
        let Some(bytes) = store
            .compacted_bytes(id)
            .map_err(|e| StorageError::new(operation, e))?
        else {
            return Ok(None);
        };
        // The change list is read after the bytes: the document only grows, so it
        // names every change in the bytes (a signature for a change written since is
        // ignored by the receiver). Without a list (a document not compacted since
        // the store kept them), the bytes are loaded to list their changes.
        let listed = store
            .authored_changes(id)
            .map_err(|e| StorageError::new(operation, e))?;
        let changes = match listed {
            Some(changes) => changes,
            None => {
                let mut doc =
                    AutoCommit::load(&bytes).map_err(|e| StorageError::new(operation, e))?;
                non_genesis(&mut doc, &[])
            }
        };
        self.seal(operation, bytes, changes)
    }

    fn apply(
        &mut self,
        id: &HouseholdId,
        payload: ApplyPayload,
        within: &[Scope],
    ) -> Result<ApplyOutcome, StorageError> {
        let operation = StorageOperation::Apply;
        if self.peer_revoked() {
            return Ok(ApplyOutcome::Rejected(reject(Untrusted::PeerRevoked)));
        }
        let (sealed, document) = match payload {
            ApplyPayload::Changes(bytes) => (bytes, false),
            ApplyPayload::Document(bytes) => (bytes, true),
        };
        let (opened, body) = match self.open(operation, &sealed)? {
            Ok(opened) => opened,
            Err(untrusted) => return Ok(ApplyOutcome::Rejected(reject(untrusted))),
        };
        let payload = if document {
            ApplyPayload::Document(body)
        } else {
            ApplyPayload::Changes(body)
        };
        let merged = self.merge(id, operation, Some(&opened), |existing| {
            merge_payload(existing, id, &payload, within)
        })?;
        Ok(apply_outcome(merged))
    }

    fn sync_step(
        &mut self,
        id: &HouseholdId,
        mut state: Box<sync::State>,
        message: Option<Vec<u8>>,
        within: &[Scope],
    ) -> Result<SyncOutcome, StorageError> {
        let operation = StorageOperation::SyncStep;
        if self.peer_revoked() {
            // A first step (no message from the peer) is this side's own initiative:
            // not taking it is no fault of the peer's reply.
            return Ok(match message {
                Some(_) => SyncOutcome::Rejected(reject(Untrusted::PeerRevoked)),
                None => SyncOutcome::Skipped,
            });
        }
        let (opened, message) = match message {
            Some(sealed) => match self.open(operation, &sealed)? {
                Ok((opened, body)) => (Some(opened), Some(body)),
                Err(untrusted) => return Ok(SyncOutcome::Rejected(reject(untrusted))),
            },
            None => (None, None),
        };
        let stepped = self.merge(id, operation, opened.as_ref(), |existing| {
            let stepped = docops::sync_step(existing, id, &mut state, message.as_deref(), within)?;
            let changes_added = stepped.doc.as_ref().map_or(0, |m| m.changes_added);
            let mut doc = match stepped.doc {
                Some(merged) => merged.doc,
                None => existing.cloned().unwrap_or_default(),
            };
            let unsent = match stepped.reply {
                Some(_) => Self::unsent_changes(&mut doc, &state),
                None => Vec::new(),
            };
            let changed = changes_added > 0;
            Ok((
                changed.then_some(doc),
                (stepped.reply, changes_added, unsent),
            ))
        })?;
        let (reply, changes_added, unsent) = match stepped {
            Ok(stepped) => stepped,
            Err(Refusal::Skipped) => return Ok(SyncOutcome::Skipped),
            Err(Refusal::Rejected(reason)) => return Ok(SyncOutcome::Rejected(reason)),
        };
        let reply = match reply {
            // What the step brought is written already: when the reply cannot be
            // sealed (an unsigned change), it is not sent, but the step still counts.
            Some(reply) => self.seal(operation, reply, unsent)?,
            None => None,
        };
        Ok(SyncOutcome::Stepped {
            state,
            reply,
            changes_added,
        })
    }
}
