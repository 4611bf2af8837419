//! Storage as an effect: the requests a session makes of the device's store, and the
//! replies it expects.
//!
//! A session never touches a store. It emits [`StorageRequest`]s; the driver performs
//! them (on any thread, in any order, as long as a reply for a document's write is only
//! given once that write is durable) and feeds back [`StorageReply`]s with the same id.
//! A driver over a synchronous store implements [`SyncStorage`] and calls [`execute`].

use std::fmt;

use automerge::ChangeHash;
use automerge::sync;
use kafo_model::{AreaId, ChwId, Fingerprint, HouseholdId, HouseholdScope, Scope};

use crate::docops::RejectReason;
use crate::tree::HeadPrefix;

/// Identifies a request, to match its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Work the session asks the store to do.
#[derive(Debug)]
pub struct StorageRequest {
    /// Echo it in the reply.
    pub id: RequestId,
    /// What to do.
    pub work: StorageWork,
}

/// The requests. Reads are about the store's current state; writes must be durable
/// before their reply is given.
pub enum StorageWork {
    /// Count and fingerprint of the items in each scope. -> [`StorageAnswer::Summaries`]
    Summarize {
        /// Disjoint scopes.
        scopes: Vec<Scope>,
    },
    /// Count and fingerprint of each non-empty caseload of an area, sorted by CHW.
    /// -> [`StorageAnswer::Caseloads`]
    Caseloads {
        /// The area.
        area: AreaId,
    },
    /// Every item (id and heads) of one caseload, sorted by id. -> [`StorageAnswer::Items`]
    Items {
        /// The caseload.
        caseload: HouseholdScope,
    },
    /// The changes a peer with heads `their_heads` lacks. -> [`StorageAnswer::Changes`]
    ChangesSince {
        /// The document.
        id: HouseholdId,
        /// The peer's heads, by prefix.
        their_heads: Vec<HeadPrefix>,
    },
    /// The document in compacted form. -> [`StorageAnswer::Document`]
    WholeDocument {
        /// The document.
        id: HouseholdId,
    },
    /// Apply a payload from the peer, durably. -> [`StorageAnswer::Applied`]
    Apply {
        /// The document.
        id: HouseholdId,
        /// What the peer sent.
        payload: ApplyPayload,
        /// The scopes the document must be in (see [`crate::docops::merge_payload`]).
        within: Vec<Scope>,
    },
    /// One step of automerge's sync protocol on a document: receive `message` if any,
    /// persist durably what it brought, then generate the reply. -> [`StorageAnswer::Synced`]
    SyncStep {
        /// The document.
        id: HouseholdId,
        /// The session's sync state for the document.
        state: Box<sync::State>,
        /// The peer's encoded sync message, if any.
        message: Option<Vec<u8>>,
        /// The scopes the document must be in.
        within: Vec<Scope>,
    },
}

impl fmt::Debug for StorageWork {
    /// Never prints document bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Summarize { scopes } => f
                .debug_struct("Summarize")
                .field("scopes", &scopes.len())
                .finish(),
            Self::Caseloads { area } => f.debug_struct("Caseloads").field("area", area).finish(),
            Self::Items { caseload } => {
                f.debug_struct("Items").field("caseload", caseload).finish()
            }
            Self::ChangesSince { their_heads, .. } => f
                .debug_struct("ChangesSince")
                .field("their_heads", &their_heads.len())
                .finish_non_exhaustive(),
            Self::WholeDocument { .. } => f.debug_struct("WholeDocument").finish_non_exhaustive(),
            Self::Apply { payload, .. } => f
                .debug_struct("Apply")
                .field("payload", payload)
                .finish_non_exhaustive(),
            Self::SyncStep { message, .. } => f
                .debug_struct("SyncStep")
                .field("message_len", &message.as_ref().map(Vec::len))
                .finish_non_exhaustive(),
        }
    }
}

