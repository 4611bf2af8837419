//! What a running node tells its subscribers.

use std::sync::Arc;

use kafo_net::{Multiaddr, PeerId};

use crate::net::error::NodeError;
use crate::net::report::{Direction, SyncReport};

/// Something that happened on a running node, delivered to every receiver of
/// [`RunningNode::events`](crate::net::RunningNode::events).
///
/// The channel is bounded ([`ServeConfig::event_queue`](crate::net::ServeConfig::event_queue)):
/// a subscriber that falls behind misses the oldest events and can re-read
/// [`RunningNode::peers`](crate::net::RunningNode::peers).
#[derive(Debug, Clone)]
pub enum NodeEvent {
    /// The node listens on a new address (ending in `/p2p/<its peer id>`).
    Listening {
        /// The address.
        addr: Multiaddr,
    },
    /// mDNS found a peer on the local network.
    PeerDiscovered {
        /// The peer.
        peer: PeerId,
        /// Its newly found addresses.
        addrs: Vec<Multiaddr>,
    },
    /// A connection to a peer was established.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// The remote address.
        addr: Multiaddr,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer's mDNS announcements expired: it left the local network.
    PeerLeft {
        /// The peer.
        peer: PeerId,
    },
    /// A session with a peer started (for an outbound one: the stream is being opened).
    SessionStarted {
        /// The peer.
        peer: PeerId,
        /// Who opened it.
        direction: Direction,
    },
    /// A session applied documents from the peer (at most every
    /// [`PROGRESS_INTERVAL`](crate::net::PROGRESS_INTERVAL)).
    SessionProgress {
        /// The peer.
        peer: PeerId,
        /// Who opened it.
        direction: Direction,
        /// Documents received and applied so far.
        docs_received: u64,
    },
    /// A session ended.
    SessionFinished {
        /// The peer.
        peer: PeerId,
        /// Who opened it.
        direction: Direction,
        /// What it did and how it ended.
        report: SyncReport,
    },
    /// A peer broke the protocol or claimed another identity: it was disconnected and
    /// is refused until `ban` has passed.
    PeerBanned {
        /// The peer.
        peer: PeerId,
    },
    /// Something failed that is not a session's outcome.
    Error {
        /// The peer concerned, if any.
        peer: Option<PeerId>,
        /// What failed.
        error: Arc<NodeError>,
    },
}
