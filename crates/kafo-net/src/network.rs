//! Starting a network: build the swarm, listen, wait for the first addresses, and spawn
//! the task that owns it.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::Multiaddr;
use libp2p::core::transport::ListenerId;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info};

use crate::behaviour::{SYNC_PROTOCOL, build_swarm};
use crate::config::{MemoryLimit, NetworkConfig};
use crate::driver::{Driver, SharedState};
use crate::error::StartNetworkError;
use crate::handle::{IncomingSyncStreams, NetworkHandle};
use crate::peers::PeerBook;

/// A running network: the handle to drive it and the inbound sync streams.
///
/// The swarm runs in its own tokio task; it stops on
/// [`NetworkHandle::shutdown`] or once every handle is dropped.
#[derive(Debug)]
pub struct Network {
    handle: NetworkHandle,
    incoming: IncomingSyncStreams,
}

impl Network {
    /// Starts the network of the device whose identity is `keypair`, and returns once
    /// every configured listener reports an address (so that
    /// [`NetworkHandle::listen_addrs`] is complete for them).
    ///
    /// Must be called from within a tokio runtime (multi-threaded or not).
    pub async fn start(keypair: Keypair, config: NetworkConfig) -> Result<Self, StartNetworkError> {
        validate(&config)?;
        let local_peer = keypair.public().to_peer_id();
        let mut swarm = build_swarm(keypair, &config)?;
        let mut control = swarm.behaviour().stream.new_control();
        // Invariant: the behaviour was just built, so no protocol is registered yet.
        let incoming_streams = control
            .accept(SYNC_PROTOCOL)
            .expect("a fresh stream behaviour has no protocol registered");

        let mut listeners = HashMap::new();
        for addr in &config.listen_addrs {
            let listener =
                swarm
                    .listen_on(addr.clone())
                    .map_err(|source| StartNetworkError::Listen {
                        addr: addr.clone(),
                        source,
                    })?;
            listeners.insert(listener, addr.clone());
        }

        let limits = &config.limits;
        let (command_sender, commands) = mpsc::channel(limits.command_queue);
        let (incoming_queue, incoming_receiver) = mpsc::channel(limits.incoming_stream_queue);
        let (events, _) = broadcast::channel(limits.event_queue);
        let shared = SharedState::new(PeerBook::new(
            limits.max_known_peers,
            limits.max_addrs_per_peer,
        ));
        let mut driver = Driver {
            swarm,
            commands,
            incoming: incoming_streams,
            incoming_queue,
            events: events.clone(),
            shared: shared.clone(),
            dial_waiters: HashMap::new(),
            peer_waiters: Default::default(),
        };
        wait_for_listeners(&mut driver, listeners, config.listen_timeout).await?;
        debug!(peer = %local_peer, "local peer id");
        info!(
            listeners = config.listen_addrs.len(),
            mdns = config.mdns.is_some(),
            "network started"
        );
        tokio::spawn(driver.run());

        let handle = NetworkHandle::new(
            local_peer,
            command_sender,
            control,
            events.downgrade(),
            shared,
            &config,
        );
        Ok(Self {
            handle,
            incoming: IncomingSyncStreams::new(incoming_receiver),
        })
    }

    /// The handle (cheap to clone) to dial, open streams, and observe the network.
    pub fn handle(&self) -> &NetworkHandle {
        &self.handle
    }

    /// Sync streams opened by peers, to be answered with a session.
    pub fn incoming_sync_streams(&mut self) -> &mut IncomingSyncStreams {
        &mut self.incoming
    }

    /// The handle and the inbound streams, to be moved to different tasks.
    pub fn into_parts(self) -> (NetworkHandle, IncomingSyncStreams) {
        (self.handle, self.incoming)
    }
}

fn validate(config: &NetworkConfig) -> Result<(), StartNetworkError> {
    let limits = &config.limits;
    let invalid = |reason| Err(StartNetworkError::InvalidConfig { reason });
    if limits.incoming_stream_queue == 0 || limits.event_queue == 0 || limits.command_queue == 0 {
        return invalid("queue capacities must be at least 1");
    }
    if limits.max_addrs_per_peer == 0 {
        return invalid("max_addrs_per_peer must be at least 1");
    }
    if limits.max_known_peers < limits.max_established as usize {
        return invalid("max_known_peers must be at least max_established");
    }
    if let MemoryLimit::FractionOfSystem(fraction) = limits.max_process_memory
        && !(fraction > 0.0 && fraction <= 1.0)
    {
        return invalid("the memory fraction must be in (0, 1]");
    }
    if let Some(mdns) = &config.mdns
        && (mdns.query_interval.is_zero() || mdns.ttl.is_zero())
    {
        return invalid("mdns intervals must be positive");
    }
    Ok(())
}

/// Runs the swarm until each listener has reported an address, passing every event
/// to the driver so that nothing seen meanwhile is lost.
async fn wait_for_listeners(
    driver: &mut Driver,
    mut pending: HashMap<ListenerId, Multiaddr>,
    timeout: Duration,
) -> Result<(), StartNetworkError> {
    let deadline = tokio::time::Instant::now() + timeout;
    while !pending.is_empty() {
        let Ok(event) = tokio::time::timeout_at(deadline, driver.swarm.select_next_some()).await
        else {
            let addr = pending
                .into_values()
                .next()
                .unwrap_or_else(Multiaddr::empty);
            return Err(StartNetworkError::ListenTimeout {
                addr,
                after: timeout,
            });
        };
        match &event {
            SwarmEvent::NewListenAddr { listener_id, .. } => {
                pending.remove(listener_id);
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some(addr) = pending.remove(listener_id) {
                    return Err(StartNetworkError::Listener {
                        addr,
                        source: std::io::Error::new(error.kind(), error.to_string()),
                    });
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some(addr) = pending.remove(listener_id) {
                    let source = match reason {
                        Err(error) => std::io::Error::new(error.kind(), error.to_string()),
                        Ok(()) => std::io::Error::other("listener closed"),
                    };
                    return Err(StartNetworkError::Listener { addr, source });
                }
            }
            _ => {}
        }
        driver.on_swarm_event(event);
    }
    Ok(())
}
