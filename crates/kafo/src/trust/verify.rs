//! Verifying the changes a peer sends before anything is written: each new change
//! signed by its author, the author enrolled in this program with write access to
//! the household as it was when the change was made, not revoked beyond the
//! revocation's frontier, and its automerge actor bound to that one device.
//!
//! The first change of every household document (written by the fixed genesis
//! actor, the same bytes on every device) is exempt, but only when it is exactly the
//! first change this device would derive for that household.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use automerge::transaction::{CommitOptions, Transactable as _};
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc as _, ScalarValue, Value,
};
use kafo_model::document::{GENESIS_ACTOR, KEY_AREA, KEY_CHW, KEY_ID, KEY_LAYOUT, KEY_MEMBERS};
use kafo_model::document::{KEY_VISITS, LAYOUT_VERSION};
use kafo_model::{AreaId, ChwId, HouseholdId, HouseholdScope};
use kafo_store::{Attachments, ReadError, Store};

use crate::trust::held_back::Settlements;
use kafo_trust::{
    Attestation, Chain, ChainError, DecodeError, DeviceKey, Enrolment, ProgramId, Role,
    SignedEnvelope, TrustBook, UnixTime,
};

/// Why a peer's payload is refused by the trust checks. Device ids are redacted and
/// change hashes shortened; no record content appears.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    /// The bytes are not a signed envelope.
    #[error("the payload is not a signed envelope: {0}")]
    Envelope(DecodeError),
    /// A chain in the envelope does not verify against this program.
    #[error("an author's certificate chain does not verify: {0}")]
    Chain(ChainError),
    /// A new change carries no signature.
    #[error("change {hash} is not signed")]
    Unsigned {
        /// The change (hash prefix).
        hash: String,
    },
    /// A signature does not verify.
    #[error("the signature of change {hash} does not verify")]
    BadSignature {
        /// The change (hash prefix).
        hash: String,
    },
    /// The author has no valid chain in this program.
    #[error("change {hash} is signed by {author}, which is not enrolled in this program")]
    NotEnrolled {
        /// The change (hash prefix).
        hash: String,
        /// The author (redacted).
        author: String,
    },
    /// The author's role never writes.
    #[error("change {hash} is by {author}, a {role}, which may not write")]
    CannotWrite {
        /// The change (hash prefix).
        hash: String,
        /// The author (redacted).
        author: String,
        /// Its role.
        role: Role,
    },
    /// The author may not write the household (before or after its change).
    #[error("change {hash} by {author} writes a household of {scope}, outside its scopes")]
    OutOfScope {
        /// The change (hash prefix).
        hash: String,
        /// The author (redacted).
        author: String,
        /// The household's scope.
        scope: HouseholdScope,
    },
    /// The author was revoked and the change is beyond the revocation's frontier.
    #[error("change {hash} by {author} was made after the device was revoked")]
    Revoked {
        /// The change (hash prefix).
        hash: String,
        /// The author (redacted).
        author: String,
    },
    /// Changes by revoked devices past their frontiers, not settled: the household is
    /// held back ([`crate::trust::held_back`]).
    #[error("{} change(s) were made by revoked devices after their revocation", .changes.len())]
    HeldBack {
        /// The held-back change hashes.
        changes: BTreeSet<[u8; 32]>,
    },
    /// The author's certificate was issued by a revoked device after its revocation.
    #[error("the certificate of {author} was issued by a revoked device after its revocation")]
    RevokedIssuer {
        /// The author (redacted).
        author: String,
    },
    /// The change's actor belongs to another device.
    #[error("change {hash} uses an actor that belongs to another device")]
    ActorTaken {
        /// The change (hash prefix).
        hash: String,
    },
    /// A change by the genesis actor that is not this household's first change.
    #[error("change {hash} claims to be the household's shared first change but is not")]
    FalseGenesis {
        /// The change (hash prefix).
        hash: String,
    },
    /// The peer was revoked during the session.
    #[error("the peer was revoked during the session")]
    PeerRevoked,
}

/// The first 12 hex digits of a change hash.
pub(crate) fn short(hash: &ChangeHash) -> String {
    hash.to_string().chars().take(12).collect()
}

