//! Helpers shared by the networking tests: devices on real stores in temp dirs,
//! seeded caseloads, loopback-only node configurations, and waiting with a deadline.

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod trust;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kafo::net::{Backoff, Multiaddr, NodeEvent, Scopes, ServeConfig, SyncOptions};
use kafo::{ImportOptions, Node};
use kafo_gen::GeneratorConfig;
use kafo_model::Scope;
use kafo_net::NetworkConfig;
use tokio::sync::broadcast;

/// The program every test draws caseloads from: CHWs in `sikoro`.
pub fn program(households_per_chw: u32, visits_per_chw: u32) -> GeneratorConfig {
    GeneratorConfig {
        seed: 11,
        areas: GeneratorConfig::bamako_areas(1),
        chws: 10,
        households_per_chw,
        visits_per_chw,
        ..GeneratorConfig::default()
    }
}

/// Imports the caseloads of the program's CHWs number `chws` (1-based) into `node`.
pub fn import_caseloads(node: &Node, program: &GeneratorConfig, chws: &[usize]) {
    let scopes = program.scopes();
    let mut lines = String::new();
    for number in chws {
        let scope = &scopes[number - 1];
        for household in kafo_gen::generate_chw(program, scope).expect("the CHW is in the program")
        {
            lines.push_str(
                &kafo_model::canonical::to_line(&household).expect("generated households encode"),
            );
            lines.push('\n');
        }
    }
    node.import(lines.as_bytes(), &ImportOptions::default(), |_| {})
        .expect("generated caseloads import");
}

/// A device with a fresh store in its own temp dir.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub node: Arc<Node>,
}

impl Device {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let node = Arc::new(Node::open(dir.path()).expect("a new store opens"));
        Self { dir, node }
    }

    /// Reopens the store in `dir` (after every other holder of the node dropped it),
    /// retrying while the storage engine releases its lock.
    pub async fn reopen(dir: tempfile::TempDir) -> Self {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match Node::open(dir.path()) {
                Ok(node) => {
                    return Self {
                        dir,
                        node: Arc::new(node),
                    };
                }
                Err(error) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the store did not reopen: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    pub fn with_caseloads(program: &GeneratorConfig, chws: &[usize]) -> Self {
        let device = Self::new();
        import_caseloads(&device.node, program, chws);
        device
    }

    /// Every household's id and heads hash: equal on two devices exactly when they
    /// hold the same documents with the same changes.
    pub fn holdings(&self) -> BTreeMap<String, [u8; 32]> {
        holdings(&self.node)
    }

    pub fn len(&self) -> u64 {
        self.node.store().len().expect("the store reads")
    }
}

pub fn holdings(node: &Node) -> BTreeMap<String, [u8; 32]> {
    node.store()
        .items(..)
        .map(|item| {
            let item = item.expect("the index reads");
            (item.key.as_str().to_owned(), item.heads_hash.0)
        })
        .collect()
}

pub fn area() -> Scope {
    "sikoro".parse().expect("a valid scope")
}

pub fn tcp_loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr")
}

pub fn quic_loopback() -> Multiaddr {
    "/ip4/127.0.0.1/udp/0/quic-v1"
        .parse()
        .expect("valid multiaddr")
}

/// A node on loopback only (TCP and QUIC), without mDNS, with short delays so that
/// tests take seconds.
pub fn loopback_config(scopes: Scopes) -> ServeConfig {
    ServeConfig {
        network: NetworkConfig::loopback_only(vec![tcp_loopback(), quic_loopback()]),
        sync: SyncOptions {
            scopes,
            session_timeout: Duration::from_secs(60),
            ..SyncOptions::default()
        },
        debounce: Duration::from_millis(50),
        first_contact_grace: Duration::from_millis(300),
        backoff: Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
            give_up_after: 10,
        },
        ..ServeConfig::default()
    }
}

/// The listen address of a node on QUIC (`quic`) or TCP.
pub fn listen_addr(addrs: &[Multiaddr], quic: bool) -> Multiaddr {
    addrs
        .iter()
        .find(|addr| addr.to_string().contains("/quic-v1") == quic)
        .cloned()
        .expect("the node listens on the requested transport")
}

/// Fails the test instead of hanging it.
pub async fn within<T>(seconds: u64, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .expect("the test step finished in time")
}

/// Polls `condition` every 25 ms until it holds, for at most `seconds`.
pub async fn eventually(seconds: u64, what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The first event matching `wanted`, skipping others.
pub async fn wait_for(
    events: &mut broadcast::Receiver<NodeEvent>,
    seconds: u64,
    wanted: impl Fn(&NodeEvent) -> bool,
) -> NodeEvent {
    within(seconds, async {
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
