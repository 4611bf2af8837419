//! What the network tells its subscribers.

use libp2p::{Multiaddr, PeerId};

use crate::error::{DialFailure, InboundFailure};

/// Something that happened on the network, delivered to every receiver returned by
/// [`NetworkHandle::events`](crate::NetworkHandle::events).
///
/// The channel is bounded: a subscriber that falls more than
/// [`Limits::event_queue`](crate::Limits::event_queue) events behind misses the oldest
/// ones (`RecvError::Lagged`) and should re-read [`NetworkHandle::peers`](crate::NetworkHandle::peers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkEvent {
    /// mDNS found a peer on the local network, or new addresses of a known one.
    PeerDiscovered {
        /// The peer.
        peer: PeerId,
        /// The newly discovered addresses.
        addrs: Vec<Multiaddr>,
    },
    /// Every mDNS address of a peer expired: it probably left the meetup.
    PeerExpired {
        /// The peer.
        peer: PeerId,
    },
    /// The first connection to a peer was established.
    Connected {
        /// The peer.
        peer: PeerId,
        /// The remote address of that connection.
        addr: Multiaddr,
    },
    /// The last connection to a peer closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// We listen on a new address (already carrying `/p2p/<our peer id>`).
    ListenAddr {
        /// The address.
        addr: Multiaddr,
    },
    /// We no longer listen on an address (an interface went down).
    ListenAddrExpired {
        /// The address.
        addr: Multiaddr,
    },
    /// An outbound connection failed.
    DialFailed {
        /// The peer, when known.
        peer: Option<PeerId>,
        /// Why.
        error: DialFailure,
    },
    /// An inbound connection was refused or failed during its handshake.
    InboundFailed {
        /// The peer, when the handshake got far enough to know it.
        peer: Option<PeerId>,
        /// The remote address.
        addr: Multiaddr,
        /// Why.
        error: InboundFailure,
    },
}