/// The first change every device derives for household `id` (see
/// `kafo_model::document`: layout, id and the empty members and visits maps, by the
/// genesis actor at time 0). `None` only if automerge refuses the writes.
pub(crate) fn genesis_hash(id: &HouseholdId) -> Option<ChangeHash> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(GENESIS_ACTOR));
    doc.put(ROOT, KEY_LAYOUT, ScalarValue::Uint(LAYOUT_VERSION))
        .ok()?;
    doc.put(ROOT, KEY_ID, id.as_str()).ok()?;
    doc.put_object(ROOT, KEY_MEMBERS, ObjType::Map).ok()?;
    doc.put_object(ROOT, KEY_VISITS, ObjType::Map).ok()?;
    doc.commit_with(CommitOptions::default().with_time(0))
}

/// Whether the four operations of the genesis actor (ids 1 to 4) are visible in the
/// document as the shared first change writes them: `layout` 1, `id`, and the
/// `members` and `visits` maps, on the root. With the change's shape checked (one
/// change of four operations), this proves its content without deriving it; when a
/// later change overwrote one of them, [`genesis_hash`] decides.
fn holds_genesis_ops(doc: &AutoCommit, id: &HouseholdId) -> bool {
    let genesis = ActorId::from(GENESIS_ACTOR);
    let written = |key: &str, counter: u64, expected: &dyn Fn(&Value<'_>) -> bool| {
        doc.get_all(ROOT, key).is_ok_and(|values| {
            values.iter().any(|(value, op)| {
                matches!(op, ObjId::Id(c, actor, _) if *c == counter && *actor == genesis)
                    && expected(value)
            })
        })
    };
    written(
        KEY_LAYOUT,
        1,
        &|value| matches!(value, Value::Scalar(v) if matches!(v.as_ref(), ScalarValue::Uint(LAYOUT_VERSION))),
    ) && written(
        KEY_ID,
        2,
        &|value| matches!(value, Value::Scalar(v) if matches!(v.as_ref(), ScalarValue::Str(s) if s.as_str() == id.as_str())),
    ) && written(KEY_MEMBERS, 3, &|value| {
        matches!(value, Value::Object(ObjType::Map))
    }) && written(KEY_VISITS, 4, &|value| {
        matches!(value, Value::Object(ObjType::Map))
    })
}

/// The household's scope in the document as of `heads` (`None` while unset).
pub(crate) fn scope_at(doc: &AutoCommit, heads: &[ChangeHash]) -> Option<HouseholdScope> {
    let text = |key: &str| match doc.get_at(ROOT, key, heads) {
        Ok(Some((Value::Scalar(value), _))) => match value.as_ref() {
            ScalarValue::Str(text) => Some(text.to_string()),
            _ => None,
        },
        _ => None,
    };
    let area = AreaId::parse(&text(KEY_AREA)?).ok()?;
    let chw = ChwId::parse(&text(KEY_CHW)?).ok()?;
    Some(HouseholdScope { area, chw })
}

/// The decoded parts of one envelope, ready to check changes against.
#[derive(Debug)]
pub(crate) struct Opened {
    /// Enrolments proven by the envelope's chains, by device.
    pub(crate) authors: BTreeMap<DeviceKey, Arc<Enrolment>>,
    /// Signatures by change hash.
    pub(crate) signatures: HashMap<[u8; 32], Attestation>,
    /// The chains that verified and are not known to this device yet.
    pub(crate) new_chains: Vec<Chain>,
}

/// The checks of one session, with what they already verified.
#[derive(Debug)]
pub(crate) struct Verifier {
    program: ProgramId,
    now: UnixTime,
    /// Chains verified in this session, by encoded form.
    chains: HashMap<Vec<u8>, Arc<Enrolment>>,
    /// Owners of actors seen in this session (device key bytes, `None`: no owner yet).
    owners: HashMap<Vec<u8>, Option<[u8; 32]>>,
}

impl Verifier {
    pub(crate) fn new(program: ProgramId, now: UnixTime) -> Self {
        Self {
            program,
            now,
            chains: HashMap::new(),
            owners: HashMap::new(),
        }
    }

