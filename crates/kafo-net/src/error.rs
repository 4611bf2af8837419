//! The typed errors of the network layer, one per operation.

use std::io;
use std::time::Duration;

use libp2p::core::transport::TransportError;
use libp2p::swarm::{ConnectionDenied, DialError, ListenError};
use libp2p::{Multiaddr, PeerId};

/// The network task has stopped (after [`NetworkHandle::shutdown`](crate::NetworkHandle::shutdown)
/// or once every handle was dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the network has stopped")]
pub struct NetworkStopped;

/// Why [`Network::start`](crate::Network::start) failed.
#[derive(Debug, thiserror::Error)]
pub enum StartNetworkError {
    /// The configuration cannot work.
    #[error("invalid network configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The Noise handshake could not be set up from the device key.
    #[error("cannot set up noise with the device key")]
    Noise(#[source] libp2p::noise::Error),
    /// The mDNS service could not be started (no interface watcher).
    #[error("cannot start mdns")]
    Mdns(#[source] io::Error),
    /// A listen address was refused by every transport.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The configured address.
        addr: Multiaddr,
        /// What the transport said.
        #[source]
        source: TransportError<io::Error>,
    },
    /// A listener failed before reporting any address (port taken, address absent).
    #[error("listener on {addr} failed")]
    Listener {
        /// The configured address.
        addr: Multiaddr,
        /// What the listener reported.
        #[source]
        source: io::Error,
    },
    /// A listener reported no address in time.
    #[error("listener on {addr} reported no address within {after:?}")]
    ListenTimeout {
        /// The configured address.
        addr: Multiaddr,
        /// How long we waited.
        after: Duration,
    },
}

/// Why a connection to a peer could not be made. Cloneable, so that it can travel in
/// [`NetworkEvent::DialFailed`](crate::NetworkEvent::DialFailed) too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialFailure {
    /// The address is our own.
    #[error("the address {addr} is our own")]
    LocalPeer {
        /// The address dialed.
        addr: Multiaddr,
    },
    /// No address is known for the peer (neither discovered, dialed nor added).
    #[error("no address is known for the peer")]
    NoAddresses,
    /// The dial was aborted (the network is shutting down).
    #[error("the dial was aborted")]
    Aborted,
    /// The remote proved a different identity than the one in the address.
    #[error("the peer at {addr} is {obtained}, not the one expected")]
    WrongPeer {
        /// The peer the remote authenticated as.
        obtained: PeerId,
        /// The address dialed.
        addr: Multiaddr,
    },
    /// Our side refused to open the connection.
    #[error("the connection was refused locally")]
    Refused(#[source] Refusal),
    /// Every address failed at the transport level (unreachable, reset, handshake).
    #[error("every address failed ({} tried)", attempts.len())]
    Transport {
        /// One entry per address tried.
        attempts: Vec<TransportAttempt>,
    },
    /// Too many callers are already waiting for a connection to this peer.
    #[error("too many callers are waiting for this peer")]
    TooManyWaiters,
}

/// One failed address of a [`DialFailure::Transport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportAttempt {
    /// The address tried.
    pub addr: Multiaddr,
    /// The transport's error, as text (the io error itself cannot be cloned).
    pub reason: String,
}

/// Why a connection was refused by a local limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A connection limit of [`Limits`](crate::Limits) was reached.
    #[error("connection limit reached (at most {limit})")]
    ConnectionLimit {
        /// The limit that was reached.
        limit: u32,
    },
    /// The process uses more memory than [`Limits::max_process_memory`](crate::Limits::max_process_memory).
    #[error("process memory limit reached")]
    MemoryLimit,
    /// Another behaviour refused it.
    #[error("connection denied: {reason}")]
    Denied {
        /// The denial, as text.
        reason: String,
    },
}

impl Refusal {
    pub(crate) fn from_denied(cause: &ConnectionDenied) -> Self {
        if let Some(exceeded) = cause.downcast_ref::<libp2p::connection_limits::Exceeded>() {
            return Self::ConnectionLimit {
                limit: exceeded.limit(),
            };
        }
        if cause
            .downcast_ref::<libp2p::memory_connection_limits::MemoryUsageLimitExceeded>()
            .is_some()
        {
            return Self::MemoryLimit;
        }
        Self::Denied {
            reason: cause.to_string(),
        }
    }
}

/// Why an inbound connection did not become established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundFailure {
    /// A local limit refused it.
    #[error("refused")]
    Refused(#[source] Refusal),
    /// The handshake failed or the connection dropped while being set up.
    #[error("inbound connection failed: {reason}")]
    Handshake {
        /// The error, as text.
        reason: String,
    },
}

impl From<&ListenError> for InboundFailure {
    fn from(error: &ListenError) -> Self {
        match error {
            ListenError::Denied { cause } => Self::Refused(Refusal::from_denied(cause)),
            other => Self::Handshake {
                reason: other.to_string(),
            },
        }
    }
}

impl From<&DialError> for DialFailure {
    fn from(error: &DialError) -> Self {
        match error {
            DialError::LocalPeerId { address } => Self::LocalPeer {
                addr: address.clone(),
            },
            DialError::NoAddresses => Self::NoAddresses,
            // We only dial with conditions we then wait on; reported as an abort if
            // it ever reaches a caller.
            DialError::DialPeerConditionFalse(_) | DialError::Aborted => Self::Aborted,
            DialError::WrongPeerId { obtained, address } => Self::WrongPeer {
                obtained: *obtained,
                addr: address.clone(),
            },
            DialError::Denied { cause } => Self::Refused(Refusal::from_denied(cause)),
            DialError::Transport(attempts) => Self::Transport {
                attempts: attempts
                    .iter()
                    .map(|(addr, error)| TransportAttempt {
                        addr: addr.clone(),
                        reason: error.to_string(),
                    })
                    .collect(),
            },
        }
    }
}

/// Why [`NetworkHandle::dial`](crate::NetworkHandle::dial) or
/// [`NetworkHandle::connect`](crate::NetworkHandle::connect) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialPeerError {
    /// The network task has stopped.
    #[error(transparent)]
    Stopped(#[from] NetworkStopped),
    /// The connection could not be made.
    #[error("cannot connect")]
    Failed(#[from] DialFailure),
    /// No connection within [`NetworkConfig::dial_timeout`](crate::NetworkConfig::dial_timeout).
    #[error("no connection within {after:?}")]
    Timeout {
        /// How long we waited.
        after: Duration,
    },
}

/// Why [`NetworkHandle::open_sync_stream`](crate::NetworkHandle::open_sync_stream) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenStreamError {
    /// The network task has stopped.
    #[error(transparent)]
    Stopped(#[from] NetworkStopped),
    /// No connection to the peer could be made.
    #[error("cannot connect to the peer")]
    Connect(#[source] DialFailure),
    /// The peer does not speak `/kafo/sync/1` (another libp2p application on the LAN).
    #[error("the peer does not support the kafo sync protocol")]
    UnsupportedProtocol,
    /// The stream could not be negotiated (connection lost, reset, timed out).
    #[error("cannot negotiate the sync stream")]
    Io(#[source] io::Error),
    /// No stream within [`NetworkConfig::open_stream_timeout`](crate::NetworkConfig::open_stream_timeout).
    #[error("no sync stream within {after:?}")]
    Timeout {
        /// How long we waited.
        after: Duration,
    },
}
