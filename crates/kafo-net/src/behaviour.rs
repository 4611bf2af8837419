//! The libp2p swarm: transports, security, multiplexing and the behaviours composed
//! into one.

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, Swarm, SwarmBuilder};
use libp2p::{
    connection_limits, identify, mdns, memory_connection_limits, noise, ping, tcp, yamux,
};

use crate::config::{MemoryLimit, NetworkConfig};
use crate::error::StartNetworkError;

/// The protocol a sync session runs over: one libp2p stream per session.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/kafo/sync/1");

/// What identify announces as the protocol family.
const IDENTIFY_PROTOCOL_VERSION: &str = "/kafo/1";

/// Every behaviour of a Kafo node. The limits come first so that they refuse a
/// connection before any other behaviour sets up state for it.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) memory: memory_connection_limits::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(crate) stream: libp2p_stream::Behaviour,
}

/// Builds the swarm for `keypair` as `config` asks. Must run inside a tokio runtime
/// (mDNS watches interfaces from it).
pub(crate) fn build_swarm(
    keypair: Keypair,
    config: &NetworkConfig,
) -> Result<Swarm<Behaviour>, StartNetworkError> {
    let local_peer = keypair.public().to_peer_id();
    // mDNS is built before the builder so that its io error keeps its type.
    let mdns = match &config.mdns {
        Some(mdns_config) => {
            let libp2p_config = mdns::Config {
                ttl: mdns_config.ttl,
                query_interval: mdns_config.query_interval,
                enable_ipv6: false,
            };
            Some(
                mdns::tokio::Behaviour::new(libp2p_config, local_peer)
                    .map_err(StartNetworkError::Mdns)?,
            )
        }
        None => None,
    };
    let limits = &config.limits;
    let connection_limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(limits.max_established))
        .with_max_established_incoming(Some(limits.max_established_incoming))
        .with_max_established_per_peer(Some(limits.max_established_per_peer))
        .with_max_pending_incoming(Some(limits.max_pending_incoming))
        .with_max_pending_outgoing(Some(limits.max_pending_outgoing));
    let memory = match limits.max_process_memory {
        MemoryLimit::Bytes(bytes) => memory_connection_limits::Behaviour::with_max_bytes(bytes),
        MemoryLimit::FractionOfSystem(fraction) => {
            memory_connection_limits::Behaviour::with_max_percentage(fraction)
        }
    };
    let identify_config =
        identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_owned(), keypair.public())
            .with_agent_version(format!("kafo-net/{}", env!("CARGO_PKG_VERSION")));
    let idle_timeout = config.idle_connection_timeout;

    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(StartNetworkError::Noise)?
        .with_quic()
        .with_behaviour(|_| Behaviour {
            limits: connection_limits::Behaviour::new(connection_limits),
            memory,
            identify: identify::Behaviour::new(identify_config),
            ping: ping::Behaviour::default(),
            mdns: Toggle::from(mdns),
            stream: libp2p_stream::Behaviour::new(),
        })
        // The closure is infallible: the error type is `Infallible`.
        .map_err(|never| match never {})?
        .with_swarm_config(|swarm_config| swarm_config.with_idle_connection_timeout(idle_timeout))
        .build();
    Ok(swarm)
}