/// What a peer sent for one document.
#[derive(Clone, PartialEq, Eq)]
pub enum ApplyPayload {
    /// Raw change chunks.
    Changes(Vec<u8>),
    /// A whole document (`save()` form).
    Document(Vec<u8>),
}

impl fmt::Debug for ApplyPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changes(bytes) => write!(f, "Changes({} bytes)", bytes.len()),
            Self::Document(bytes) => write!(f, "Document({} bytes)", bytes.len()),
        }
    }
}

/// The store's answer to a request.
#[derive(Debug)]
pub struct StorageReply {
    /// The request's id.
    pub id: RequestId,
    /// The answer, or why the store failed (an IO fault, not a verdict on the peer).
    pub result: Result<StorageAnswer, StorageError>,
}

/// Answers, one variant per request.
#[derive(Debug)]
pub enum StorageAnswer {
    /// One per requested scope, in order.
    Summaries(Vec<RangeSummary>),
    /// Non-empty caseloads of the area, sorted by CHW.
    Caseloads(Vec<CaseloadSummary>),
    /// Items of the caseload, sorted by id.
    Items(Vec<Item>),
    /// Changes the peer lacks.
    Changes(ChangesSince),
    /// The compacted document, or `None` if the store does not hold it.
    Document(Option<Vec<u8>>),
    /// The outcome of applying a payload.
    Applied(ApplyOutcome),
    /// The outcome of a sync step.
    Synced(SyncOutcome),
}

/// Count and fingerprint of a set of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeSummary {
    /// Number of items.
    pub count: u64,
    /// Sum of their fingerprints.
    pub fingerprint: Fingerprint,
}

impl RangeSummary {
    /// Adds one item.
    pub fn add(&mut self, fingerprint: Fingerprint) {
        self.count += 1;
        self.fingerprint = self.fingerprint.add(fingerprint);
    }
}

/// The summary of one caseload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseloadSummary {
    /// The CHW.
    pub chw: ChwId,
    /// Its items in the area.
    pub summary: RangeSummary,
}

/// One document as reconciliation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The household id.
    pub id: HouseholdId,
    /// The document's current heads.
    pub heads: Vec<ChangeHash>,
}

/// What a peer lacks of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangesSince {
    /// Every head the peer reported is known here; these are the changes it lacks.
    Changes {
        /// Concatenated raw change chunks (empty if the peer lacks nothing).
        bytes: Vec<u8>,
        /// Number of changes.
        count: u64,
    },
    /// Some reported heads are unknown here: the peer has changes this store lacks,
    /// so heads alone cannot say what it lacks (the session falls back to automerge sync).
    UnknownHeads,
    /// The store does not hold the document (any more).
    Missing,
}

/// Result of applying a payload.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// Applied and durable.
    Applied {
        /// The document's heads afterwards.
        heads: Vec<ChangeHash>,
        /// Changes that were new to the store.
        changes_added: u64,
    },
    /// Not applied, and not the peer's fault (the document is held here outside the
    /// session's scopes); nothing was written.
    Skipped,
    /// Not applied because the payload is bad: the peer misbehaved; nothing was written.
    Rejected(RejectReason),
}

/// Result of a sync step.
#[derive(Debug)]
pub enum SyncOutcome {
    /// The step was taken; what it brought is durable.
    Stepped {
        /// The updated state.
        state: Box<sync::State>,
        /// The reply to send, if any.
        reply: Option<Vec<u8>>,
        /// Changes that were new to the store.
        changes_added: u64,
    },
    /// Not taken (document held outside the session's scopes); nothing was written.
    Skipped,
    /// The message is bad: the peer misbehaved; nothing was written.
    Rejected(RejectReason),
}

