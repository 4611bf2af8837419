//! What a [`Network`](crate::Network) is started with: where it listens, whether it
//! announces itself over mDNS, and the bounds that keep it small.

use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;

/// How a network is configured. [`NetworkConfig::default`] suits a phone on a meetup
/// Wi-Fi: every interface, TCP and QUIC on ephemeral ports, mDNS every 20 seconds.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The addresses to listen on. Default: `/ip4/0.0.0.0/tcp/0` and
    /// `/ip4/0.0.0.0/udp/0/quic-v1`.
    pub listen_addrs: Vec<Multiaddr>,
    /// Local-network discovery; `None` disables it (tests, or a host that forbids
    /// multicast).
    pub mdns: Option<MdnsConfig>,
    /// Bounds on connections, peers, queues and memory.
    pub limits: Limits,
    /// How long a connection with no open stream is kept before it is closed.
    pub idle_connection_timeout: Duration,
    /// How long [`NetworkHandle::dial`](crate::NetworkHandle::dial) and
    /// [`NetworkHandle::connect`](crate::NetworkHandle::connect) wait for a connection.
    pub dial_timeout: Duration,
    /// How long [`NetworkHandle::open_sync_stream`](crate::NetworkHandle::open_sync_stream)
    /// waits for the stream, connection included.
    pub open_stream_timeout: Duration,
    /// How long [`Network::start`](crate::Network::start) waits for every listener to
    /// report its first address.
    pub listen_timeout: Duration,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            listen_addrs: vec![
                Multiaddr::empty()
                    .with(Protocol::Ip4([0, 0, 0, 0].into()))
                    .with(Protocol::Tcp(0)),
                Multiaddr::empty()
                    .with(Protocol::Ip4([0, 0, 0, 0].into()))
                    .with(Protocol::Udp(0))
                    .with(Protocol::QuicV1),
            ],
            mdns: Some(MdnsConfig::default()),
            limits: Limits::default(),
            idle_connection_timeout: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(20),
            open_stream_timeout: Duration::from_secs(20),
            listen_timeout: Duration::from_secs(5),
        }
    }
}

impl NetworkConfig {
    /// A configuration listening on the given addresses only, without mDNS: what tests
    /// on loopback use.
    pub fn loopback_only(listen_addrs: Vec<Multiaddr>) -> Self {
        Self {
            listen_addrs,
            mdns: None,
            ..Self::default()
        }
    }
}

/// Local-network discovery over mDNS (IPv4 multicast on every non-loopback interface).
#[derive(Debug, Clone)]
pub struct MdnsConfig {
    /// How often the network is queried for peers. Default 20 s: a phone walking into
    /// the meetup is found within seconds of its own announcement, and within this
    /// interval at worst (libp2p's default is five minutes).
    pub query_interval: Duration,
    /// How long a discovered address stays valid without being heard again.
    pub ttl: Duration,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        Self {
            query_interval: Duration::from_secs(20),
            ttl: Duration::from_secs(90),
        }
    }
}

/// Bounds that keep the network layer's memory and fan-out small.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Established connections in total (both directions).
    pub max_established: u32,
    /// Established inbound connections (keeps room for our own dials).
    pub max_established_incoming: u32,
    /// Established connections to any one peer.
    pub max_established_per_peer: u32,
    /// Inbound connections being set up at once.
    pub max_pending_incoming: u32,
    /// Outbound connections being set up at once.
    pub max_pending_outgoing: u32,
    /// New connections are refused while the process uses more memory than this.
    pub max_process_memory: MemoryLimit,
    /// Peers remembered by [`NetworkHandle::peers`](crate::NetworkHandle::peers); the
    /// least recently seen disconnected peer is forgotten first.
    pub max_known_peers: usize,
    /// Addresses remembered per peer.
    pub max_addrs_per_peer: usize,
    /// Inbound sync streams waiting to be taken from
    /// [`IncomingSyncStreams`](crate::IncomingSyncStreams); beyond it new ones are
    /// dropped (the remote sees the stream reset).
    pub incoming_stream_queue: usize,
    /// Events buffered per subscriber of
    /// [`NetworkHandle::events`](crate::NetworkHandle::events); a slower subscriber
    /// misses the oldest ones.
    pub event_queue: usize,
    /// Commands from handles waiting for the network task.
    pub command_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_established: 32,
            max_established_incoming: 24,
            max_established_per_peer: 2,
            max_pending_incoming: 16,
            max_pending_outgoing: 16,
            max_process_memory: MemoryLimit::FractionOfSystem(0.5),
            max_known_peers: 256,
            max_addrs_per_peer: 8,
            incoming_stream_queue: 8,
            event_queue: 256,
            command_queue: 64,
        }
    }
}

/// A ceiling on the process's physical memory beyond which new connections are refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemoryLimit {
    /// An absolute number of bytes.
    Bytes(usize),
    /// A fraction (0.0 to 1.0) of the machine's physical memory.
    FractionOfSystem(f64),
}
