//! The automerge work behind the storage requests, on one document in memory.
//!
//! A store loads the document, calls one of these, and persists the result durably
//! before replying. They never modify the document they are given: a payload that is
//! refused leaves nothing behind.

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, AutomergeError, Change, ChangeHash};
use kafo_model::document::{self, DocumentError, DocumentSummary};
use kafo_model::{HouseholdId, HouseholdScope, Scope};

use crate::storage::ChangesSince;
use crate::tree::HeadPrefix;

/// Why a payload from a peer is refused: each one means the peer misbehaved.
#[derive(Debug, thiserror::Error)]
pub enum RejectReason {
    /// The bytes are not automerge data.
    #[error("payload is not automerge data: {source}")]
    NotAutomerge {
        /// What automerge said.
        source: AutomergeError,
    },
    /// The bytes are not an automerge sync message.
    #[error("payload is not an automerge sync message: {source}")]
    BadSyncMessage {
        /// What automerge said.
        source: sync::ReadMessageError,
    },
    /// The document is not a household document.
    #[error("payload is not a household document: {source}")]
    NotAHousehold {
        /// What is wrong with it.
        source: DocumentError,
    },
    /// The document holds another household than the one it was sent as.
    #[error("payload sent as household {sent_as} holds household {found}")]
    WrongId {
        /// The id it was sent under.
        sent_as: HouseholdId,
        /// The id inside.
        found: HouseholdId,
    },
    /// The document is outside the scopes the session shares.
    #[error("payload document is in {scope}, outside the shared scopes")]
    OutOfScope {
        /// Its scope.
        scope: HouseholdScope,
    },
    /// The changes depend on changes the receiver does not have (not what it asked for).
    #[error("payload changes depend on {missing} changes the receiver lacks")]
    MissingDependencies {
        /// Number of missing dependencies.
        missing: usize,
    },
    /// The payload fails the receiver's trust checks (a missing or bad signature, an
    /// author not enrolled or revoked, a write outside the author's scopes, ...). The
    /// text says which check failed, with shortened change hashes and redacted device
    /// ids, never record contents.
    #[error("payload fails the trust checks: {0}")]
    Untrusted(String),
}

/// Why a payload was not merged.
#[derive(Debug)]
pub enum Refusal {
    /// The receiver holds the document outside the shared scopes: not the peer's fault,
    /// but the peer may not write to it.
    Skipped,
    /// The payload is bad.
    Rejected(RejectReason),
}

impl From<RejectReason> for Refusal {
    fn from(reason: RejectReason) -> Self {
        Self::Rejected(reason)
    }
}

/// A document with a payload merged in, to persist.
#[derive(Debug)]
pub struct Merged {
    /// The new version.
    pub doc: AutoCommit,
    /// Its summary.
    pub summary: DocumentSummary,
    /// Changes new to the receiver.
    pub changes_added: u64,
}

/// The result of a sync step, to persist if `doc` is set.
#[derive(Debug)]
pub struct Stepped {
    /// The new version, when the message brought changes.
    pub doc: Option<Merged>,
    /// The encoded reply, if any.
    pub reply: Option<Vec<u8>>,
}

/// Whether a document of `scope` is in one of `within`.
pub fn is_within(scope: &HouseholdScope, within: &[Scope]) -> bool {
    within.iter().any(|allowed| allowed.contains(scope))
}

/// Resolves head prefixes against the changes a document holds; `None` if one is unknown.
pub fn resolve_heads(doc: &mut AutoCommit, prefixes: &[HeadPrefix]) -> Option<Vec<ChangeHash>> {
    let heads = doc.get_heads();
    let mut resolved = Vec::with_capacity(prefixes.len());
    let mut rest = Vec::new();
    for prefix in prefixes {
        match heads.iter().find(|head| prefix.matches(head)) {
            Some(head) => resolved.push(*head),
            None => rest.push(*prefix),
        }
    }
    if !rest.is_empty() {
        let metas = doc.get_changes_meta(&[]);
        for prefix in rest {
            resolved.push(metas.iter().find(|meta| prefix.matches(&meta.hash))?.hash);
        }
    }
    Some(resolved)
}