    /// Verifies the chains of an envelope (each once per session) and indexes its
    /// signatures. A chain of another program or that does not verify fails the
    /// whole envelope.
    pub(crate) fn open(
        &mut self,
        envelope: &SignedEnvelope,
        book: &TrustBook,
    ) -> Result<Opened, Untrusted> {
        let mut authors = BTreeMap::new();
        let mut new_chains = Vec::new();
        for chain in &envelope.chains {
            let encoded = chain.encode();
            let enrolment = match self.chains.get(&encoded) {
                Some(enrolment) => Arc::clone(enrolment),
                None => {
                    let enrolment = chain
                        .verify_ignoring_time(&self.program)
                        .map(Arc::new)
                        .map_err(Untrusted::Chain)?;
                    if enrolment.not_before > self.now {
                        return Err(Untrusted::Chain(ChainError::NotYetValid {
                            not_before: enrolment.not_before,
                        }));
                    }
                    let known = book
                        .chain(&enrolment.device)
                        .is_some_and(|known| known.leaf().not_after >= chain.leaf().not_after);
                    if !known {
                        new_chains.push(chain.clone());
                    }
                    self.chains.insert(encoded, Arc::clone(&enrolment));
                    enrolment
                }
            };
            authors.insert(enrolment.device, enrolment);
        }
        let signatures = envelope
            .signatures
            .iter()
            .map(|(hash, attestation)| (*hash, *attestation))
            .collect();
        Ok(Opened {
            authors,
            signatures,
            new_chains,
        })
    }

