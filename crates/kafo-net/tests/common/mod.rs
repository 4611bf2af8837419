//! Helpers shared by the integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::future::Future;
use std::time::Duration;

use kafo_net::{Keypair, Multiaddr, Network, NetworkConfig, NetworkEvent, PeerId};
use libp2p::multiaddr::Protocol;
use tokio::sync::broadcast;

/// A device identity derived from a seed: tests never use OS randomness for keys.
pub fn keypair(seed: u8) -> Keypair {
    Keypair::ed25519_from_bytes([seed; 32]).expect("32 bytes are a valid ed25519 secret")
}

pub fn peer_id(seed: u8) -> PeerId {
    keypair(seed).public().to_peer_id()
}

pub fn tcp_loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr")
}

pub fn quic_loopback() -> Multiaddr {
    "/ip4/127.0.0.1/udp/0/quic-v1"
        .parse()
        .expect("valid multiaddr")
}

/// A network on loopback only (TCP and QUIC), without mDNS.
pub async fn start_loopback(seed: u8) -> Network {
    start_with(
        seed,
        NetworkConfig::loopback_only(vec![tcp_loopback(), quic_loopback()]),
    )
    .await
}

pub async fn start_with(seed: u8, config: NetworkConfig) -> Network {
    Network::start(keypair(seed), config)
        .await
        .expect("the network starts on loopback")
}

/// The listen address of `network` that uses QUIC (`quic`) or TCP (`!quic`).
pub fn listen_addr(network: &Network, quic: bool) -> Multiaddr {
    network
        .handle()
        .listen_addrs()
        .into_iter()
        .find(|addr| addr.iter().any(|p| matches!(p, Protocol::QuicV1)) == quic)
        .expect("the network listens on the requested transport")
}

/// Fails the test instead of hanging it.
pub async fn within<T>(seconds: u64, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .expect("the test step finished in time")
}

/// The first event matching `wanted`, skipping others.
pub async fn wait_for_event(
    events: &mut broadcast::Receiver<NetworkEvent>,
    wanted: impl Fn(&NetworkEvent) -> bool,
) -> NetworkEvent {
    within(20, async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the event channel closed"),
            }
        }
    })
    .await
}

/// Polls `condition` every 20 ms until it holds.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