/// Which request a storage failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageOperation {
    /// [`StorageWork::Summarize`].
    Summarize,
    /// [`StorageWork::Caseloads`].
    Caseloads,
    /// [`StorageWork::Items`].
    Items,
    /// [`StorageWork::ChangesSince`].
    ChangesSince,
    /// [`StorageWork::WholeDocument`].
    WholeDocument,
    /// [`StorageWork::Apply`].
    Apply,
    /// [`StorageWork::SyncStep`].
    SyncStep,
}

impl fmt::Display for StorageOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Summarize => "summarize",
            Self::Caseloads => "caseloads",
            Self::Items => "items",
            Self::ChangesSince => "changes since",
            Self::WholeDocument => "whole document",
            Self::Apply => "apply",
            Self::SyncStep => "sync step",
        })
    }
}

/// The store failed to perform a request (IO, corruption): a local fault.
#[derive(Debug, thiserror::Error)]
#[error("storage failed in {operation}: {source}")]
pub struct StorageError {
    /// The request.
    pub operation: StorageOperation,
    /// The store's own error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl StorageError {
    /// Wraps a store's error.
    pub fn new(
        operation: StorageOperation,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            operation,
            source: Box::new(source),
        }
    }
}

/// A store that performs requests synchronously: implement this, then drive sessions
/// with [`execute`].
pub trait SyncStorage {
    /// See [`StorageWork::Summarize`].
    fn summarize(&mut self, scopes: &[Scope]) -> Result<Vec<RangeSummary>, StorageError>;
    /// See [`StorageWork::Caseloads`].
    fn caseloads(&mut self, area: &AreaId) -> Result<Vec<CaseloadSummary>, StorageError>;
    /// See [`StorageWork::Items`].
    fn items(&mut self, caseload: &HouseholdScope) -> Result<Vec<Item>, StorageError>;
    /// See [`StorageWork::ChangesSince`]; [`crate::docops::changes_since`] does the work on a document.
    fn changes_since(
        &mut self,
        id: &HouseholdId,
        their_heads: &[HeadPrefix],
    ) -> Result<ChangesSince, StorageError>;
    /// See [`StorageWork::WholeDocument`].
    fn whole_document(&mut self, id: &HouseholdId) -> Result<Option<Vec<u8>>, StorageError>;
    /// See [`StorageWork::Apply`]; [`crate::docops::merge_payload`] does the work on a document.
    fn apply(
        &mut self,
        id: &HouseholdId,
        payload: ApplyPayload,
        within: &[Scope],
    ) -> Result<ApplyOutcome, StorageError>;
    /// See [`StorageWork::SyncStep`]; [`crate::docops::sync_step`] does the work on a document.
    fn sync_step(
        &mut self,
        id: &HouseholdId,
        state: Box<sync::State>,
        message: Option<Vec<u8>>,
        within: &[Scope],
    ) -> Result<SyncOutcome, StorageError>;
}

/// Performs a request on a synchronous store.
pub fn execute(request: StorageRequest, storage: &mut impl SyncStorage) -> StorageReply {
    let result = match request.work {
        StorageWork::Summarize { scopes } => {
            storage.summarize(&scopes).map(StorageAnswer::Summaries)
        }
        StorageWork::Caseloads { area } => storage.caseloads(&area).map(StorageAnswer::Caseloads),
        StorageWork::Items { caseload } => storage.items(&caseload).map(StorageAnswer::Items),
        StorageWork::ChangesSince { id, their_heads } => storage
            .changes_since(&id, &their_heads)
            .map(StorageAnswer::Changes),
        StorageWork::WholeDocument { id } => {
            storage.whole_document(&id).map(StorageAnswer::Document)
        }
        StorageWork::Apply {
            id,
            payload,
            within,
        } => storage
            .apply(&id, payload, &within)
            .map(StorageAnswer::Applied),
        StorageWork::SyncStep {
            id,
            state,
            message,
            within,
        } => storage
            .sync_step(&id, state, message, &within)
            .map(StorageAnswer::Synced),
    };
    StorageReply {
        id: request.id,
        result,
    }
}