    /// Checks every change of `doc` beyond `before` (the store's heads before the
    /// merge); returns the attestation and actor-owner records to write with it.
    ///
    /// Changes a revoked device made past its frontier are accepted when a
    /// settlement names them; the others hold the household back
    /// ([`Untrusted::HeldBack`], once every other check passed).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check(
        &mut self,
        opened: &Opened,
        book: &TrustBook,
        settlements: &Settlements,
        store: &Store,
        id: &HouseholdId,
        doc: &mut AutoCommit,
        before: &[ChangeHash],
    ) -> Result<Result<Attachments, Untrusted>, ReadError> {
        let genesis_actor = ActorId::from(GENESIS_ACTOR);
        let mut genesis = None;
        let mut changes: Vec<(ChangeHash, ActorId, u64, Vec<ChangeHash>)> = Vec::new();
        for meta in doc.get_changes_meta(before) {
            if *meta.actor == genesis_actor {
                let canonical_shape = meta.seq == 1
                    && meta.start_op == 1
                    && meta.max_op == 4
                    && meta.deps.is_empty()
                    && meta.timestamp == 0
                    && meta.message.is_none()
                    && meta.extra.is_empty();
                genesis = Some((meta.hash, canonical_shape));
            } else {
                changes.push((meta.hash, meta.actor.into_owned(), meta.seq, meta.deps));
            }
        }
        if let Some((hash, canonical_shape)) = genesis
            && !(canonical_shape && holds_genesis_ops(doc, id))
            && genesis_hash(id) != Some(hash)
        {
            return Ok(Err(Untrusted::FalseGenesis { hash: short(&hash) }));
        }
        let mut attachments = Attachments::default();
        let mut held_back = BTreeSet::new();
        let mut household_scope: Option<Option<HouseholdScope>> = None;
        let mut pending: BTreeMap<Vec<u8>, [u8; 32]> = BTreeMap::new();
        let mut scopes: HashMap<Vec<ChangeHash>, Option<HouseholdScope>> = HashMap::new();
        for (hash, actor, seq, deps) in changes {
            let Some(attestation) = opened.signatures.get(&hash.0) else {
                return Ok(Err(Untrusted::Unsigned { hash: short(&hash) }));
            };
            if !attestation.verify(&hash.0) {
                return Ok(Err(Untrusted::BadSignature { hash: short(&hash) }));
            }
            let author = attestation.author;
            let Some(enrolment) = self.author(opened, book, &author) else {
                return Ok(Err(Untrusted::NotEnrolled {
                    hash: short(&hash),
                    author: author.redacted(),
                }));
            };
            match self.check_author(book, &enrolment, &hash, &actor, seq) {
                Ok(()) => {}
                Err(Untrusted::Revoked { .. }) => {
                    let scope = household_scope.get_or_insert_with(|| {
                        let heads = doc.get_heads();
                        scope_at(doc, &heads)
                    });
                    if !settlements.accepts(id, scope.as_ref(), &hash.0) {
                        held_back.insert(hash.0);
                        continue;
                    }
                }
                Err(untrusted) => return Ok(Err(untrusted)),
            }
            // The actor is bound to the first device that signed one of its changes.
            let actor_bytes = actor.to_bytes().to_vec();
            let owner = match pending.get(&actor_bytes) {
                Some(owner) => Some(*owner),
                None => self.owner(store, &actor_bytes)?,
            };
            match owner {
                Some(owner) if owner != *author.as_bytes() => {
                    return Ok(Err(Untrusted::ActorTaken { hash: short(&hash) }));
                }
                Some(_) => {}
                None => {
                    pending.insert(actor_bytes, *author.as_bytes());
                }
            }
            // The author may write the household as it was before its change and as
            // its change left it (a supervisor's reassignment within her scopes
            // passes; a change that moves a household in or out of a CHW's
            // caseload does not).
            let mut checked_any = false;
            for heads in [deps, vec![hash]] {
                let scope = scopes
                    .entry(heads.clone())
                    .or_insert_with(|| scope_at(doc, &heads))
                    .clone();
                if let Some(scope) = scope {
                    checked_any = true;
                    if !enrolment.may_write(&scope) {
                        return Ok(Err(out_of_scope(&hash, &author, scope)));
                    }
                }
            }
            let heads = if checked_any {
                Vec::new()
            } else {
                doc.get_heads()
            };
            if !checked_any
                && let Some(scope) = scope_at(doc, &heads)
                && !enrolment.may_write(&scope)
            {
                return Ok(Err(out_of_scope(&hash, &author, scope)));
            }
            attachments
                .attestations
                .push((hash, attestation.encode().to_vec()));
        }
        if !held_back.is_empty() {
            return Ok(Err(Untrusted::HeldBack { changes: held_back }));
        }
        attachments.actor_owners = pending
            .into_iter()
            .map(|(actor, owner)| (actor, owner.to_vec()))
            .collect();
        Ok(Ok(attachments))
    }

    /// Remembers the actor owners a successful write recorded.
    pub(crate) fn committed(&mut self, owners: &[(Vec<u8>, Vec<u8>)]) {
        for (actor, owner) in owners {
            if let Ok(owner) = <[u8; 32]>::try_from(owner.as_slice()) {
                self.owners.insert(actor.clone(), Some(owner));
            }
        }
    }

    /// The enrolment of an author: from the envelope's chains, else the book.
    fn author(
        &mut self,
        opened: &Opened,
        book: &TrustBook,
        author: &DeviceKey,
    ) -> Option<Arc<Enrolment>> {
        if let Some(enrolment) = opened.authors.get(author) {
            return Some(Arc::clone(enrolment));
        }
        let chain = book.chain(author)?;
        let encoded = chain.encode();
        if let Some(enrolment) = self.chains.get(&encoded) {
            return Some(Arc::clone(enrolment));
        }
        let enrolment = Arc::new(chain.verify_ignoring_time(&self.program).ok()?);
        self.chains.insert(encoded, Arc::clone(&enrolment));
        Some(enrolment)
    }

    /// Role, revocation of the author (within the frontier) and of its issuers.
    fn check_author(
        &self,
        book: &TrustBook,
        enrolment: &Enrolment,
        hash: &ChangeHash,
        actor: &ActorId,
        seq: u64,
    ) -> Result<(), Untrusted> {
        let author = enrolment.device;
        if !enrolment.role.can_write() {
            return Err(Untrusted::CannotWrite {
                hash: short(hash),
                author: author.redacted(),
                role: enrolment.role,
            });
        }
        if let Some(revocation) = book.revocation(&author)
            && !revocation.allows(actor.to_bytes(), seq)
        {
            return Err(Untrusted::Revoked {
                hash: short(hash),
                author: author.redacted(),
            });
        }
        // A revoked device's key may still issue certificates (a lost supervisor's
        // laptop): those issued after its revocation are worthless.
        let certificates = enrolment.chain().certificates();
        let leaf_start = enrolment.not_before;
        for issuer in certificates.iter().rev().skip(1) {
            if let Some(revocation) = book.revocation(&issuer.subject)
                && leaf_start >= revocation.issued_at
            {
                return Err(Untrusted::RevokedIssuer {
                    author: author.redacted(),
                });
            }
        }
        Ok(())
    }

    /// The owner of an actor as stored (cached for the session).
    fn owner(&mut self, store: &Store, actor: &[u8]) -> Result<Option<[u8; 32]>, ReadError> {
        if let Some(owner) = self.owners.get(actor) {
            return Ok(*owner);
        }
        let owner = store
            .actor_owner(actor)?
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok());
        self.owners.insert(actor.to_vec(), owner);
        Ok(owner)
    }
}