/// The changes a peer with `their_heads` lacks, if every one of those heads is known.
pub fn changes_since(doc: &mut AutoCommit, their_heads: &[HeadPrefix]) -> ChangesSince {
    match missing_changes(doc, their_heads) {
        Some(changes) => ChangesSince::Changes {
            bytes: concatenated(&changes),
            count: changes.len() as u64,
        },
        None => ChangesSince::UnknownHeads,
    }
}

/// The changes a peer with heads `their_heads` lacks, or `None` if some of its heads
/// are unknown here (it has changes this document lacks).
pub fn missing_changes(doc: &mut AutoCommit, their_heads: &[HeadPrefix]) -> Option<Vec<Change>> {
    let their_heads = resolve_heads(doc, their_heads)?;
    Some(doc.get_changes(&their_heads))
}

/// Changes as a session sends them: their raw chunks, concatenated.
pub fn concatenated(changes: &[Change]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for change in changes {
        bytes.extend_from_slice(change.raw_bytes());
    }
    bytes
}

/// Checks that the store's own copy may take writes from this session.
fn check_existing(existing: Option<&AutoCommit>, within: &[Scope]) -> Result<(), Refusal> {
    if let Some(existing) = existing {
        match document::summary(existing) {
            Ok(summary) if is_within(&summary.scope, within) => {}
            _ => return Err(Refusal::Skipped),
        }
    }
    Ok(())
}

/// Validates the merged document: a household, the right one, and in scope unless the
/// store already shared it (then a change may move it out: a reassignment).
fn validate(
    doc: AutoCommit,
    id: &HouseholdId,
    had_existing: bool,
    within: &[Scope],
    before: &[ChangeHash],
) -> Result<Merged, Refusal> {
    let mut doc = doc;
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(RejectReason::MissingDependencies {
            missing: missing.len(),
        }
        .into());
    }
    let summary =
        document::summary(&doc).map_err(|source| RejectReason::NotAHousehold { source })?;
    if summary.id != *id {
        return Err(RejectReason::WrongId {
            sent_as: id.clone(),
            found: summary.id,
        }
        .into());
    }
    if !had_existing && !is_within(&summary.scope, within) {
        return Err(RejectReason::OutOfScope {
            scope: summary.scope,
        }
        .into());
    }
    let changes_added = doc.get_changes(before).len() as u64;
    Ok(Merged {
        doc,
        summary,
        changes_added,
    })
}

/// Merges a peer's payload into the store's copy (or into nothing).
///
/// A whole document must itself be a household in `within`; changes must apply to what
/// the store holds, and a new document they create must be in `within`.
pub fn merge_payload(
    existing: Option<&AutoCommit>,
    id: &HouseholdId,
    payload: &crate::storage::ApplyPayload,
    within: &[Scope],
) -> Result<Merged, Refusal> {
    check_existing(existing, within)?;
    let before = existing
        .map(|doc| doc.clone().get_heads())
        .unwrap_or_default();
    let doc = match payload {
        crate::storage::ApplyPayload::Document(bytes) => {
            let mut incoming =
                AutoCommit::load(bytes).map_err(|source| RejectReason::NotAutomerge { source })?;
            let incoming_summary = document::summary(&incoming)
                .map_err(|source| RejectReason::NotAHousehold { source })?;
            if incoming_summary.id != *id {
                return Err(RejectReason::WrongId {
                    sent_as: id.clone(),
                    found: incoming_summary.id,
                }
                .into());
            }
            if !is_within(&incoming_summary.scope, within) {
                return Err(RejectReason::OutOfScope {
                    scope: incoming_summary.scope,
                }
                .into());
            }
            match existing {
                None => incoming,
                Some(existing) => {
                    let mut doc = existing.clone();
                    doc.merge(&mut incoming)
                        .map_err(|source| RejectReason::NotAutomerge { source })?;
                    doc
                }
            }
        }
        crate::storage::ApplyPayload::Changes(bytes) => {
            let mut doc = existing.cloned().unwrap_or_default();
            doc.load_incremental(bytes)
                .map_err(|source| RejectReason::NotAutomerge { source })?;
            doc
        }
    };
    validate(doc, id, existing.is_some(), within, &before)
}

