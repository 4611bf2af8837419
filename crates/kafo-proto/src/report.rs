//! How a session ended, and what it did.

use std::fmt;
use std::time::Duration;

use kafo_model::HouseholdId;

use crate::docops::RejectReason;
use crate::storage::{RequestId, StorageError};
use crate::tree::NodeId;
use crate::wire::{CloseReason, DecodeFrameError, DecodePayloadError, DeviceId, VersionRange};

/// What a session did, given once in [`crate::Event::Finished`].
#[derive(Debug)]
pub struct SessionReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The peer's device id, if its `Hello` arrived.
    pub peer: Option<DeviceId>,
    /// Documents sent whole or as changes.
    pub docs_sent: u64,
    /// Documents received and applied (whole, changes, or through a sync message).
    pub docs_received: u64,
    /// Documents received but skipped (held here outside the shared scopes).
    pub docs_skipped: u64,
    /// Automerge changes sent as change entries (whole documents are not counted).
    pub changes_sent: u64,
    /// Automerge changes new to this store.
    pub changes_received: u64,
    /// Bytes handed to the transport.
    pub bytes_sent: u64,
    /// Bytes received from the transport.
    pub bytes_received: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Frames received.
    pub frames_received: u64,
    /// Times this side sent something and then received the peer's next bytes: the
    /// handshake counts as one.
    pub round_trips: u32,
    /// From the session's creation to its end.
    pub duration: Duration,
}

/// How a session ended.
#[derive(Debug)]
pub enum Outcome {
    /// Both sides hold the same documents in the shared scopes (as of the session).
    InSync,
    /// The session failed.
    Failed(SessionError),
    /// The peer went silent.
    TimedOut,
    /// A driver refused the other side.
    Refused {
        /// Which side refused.
        by: Side,
    },
}

impl Outcome {
    /// The outcome's kind, without identifiers.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InSync => "in sync",
            Self::Failed(error) => error.kind(),
            Self::TimedOut => "timed out",
            Self::Refused { .. } => "refused",
        }
    }

    /// Whether the session reached "in sync".
    pub fn is_in_sync(&self) -> bool {
        matches!(self, Self::InSync)
    }
}

/// One side of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This side.
    Us,
    /// The peer.
    Peer,
}

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The peer broke the protocol; nothing it sent in the offending frame was written.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(Box<PeerFault>),
    /// No protocol version both sides speak.
    #[error("no common protocol version: we speak {ours}, the peer speaks {theirs}")]
    IncompatibleVersion {
        /// Our range.
        ours: VersionRange,
        /// Theirs.
        theirs: VersionRange,
    },
    /// The peer closed the session.
    #[error("peer closed the session: {reason}")]
    PeerClosed {
        /// The reason it gave.
        reason: CloseReason,
    },
    /// The transport closed before the session ended.
    #[error("connection lost before the session ended")]
    ConnectionLost,
    /// The local store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The store answered a request with the wrong kind of answer, or an unknown id.
    #[error("storage answered request {id:?} with an unexpected reply")]
    UnexpectedStorageReply {
        /// The request id.
        id: RequestId,
    },
    /// A local document is too large for one payload entry.
    #[error("document {id} is {len} bytes, more than the {max} one payload entry may carry")]
    DocumentTooLarge {
        /// The document.
        id: HouseholdId,
        /// Its encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The driver asked to disclose more than one `Disclose` frame may carry.
    #[error("disclosure of {len} bytes, more than the {max} one frame may carry")]
    DisclosureTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The driver gave an input the session could not take in its state.
    #[error("driver gave {input} while the session was {state}")]
    UnexpectedInput {
        /// The input.
        input: &'static str,
        /// The session's state.
        state: &'static str,
    },
}

impl From<PeerFault> for SessionError {
    fn from(fault: PeerFault) -> Self {
        Self::PeerMisbehaved(Box::new(fault))
    }
}

