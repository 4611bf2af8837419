//! Kafo's networking: how devices at a meetup find each other, connect securely, and
//! carry `kafo-proto` sync sessions; and the same sessions over any other byte stream.
//!
//! # What it does
//!
//! * [`Network`] runs a libp2p swarm for one device identity (the device's ed25519
//!   [`Keypair`], kept by the `kafo` crate in its store): TCP and QUIC transports,
//!   Noise and Yamux, identify, ping, mDNS discovery on the local network (every
//!   [`MdnsConfig::query_interval`], 20 s by default), connection limits (in total, per
//!   peer, pending) and a process-memory ceiling, and the `/kafo/sync/1` stream protocol
//!   ([`SYNC_PROTOCOL`]): one stream per sync session.
//! * [`NetworkHandle`] (cloneable) dials, opens sync streams, disconnects misbehaving
//!   peers, lists known peers ([`KnownPeer`]: discovered, dialed or added, connected or
//!   not) and publishes [`NetworkEvent`]s; [`IncomingSyncStreams`] yields the streams
//!   peers open.
//! * [`run_session`] drives a [`kafo_proto::Session`] over any futures
//!   `AsyncRead + AsyncWrite`: a libp2p [`Stream`], a Bluetooth or serial bridge, a
//!   pipe, stdin/stdout ([`run_session_split`]; tokio types via
//!   `tokio_util::compat`). It executes the session's storage requests on a
//!   [`kafo_proto::storage::SyncStorage`], asks an admission closure or
//!   [`SessionHooks`] about the peer ([`Admission`]) and about what it discloses
//!   (protocol version 2), arms the session's timers on tokio's clock, bounds what
//!   waits to be written, and detects a link that stopped taking bytes ([`LinkLimits`]).
//! * [`secure_stream`] runs libp2p's Noise handshake over any byte stream whose two
//!   ends both just start (no initiator configured): it authenticates the remote
//!   device's [`PeerId`] and encrypts the stream, for `kafo sync --stdio` and other
//!   links outside libp2p.
//!
//! # What it deliberately does not do
//!
//! * No sync logic: the protocol (handshake, reconciliation, exchange) is entirely
//!   `kafo-proto`'s. This crate moves its bytes.
//! * No policy: it never dials a discovered peer nor starts a session by itself. The
//!   `kafo` crate decides whom to sync with and when (on [`NetworkEvent::PeerDiscovered`],
//!   on a timer, on a user's request), and which peers to admit (compare
//!   [`PeerHello::device`](kafo_proto::PeerHello::device) with [`device_id_for`] of the
//!   authenticated peer id).
//! * No storage, no sled: storage arrives as a `SyncStorage` implementation.
//! * No internet: no relay, DHT, DNS or hole punching; meetups are one local network.
//! * No ban list: [`NetworkHandle::disconnect`] closes a peer's connections, and the
//!   caller's admission refuses it if it comes back.
//!
//! # How to drive it
//!
//! ```no_run
//! # async fn example(keypair: kafo_net::Keypair) -> Result<(), Box<dyn std::error::Error>> {
//! use kafo_net::{Network, NetworkConfig, NetworkEvent};
//!
//! let network = Network::start(keypair, NetworkConfig::default()).await?;
//! let (handle, mut incoming) = network.into_parts();
//! let mut events = handle.events();
//! loop {
//!     tokio::select! {
//!         // A peer opened a session: answer it with `run_session`.
//!         Some((peer, stream)) = incoming.next_stream() => {
//!             # let _ = (peer, stream);
//!             // tokio::spawn(async move { run_session(stream, session, &mut storage, admit, &limits).await });
//!         }
//!         // A phone walked in: open a session to it.
//!         Ok(NetworkEvent::PeerDiscovered { peer, .. }) = events.recv() => {
//!             let stream = handle.open_sync_stream(peer).await?;
//!             # let _ = stream;
//!             // run_session(stream, session, &mut storage, admit, &limits).await;
//!         }
//!         else => break,
//!     }
//! }
//! handle.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Both sides of a session send their hello first, so whoever opened the stream does
//! not matter to the protocol. Every queue is bounded ([`Limits`]); a subscriber that
//! falls behind the event channel misses events and should re-read
//! [`NetworkHandle::peers`]. Peer ids are logged at debug level only.

mod behaviour;
mod config;
mod driver;
mod error;
mod event;
mod handle;
mod network;
mod peers;
mod secure;
mod session;

pub use behaviour::SYNC_PROTOCOL;
pub use config::{Limits, MdnsConfig, MemoryLimit, NetworkConfig};
pub use error::{
    DialFailure, DialPeerError, InboundFailure, NetworkStopped, OpenStreamError, Refusal,
    StartNetworkError, TransportAttempt,
};
pub use event::NetworkEvent;
pub use handle::{IncomingSyncStreams, NetworkHandle};
pub use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId, Stream};
pub use network::Network;
pub use peers::KnownPeer;
pub use secure::{NoiseRole, SECURE_NONCE_LEN, SecureStream, SecureStreamError, secure_stream};
pub use session::{
    Admission, LinkError, LinkLimits, SessionEnd, SessionHooks, device_id_for, run_session,
    run_session_split,
};
