//! `kafo serve`: sync with the devices around until SIGINT or SIGTERM, printing the
//! listen addresses and then one line per event.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kafo::Node;
use kafo::net::{Multiaddr, NetworkConfig, NodeEvent, PeerId, ServeConfig, SyncOptions};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast::error::RecvError;

use crate::cli::ServeArgs;
use crate::commands::sync::{scopes, summarize};
use crate::failure::Failure;
use crate::output::{JSON_SCHEMA_VERSION, print_text};
use crate::runtime::block_on;

/// How long running sessions may take to finish after SIGINT or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub fn serve(data_dir: &Path, json: bool, args: &ServeArgs) -> Result<(), Failure> {
    let node = Arc::new(crate::passphrase::open_node(data_dir)?);
    let mut network = NetworkConfig::default();
    if !args.listen.is_empty() {
        network.listen_addrs = args.listen.clone();
    }
    if args.no_mdns {
        network.mdns = None;
    }
    // Room for our own dials beside the peers that connect to us.
    let limits = &mut network.limits;
    limits.max_established = args.max_connections;
    limits.max_established_incoming = args.max_connections - 8;
    limits.max_pending_incoming = (args.max_connections / 2).max(16);
    limits.max_known_peers = limits.max_known_peers.max(args.max_connections as usize);
    let config = ServeConfig {
        network,
        sync: SyncOptions {
            scopes: scopes(&args.scopes)?,
            ..SyncOptions::default()
        },
        max_sessions: usize::from(args.max_sessions),
        ..ServeConfig::default()
    };
    block_on(run(node, config, &args.peers, Printer { json }))?
}

async fn run(
    node: Arc<Node>,
    config: ServeConfig,
    peers: &[Multiaddr],
    printer: Printer,
) -> Result<(), Failure> {
    let mut terminate = signal(SignalKind::terminate()).map_err(Failure::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Failure::Signals)?;
    let running = node.serve(config).await?;
    let mut events = running.events();
    let mut result = printer.started(running.local_peer_id(), &running.listen_addrs());
    for addr in peers {
        if result.is_err() {
            break;
        }
        // An unreachable peer is reported and the node keeps serving the others.
        if let Err(error) = running.dial(addr.clone()).await {
            result = printer.line(
                json!({ "event": "dial_failed", "addr": addr.to_string(), "error": error.to_string() }),
                format!("cannot reach {addr}: {error}"),
            );
        }
    }
    while result.is_ok() {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            event = events.recv() => match event {
                Ok(event) => result = printer.event(&event),
                Err(RecvError::Lagged(missed)) => {
                    eprintln!("kafo: {missed} events not shown (output too slow)");
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    running.shutdown(SHUTDOWN_GRACE).await;
    result?;
    printer.stopped()
}

/// Prints events as text or JSON lines.
#[derive(Debug, Clone, Copy)]
struct Printer {
    json: bool,
}

impl Printer {
    fn started(self, peer: PeerId, addrs: &[Multiaddr]) -> Result<(), Failure> {
        if !self.json {
            print_text(&format!("serving as {peer}\n"))?;
        }
        for addr in addrs {
            self.line(
                json!({ "event": "listening", "addr": addr.to_string() }),
                format!("listening on {addr}"),
            )?;
        }
        Ok(())
    }

    fn stopped(self) -> Result<(), Failure> {
        self.line(json!({ "event": "stopped" }), "stopped".to_owned())
    }

    fn event(self, event: &NodeEvent) -> Result<(), Failure> {
        let (value, text) = match event {
            NodeEvent::Listening { addr } => (
                json!({ "event": "listening", "addr": addr.to_string() }),
                format!("listening on {addr}"),
            ),
            NodeEvent::PeerDiscovered { peer, addrs } => (
                json!({
                    "event": "peer_discovered",
                    "peer": peer.to_string(),
                    "addrs": addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
                format!("discovered {peer} ({} addresses)", addrs.len()),
            ),
            NodeEvent::PeerConnected { peer, addr } => (
                json!({ "event": "peer_connected", "peer": peer.to_string(), "addr": addr.to_string() }),
                format!("connected to {peer} at {addr}"),
            ),
            NodeEvent::PeerDisconnected { peer } => (
                json!({ "event": "peer_disconnected", "peer": peer.to_string() }),
                format!("disconnected from {peer}"),
            ),
            NodeEvent::PeerLeft { peer } => (
                json!({ "event": "peer_left", "peer": peer.to_string() }),
                format!("{peer} left the local network"),
            ),
            NodeEvent::SessionStarted { peer, direction } => (
                json!({
                    "event": "session_started",
                    "peer": peer.to_string(),
                    "direction": direction,
                }),
                format!("session with {peer} started ({})", direction.as_str()),
            ),
            NodeEvent::SessionProgress {
                peer,
                direction,
                docs_received,
            } => (
                json!({
                    "event": "session_progress",
                    "peer": peer.to_string(),
                    "direction": direction,
                    "docs_received": docs_received,
                }),
                format!("session with {peer}: {docs_received} documents received so far"),
            ),
            NodeEvent::SessionFinished {
                peer,
                direction,
                report,
            } => (
                json!({
                    "event": "session_finished",
                    "peer": peer.to_string(),
                    "direction": direction,
                    "report": report,
                }),
                format!(
                    "session with {peer} finished ({}): {}",
                    direction.as_str(),
                    summarize(report)
                ),
            ),
            NodeEvent::PeerBanned { peer } => (
                json!({ "event": "peer_banned", "peer": peer.to_string() }),
                format!(
                    "disconnected and banned {peer}: it broke the protocol or lied about its identity"
                ),
            ),
            NodeEvent::Error { peer, error } => (
                json!({
                    "event": "error",
                    "peer": peer.map(|peer| peer.to_string()),
                    "error": error.to_string(),
                }),
                match peer {
                    Some(peer) => format!("error with {peer}: {error}"),
                    None => format!("error: {error}"),
                },
            ),
        };
        self.line(value, text)
    }

    fn line(self, mut value: serde_json::Value, text: String) -> Result<(), Failure> {
        if self.json {
            if let Some(object) = value.as_object_mut() {
                object.insert("schema_version".to_owned(), json!(JSON_SCHEMA_VERSION));
            }
            let line = serde_json::to_string(&value).map_err(Failure::Json)?;
            print_text(&format!("{line}\n"))
        } else {
            print_text(&format!("{text}\n"))
        }
    }
}
