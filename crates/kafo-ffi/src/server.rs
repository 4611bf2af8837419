//! `Server`: a serving node (see `kafo::net::RunningNode`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kafo::net::{Multiaddr, NetworkConfig, RunningNode, ServeConfig};
use tracing::warn;

use crate::error::KafoError;
use crate::node::{parse, sync_options};
use crate::runtime::{guard, runtime};

/// How long `stop` lets running sessions finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How a node serves.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ServeOptions {
    /// Multiaddrs to listen on (`/ip4/0.0.0.0/tcp/0`); empty: every interface, TCP
    /// and QUIC, on ports the system picks.
    pub listen: Vec<String>,
    /// Find and announce peers on the local network.
    pub mdns: bool,
    /// Peers to dial at start (multiaddrs ending in `/p2p/<device id>`).
    pub peers: Vec<String>,
    /// What this device shares; empty: the caseloads it holds.
    pub scopes: Vec<String>,
}

/// A serving node: it syncs with its peers until `stop`.
#[derive(Debug, uniffi::Object)]
pub struct Server {
    running: Mutex<Option<RunningNode>>,
    addresses: Vec<String>,
}

impl Server {
    pub(crate) fn start(
        node: Arc<kafo::Node>,
        options: ServeOptions,
    ) -> Result<Arc<Self>, KafoError> {
        let mut network = NetworkConfig::default();
        if !options.listen.is_empty() {
            network.listen_addrs = options
                .listen
                .iter()
                .map(|addr| parse::<Multiaddr>("listen address", addr))
                .collect::<Result<_, _>>()?;
        }
        if !options.mdns {
            network.mdns = None;
        }
        let peers: Vec<Multiaddr> = options
            .peers
            .iter()
            .map(|addr| parse::<Multiaddr>("peer address", addr))
            .collect::<Result<_, _>>()?;
        let config = ServeConfig {
            network,
            sync: sync_options(&options.scopes, 600.0)?,
            ..ServeConfig::default()
        };
        let running = runtime()?.block_on(async move {
            let running = node.serve(config).await?;
            for addr in peers {
                // An unreachable peer is logged; the node keeps serving the others.
                if let Err(error) = running.dial(addr).await {
                    warn!(%error, "cannot reach a peer");
                }
            }
            Ok::<_, KafoError>(running)
        })?;
        let addresses = running
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok(Arc::new(Self {
            running: Mutex::new(Some(running)),
            addresses,
        }))
    }
}

#[uniffi::export]
impl Server {
    /// The addresses it listens on, each ending in `/p2p/<device id>`.
    pub fn addresses(&self) -> Vec<String> {
        self.addresses.clone()
    }

    /// Stops serving, letting running sessions finish for a few seconds.
    pub fn stop(&self) -> Result<(), KafoError> {
        guard(|| {
            let running = self
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(running) = running {
                runtime()?.block_on(running.shutdown(STOP_GRACE));
            }
            Ok(())
        })
    }
}
