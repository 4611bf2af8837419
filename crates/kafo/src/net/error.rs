//! The typed errors of syncing, one per operation.

use kafo_net::{DialPeerError, Multiaddr, OpenStreamError, PeerId, StartNetworkError};
use kafo_store::{ReadError, WriteError};

/// Why a session could not even start (nothing crossed the link).
#[derive(Debug, thiserror::Error)]
pub enum SessionSetupError {
    /// The caseloads this device holds could not be read to decide what it shares.
    #[error("reading the caseloads to share: {0}")]
    Scopes(#[source] ReadError),
    /// This device's id does not fit in a protocol hello (not an ed25519 identity).
    #[error("this device's id does not fit in a sync hello")]
    DeviceId,
    /// The byte stream could not be secured (Noise): the peer is not a Kafo device, the
    /// stream broke or loops back, or the peer's identity does not verify.
    #[error("securing the byte stream: {0}")]
    Secure(#[source] kafo_net::SecureStreamError),
    /// The peer did not complete securing the byte stream in time.
    #[error("the peer did not secure the byte stream within {after:?}")]
    SecureTimedOut {
        /// How long we waited.
        after: std::time::Duration,
    },
}

/// Why [`Node::serve`](crate::Node::serve) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The network could not start (address in use, bad configuration).
    #[error("starting the network: {0}")]
    Network(#[from] StartNetworkError),
    /// The remembered peers could not be read from the store.
    #[error(transparent)]
    PeerRecords(#[from] PeerRecordError),
    /// The configuration cannot work.
    #[error("invalid serve configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Why [`Node::sync_with`](crate::Node::sync_with) failed before a session could run.
#[derive(Debug, thiserror::Error)]
pub enum SyncWithError {
    /// The local network endpoint could not start.
    #[error("starting the network: {0}")]
    Network(#[from] StartNetworkError),
    /// The peer could not be reached at the address.
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        /// The address dialed.
        addr: Multiaddr,
        /// Why.
        source: DialPeerError,
    },
    /// The peer was reached but no sync stream could be opened.
    #[error("cannot open a sync stream to {peer}: {source}")]
    OpenStream {
        /// The peer.
        peer: PeerId,
        /// Why.
        source: OpenStreamError,
    },
    /// The session could not start.
    #[error(transparent)]
    Setup(#[from] SessionSetupError),
    /// The session ran (its report is here) but the peer's record could not be saved.
    #[error("the session ran but {source}")]
    PeerRecord {
        /// What the session did.
        report: Box<crate::net::SyncReport>,
        /// Why the record was not saved.
        source: PeerRecordError,
    },
}

impl SyncWithError {
    /// Whether the peer could not be reached at all (as opposed to a local failure or
    /// a peer that answered but is no Kafo node).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::OpenStream { source, .. } => matches!(
                source,
                OpenStreamError::Connect(_) | OpenStreamError::Timeout { .. }
            ),
            Self::Network(_) | Self::Setup(_) | Self::PeerRecord { .. } => false,
        }
    }
}

/// Why the persisted record of peers could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PeerRecordError {
    /// The store could not be read.
    #[error("reading peer records: {0}")]
    Read(#[from] ReadError),
    /// The store could not be written.
    #[error("saving a peer record: {0}")]
    Write(#[from] WriteError),
    /// A stored record does not decode.
    #[error("the stored record of peers is damaged: {what}")]
    Damaged {
        /// What does not decode.
        what: &'static str,
    },
    /// A record could not be encoded.
    #[error("encoding a peer record: {0}")]
    Encode(#[source] serde_json::Error),
}

/// A failure a running node reports as [`NodeEvent::Error`](crate::net::NodeEvent::Error).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No sync stream could be opened to a peer (it left, refused, or is no Kafo node).
    #[error("cannot open a sync stream: {0}")]
    OpenStream(#[source] OpenStreamError),
    /// A session could not start.
    #[error(transparent)]
    Setup(#[from] SessionSetupError),
    /// A peer's record could not be saved (the sync itself is durable).
    #[error(transparent)]
    PeerRecord(#[from] PeerRecordError),
    /// A session task ended abnormally (a bug; the peer is synced again later).
    #[error("a session task ended abnormally")]
    SessionTask,
}