/// One step of automerge's sync protocol: receive `message` (if any), then generate the
/// reply. The state is updated in place.
pub fn sync_step(
    existing: Option<&AutoCommit>,
    id: &HouseholdId,
    state: &mut sync::State,
    message: Option<&[u8]>,
    within: &[Scope],
) -> Result<Stepped, Refusal> {
    check_existing(existing, within)?;
    let mut doc = existing.cloned().unwrap_or_default();
    let before = doc.get_heads();
    if let Some(message) = message {
        let message = sync::Message::decode(message)
            .map_err(|source| RejectReason::BadSyncMessage { source })?;
        doc.sync()
            .receive_sync_message(state, message)
            .map_err(|source| RejectReason::NotAutomerge { source })?;
    }
    let changed = doc.get_heads() != before;
    let reply = doc
        .sync()
        .generate_sync_message(state)
        .map(sync::Message::encode);
    let doc = if changed {
        Some(validate(doc, id, existing.is_some(), within, &before)?)
    } else {
        None
    };
    Ok(Stepped { doc, reply })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ApplyPayload;
    use crate::testing::docs::{add_visit, household, test_actor};

    fn scopes(list: &[&str]) -> Vec<Scope> {
        list.iter()
            .map(|s| s.parse().expect("valid scope"))
            .collect()
    }

    #[test]
    fn changes_since_known_heads_bring_the_peer_level() {
        let mut doc = household("h1", "sikoro", "chw-01", test_actor(1));
        let mut peer = doc.fork().with_actor(test_actor(2));
        let heads: Vec<HeadPrefix> = peer.get_heads().iter().map(HeadPrefix::of).collect();
        add_visit(&mut doc, "v1");
        let ChangesSince::Changes { bytes, count } = changes_since(&mut doc, &heads) else {
            panic!("heads are known");
        };
        assert_eq!(count, 1);
        let merged = merge_payload(
            Some(&peer),
            &"h1".parse().expect("valid"),
            &ApplyPayload::Changes(bytes),
            &scopes(&["sikoro"]),
        )
        .expect("valid changes");
        assert_eq!(merged.changes_added, 1);
        assert_eq!(merged.doc.clone().get_heads(), doc.get_heads());
        add_visit(&mut peer, "v2");
        let peer_heads: Vec<HeadPrefix> = peer.get_heads().iter().map(HeadPrefix::of).collect();
        assert_eq!(
            changes_since(&mut doc, &peer_heads),
            ChangesSince::UnknownHeads
        );
    }

    #[test]
    fn out_of_scope_and_mislabelled_documents_are_rejected() {
        let mut doc = household("h1", "sikoro", "chw-01", test_actor(1));
        let bytes = doc.save();
        let id: HouseholdId = "h1".parse().expect("valid");
        let payload = ApplyPayload::Document(bytes);
        assert!(matches!(
            merge_payload(None, &id, &payload, &scopes(&["banconi"])),
            Err(Refusal::Rejected(RejectReason::OutOfScope { .. }))
        ));
        assert!(matches!(
            merge_payload(
                None,
                &"h2".parse().expect("valid"),
                &payload,
                &scopes(&["sikoro"])
            ),
            Err(Refusal::Rejected(RejectReason::WrongId { .. }))
        ));
        assert!(matches!(
            merge_payload(
                None,
                &id,
                &ApplyPayload::Document(vec![1, 2, 3]),
                &scopes(&["sikoro"])
            ),
            Err(Refusal::Rejected(RejectReason::NotAutomerge { .. }))
        ));
        let held_elsewhere = household("h1", "banconi", "chw-09", test_actor(3));
        assert!(matches!(
            merge_payload(Some(&held_elsewhere), &id, &payload, &scopes(&["sikoro"])),
            Err(Refusal::Skipped)
        ));
    }
}