fn out_of_scope(hash: &ChangeHash, author: &DeviceKey, scope: HouseholdScope) -> Untrusted {
    Untrusted::OutOfScope {
        hash: short(hash),
        author: author.redacted(),
        scope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_genesis_is_the_first_change_of_an_imported_household() {
        let line = r#"{"id":"sikoro-chw-01-h0001","area":"sikoro","chw":"chw-01","name":"Test","members":[],"visits":[]}"#;
        let household = kafo_model::parse::parse_line(line).expect("a valid household line");
        let mut doc = AutoCommit::new();
        kafo_model::document::apply_household(&mut doc, &household).expect("applies");
        let first = doc
            .get_changes_meta(&[])
            .into_iter()
            .next()
            .expect("a first change")
            .hash;
        assert_eq!(genesis_hash(&household.id), Some(first));
        let other: HouseholdId = "sikoro-chw-01-h0002".parse().expect("valid id");
        assert_ne!(genesis_hash(&other), Some(first));
        assert!(holds_genesis_ops(&doc, &household.id));
        assert!(
            !holds_genesis_ops(&doc, &other),
            "another household's first change"
        );

        // Four operations by the genesis actor, but not the shared first change's.
        let mut forged = AutoCommit::new().with_actor(ActorId::from(GENESIS_ACTOR));
        forged
            .put(ROOT, KEY_LAYOUT, ScalarValue::Uint(LAYOUT_VERSION))
            .expect("writes");
        forged
            .put(ROOT, KEY_ID, household.id.as_str())
            .expect("writes");
        forged
            .put_object(ROOT, KEY_MEMBERS, ObjType::Map)
            .expect("writes");
        forged.put(ROOT, KEY_AREA, "sikoro").expect("writes");
        forged.commit_with(CommitOptions::default().with_time(0));
        assert!(!holds_genesis_ops(&forged, &household.id));
    }

    #[test]
    fn the_scope_is_read_as_of_any_heads() {
        let line = r#"{"id":"sikoro-chw-01-h0001","area":"sikoro","chw":"chw-01","name":"Test","members":[],"visits":[]}"#;
        let household = kafo_model::parse::parse_line(line).expect("a valid household line");
        let mut doc = AutoCommit::new();
        kafo_model::document::apply_household(&mut doc, &household).expect("applies");
        doc.commit();
        let genesis = vec![doc.get_changes_meta(&[])[0].hash];
        assert_eq!(
            scope_at(&doc, &genesis),
            None,
            "the first change sets no scope"
        );
        let created = doc.get_heads();
        doc.put(ROOT, KEY_CHW, "chw-02").expect("writes");
        doc.commit();
        let moved = doc.get_heads();
        assert_eq!(
            scope_at(&doc, &created).map(|s| s.chw.to_string()),
            Some("chw-01".to_owned())
        );
        assert_eq!(
            scope_at(&doc, &moved).map(|s| s.chw.to_string()),
            Some("chw-02".to_owned())
        );
    }
}