/// How a peer broke the protocol.
#[derive(Debug, thiserror::Error)]
pub enum PeerFault {
    /// Its bytes are not a valid frame.
    #[error("malformed frame: {0}")]
    Decode(#[from] DecodeFrameError),
    /// A valid frame, at a point where it is not allowed.
    #[error("unexpected {frame} frame while {state}")]
    UnexpectedFrame {
        /// The frame.
        frame: &'static str,
        /// What the session was doing.
        state: &'static str,
    },
    /// The peer's nonce is ours: the session is talking to itself.
    #[error("peer echoed our session nonce")]
    SameNonce,
    /// The peer's window is too small to carry one entry.
    #[error("peer window of {window} bytes is below the minimum of {min}")]
    WindowTooSmall {
        /// The window announced.
        window: u32,
        /// The minimum.
        min: u32,
    },
    /// A range message for a range not under comparison, or a second one for it.
    #[error("unexpected message for range {node}")]
    UnexpectedRange {
        /// The range.
        node: NodeId,
    },
    /// A range message whose kind does not fit the range.
    #[error("message for range {node} has the wrong kind")]
    WrongRangeBody {
        /// The range.
        node: NodeId,
    },
    /// More ranges opened than the limit allows.
    #[error("more than {limit} ranges under comparison")]
    TooManyRanges {
        /// The limit.
        limit: usize,
    },
    /// An item listed in a range it does not belong to.
    #[error("item listed in range {node} does not belong to it")]
    ItemOutsideRange {
        /// The range.
        node: NodeId,
    },
    /// A payload batch out of sequence.
    #[error("payload batch {found}, expected {expected}")]
    BatchOutOfOrder {
        /// The expected number.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// A payload beyond the window this side announced.
    #[error("payload of {raw_len} bytes exceeds the window ({outstanding} of {window} in use)")]
    WindowExceeded {
        /// The payload's uncompressed length.
        raw_len: u64,
        /// Bytes already outstanding.
        outstanding: u64,
        /// The window.
        window: u32,
    },
    /// A payload that does not decompress or decode.
    #[error("bad payload: {0}")]
    BadPayload(#[from] DecodePayloadError),
    /// The store refused a document the peer sent.
    #[error("household {id} refused: {reason}")]
    Rejected {
        /// The document.
        id: HouseholdId,
        /// Why.
        reason: RejectReason,
    },
    /// An ack for a batch not sent or already acknowledged.
    #[error("ack for unknown batch {batch}")]
    UnknownBatch {
        /// The batch number.
        batch: u64,
    },
    /// A `Done` claiming more frames than were sent, or before acknowledging them.
    #[error("done claims {handled} frames handled, {sent} sent, {unacked} batches unacknowledged")]
    BadDone {
        /// Frames the peer claims handled.
        handled: u64,
        /// Data frames actually sent.
        sent: u64,
        /// Batches not yet acknowledged.
        unacked: usize,
    },
}

impl SessionError {
    /// The error's kind, without identifiers: what logs above debug level show.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PeerMisbehaved(fault) => fault.kind(),
            Self::IncompatibleVersion { .. } => "incompatible version",
            Self::PeerClosed { .. } => "peer closed",
            Self::ConnectionLost => "connection lost",
            Self::Storage(_) => "storage failure",
            Self::UnexpectedStorageReply { .. } => "unexpected storage reply",
            Self::DocumentTooLarge { .. } => "document too large",
            Self::DisclosureTooLarge { .. } => "disclosure too large",
            Self::UnexpectedInput { .. } => "unexpected input",
        }
    }
}

impl PeerFault {
    /// The fault's kind, without identifiers.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Decode(_) => "malformed frame",
            Self::UnexpectedFrame { .. } => "unexpected frame",
            Self::SameNonce => "same nonce",
            Self::WindowTooSmall { .. } => "window too small",
            Self::UnexpectedRange { .. } => "unexpected range",
            Self::WrongRangeBody { .. } => "wrong range body",
            Self::TooManyRanges { .. } => "too many ranges",
            Self::ItemOutsideRange { .. } => "item outside range",
            Self::BatchOutOfOrder { .. } => "batch out of order",
            Self::WindowExceeded { .. } => "window exceeded",
            Self::BadPayload(_) => "bad payload",
            Self::Rejected { .. } => "document refused",
            Self::UnknownBatch { .. } => "unknown batch",
            Self::BadDone { .. } => "bad done",
        }
    }
}

impl fmt::Display for SessionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: docs {}/{} sent/received, bytes {}/{}, {} round trips, {:?}",
            self.outcome,
            self.docs_sent,
            self.docs_received,
            self.bytes_sent,
            self.bytes_received,
            self.round_trips,
            self.duration
        )
    }
}
