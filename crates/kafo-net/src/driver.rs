//! The task that owns the swarm: it runs handle commands, turns swarm events into
//! [`NetworkEvent`]s and the peer book, and forwards inbound sync streams.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Stream, Swarm, identify, mdns};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info, trace, warn};

use crate::behaviour::{Behaviour, BehaviourEvent, SYNC_PROTOCOL};
use crate::error::{DialFailure, InboundFailure};
use crate::event::NetworkEvent;
use crate::peers::{AddrSource, PeerBook, peer_id_of};

/// How many callers may wait for a connection to one peer at once.
const MAX_WAITERS_PER_PEER: usize = 16;

/// How long a shutdown waits for connections to close cleanly.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How long the swarm keeps running after its connections closed, to flush the close.
const CLOSE_LINGER: Duration = Duration::from_millis(100);

/// A request from a [`NetworkHandle`](crate::NetworkHandle) to the task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Dial an address; answered once connected (with the peer) or failed.
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, DialFailure>>,
    },
    /// Make sure a connection to the peer exists, dialing its known addresses.
    Connect {
        peer: PeerId,
        reply: oneshot::Sender<Result<(), DialFailure>>,
    },
    /// Close every connection to the peer; answers whether there was one.
    Disconnect {
        peer: PeerId,
        reply: oneshot::Sender<bool>,
    },
    /// Remember an address for the peer.
    AddAddress { peer: PeerId, addr: Multiaddr },
    /// Close connections, stop listening, and stop the task.
    Shutdown { reply: oneshot::Sender<()> },
}

/// What handles read without a round trip to the task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) listen_addrs: BTreeSet<Multiaddr>,
    pub(crate) peers: PeerBook,
}

/// [`Shared`] behind its lock.
#[derive(Debug, Clone)]
pub(crate) struct SharedState(Arc<Mutex<Shared>>);

impl SharedState {
    pub(crate) fn new(peers: PeerBook) -> Self {
        Self(Arc::new(Mutex::new(Shared {
            listen_addrs: BTreeSet::new(),
            peers,
        })))
    }

    /// The state; a panic elsewhere while holding the lock leaves data that is still
    /// consistent field by field, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The swarm and everything the task needs around it.
pub(crate) struct Driver {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) incoming: libp2p_stream::IncomingStreams,
    pub(crate) incoming_queue: mpsc::Sender<(PeerId, Stream)>,
    pub(crate) events: broadcast::Sender<NetworkEvent>,
    pub(crate) shared: SharedState,
    pub(crate) dial_waiters: HashMap<ConnectionId, oneshot::Sender<Result<PeerId, DialFailure>>>,
    pub(crate) peer_waiters: BTreeMap<PeerId, Vec<oneshot::Sender<Result<(), DialFailure>>>>,
}

impl Driver {
    /// Runs until shutdown or until every handle is gone, then releases the swarm
    /// (and with it every listening socket) before acknowledging the shutdown.
    pub(crate) async fn run(mut self) {
        let shutdown_reply = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some((peer, stream)) = self.incoming.next() => self.on_incoming_stream(peer, stream),
            }
        };
        self.close().await;
        drop(self);
        info!("network stopped");
        if let Some(reply) = shutdown_reply {
            // The caller may have stopped waiting; nothing to do then.
            let _ = reply.send(());
        }
    }

    /// Disconnects every peer and waits (briefly) for the connections to close.
    async fn close(&mut self) {
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in connected {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.swarm.connected_peers().next().is_some() {
            match tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await {
                Ok(event) => self.on_swarm_event(event),
                Err(_) => break,
            }
        }
        // Keep driving the swarm a moment so that close frames (QUIC's
        // CONNECTION_CLOSE, yamux's GoAway) leave before the sockets are dropped;
        // otherwise the peer only learns of it from its idle timeout.
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            loop {
                let event = self.swarm.select_next_some().await;
                self.on_swarm_event(event);
            }
        })
        .await;
        self.shared.lock().listen_addrs.clear();
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial { addr, reply } => self.dial(addr, reply),
            Command::Connect { peer, reply } => self.connect(peer, reply),
            Command::Disconnect { peer, reply } => {
                let had_connection = self.swarm.disconnect_peer_id(peer).is_ok();
                debug!(%peer, had_connection, "disconnecting peer");
                let _ = reply.send(had_connection);
            }
            Command::AddAddress { peer, addr } => {
                self.shared
                    .lock()
                    .peers
                    .add_addr(peer, &addr, AddrSource::Added);
            }
            // Handled by `run`.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn dial(&mut self, addr: Multiaddr, reply: oneshot::Sender<Result<PeerId, DialFailure>>) {
        if let Some(peer) = peer_id_of(&addr)
            && self.swarm.is_connected(&peer)
        {
            let _ = reply.send(Ok(peer));
            return;
        }
        let opts = DialOpts::unknown_peer_id().address(addr).build();
        let connection = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.dial_waiters.retain(|_, waiter| !waiter.is_closed());
                self.dial_waiters.insert(connection, reply);
            }
            Err(error) => {
                let _ = reply.send(Err(DialFailure::from(&error)));
            }
        }
    }

    fn connect(&mut self, peer: PeerId, reply: oneshot::Sender<Result<(), DialFailure>>) {
        if self.swarm.is_connected(&peer) {
            let _ = reply.send(Ok(()));
            return;
        }
        let addrs = self.shared.lock().peers.addrs(&peer);
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .extend_addresses_through_behaviour()
            .build();
        match self.swarm.dial(opts) {
            // Already dialing: its outcome answers this caller too.
            Ok(()) | Err(DialError::DialPeerConditionFalse(_)) => {
                let waiters = self.peer_waiters.entry(peer).or_default();
                waiters.retain(|waiter| !waiter.is_closed());
                if waiters.len() >= MAX_WAITERS_PER_PEER {
                    let _ = reply.send(Err(DialFailure::TooManyWaiters));
                } else {
                    waiters.push(reply);
                }
            }
            Err(error) => {
                let _ = reply.send(Err(DialFailure::from(&error)));
            }
        }
    }

    fn on_incoming_stream(&mut self, peer: PeerId, stream: Stream) {
        match self.incoming_queue.try_send((peer, stream)) {
            Ok(()) => debug!(%peer, "inbound sync stream"),
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!("inbound sync stream dropped: queue full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                debug!("inbound sync stream dropped: nobody takes them");
            }
        }
    }

    pub(crate) fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let remote = endpoint.get_remote_address().clone();
                {
                    let peers = &mut self.shared.lock().peers;
                    if endpoint.is_dialer() {
                        peers.add_addr(peer_id, &remote, AddrSource::Dialed);
                    }
                    peers.connection_opened(peer_id, &remote);
                }
                if let Some(waiter) = self.dial_waiters.remove(&connection_id) {
                    let _ = waiter.send(Ok(peer_id));
                }
                for waiter in self.peer_waiters.remove(&peer_id).into_iter().flatten() {
                    let _ = waiter.send(Ok(()));
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "connected");
                    self.emit(NetworkEvent::Connected {
                        peer: peer_id,
                        addr: remote,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                self.shared
                    .lock()
                    .peers
                    .connection_closed(peer_id, num_established);
                if num_established == 0 {
                    debug!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "disconnected");
                    self.emit(NetworkEvent::Disconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let failure = DialFailure::from(&error);
                debug!(peer = ?peer_id, error = %failure, "dial failed");
                if let Some(waiter) = self.dial_waiters.remove(&connection_id) {
                    let _ = waiter.send(Err(failure.clone()));
                }
                if let Some(peer) = peer_id
                    && !self.swarm.is_connected(&peer)
                {
                    for waiter in self.peer_waiters.remove(&peer).into_iter().flatten() {
                        let _ = waiter.send(Err(failure.clone()));
                    }
                }
                self.emit(NetworkEvent::DialFailed {
                    peer: peer_id,
                    error: failure,
                });
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                let failure = InboundFailure::from(&error);
                debug!(peer = ?peer_id, error = %failure, "inbound connection failed");
                self.emit(NetworkEvent::InboundFailed {
                    peer: peer_id,
                    addr: send_back_addr,
                    error: failure,
                });
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                let addr = self.with_local_peer_id(address);
                // The address carries our peer id: debug level only.
                debug!(addr = %addr, "listening");
                self.shared.lock().listen_addrs.insert(addr.clone());
                self.emit(NetworkEvent::ListenAddr { addr });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let addr = self.with_local_peer_id(address);
                debug!(addr = %addr, "no longer listening");
                self.shared.lock().listen_addrs.remove(&addr);
                self.emit(NetworkEvent::ListenAddrExpired { addr });
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                if let Err(error) = reason {
                    warn!(%error, "listener closed");
                }
                for address in addresses {
                    let addr = self.with_local_peer_id(address);
                    self.shared.lock().listen_addrs.remove(&addr);
                    self.emit(NetworkEvent::ListenAddrExpired { addr });
                }
            }
            SwarmEvent::ListenerError { error, .. } => warn!(%error, "listener error"),
            other => trace!(event = ?other, "swarm event"),
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let local = *self.swarm.local_peer_id();
                let mut fresh: BTreeMap<PeerId, Vec<Multiaddr>> = BTreeMap::new();
                {
                    let peers = &mut self.shared.lock().peers;
                    for (peer, addr) in found {
                        if peer != local && peers.add_addr(peer, &addr, AddrSource::Mdns) {
                            fresh.entry(peer).or_default().push(addr);
                        }
                    }
                }
                for (peer, addrs) in fresh {
                    debug!(%peer, addrs = addrs.len(), "discovered via mdns");
                    self.emit(NetworkEvent::PeerDiscovered { peer, addrs });
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(gone)) => {
                let mut expired = BTreeSet::new();
                {
                    let peers = &mut self.shared.lock().peers;
                    for (peer, addr) in gone {
                        if peers.expire_mdns(peer, &addr) {
                            expired.insert(peer);
                        }
                    }
                }
                for peer in expired {
                    debug!(%peer, "mdns announcement expired");
                    self.emit(NetworkEvent::PeerExpired { peer });
                }
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let supports_sync = info.protocols.contains(&SYNC_PROTOCOL);
                debug!(peer = %peer_id, supports_sync, "identified");
                self.shared
                    .lock()
                    .peers
                    .identified(peer_id, &info.listen_addrs, supports_sync);
            }
            BehaviourEvent::Identify(other) => trace!(event = ?other, "identify"),
            BehaviourEvent::Ping(event) => {
                if let Err(error) = event.result {
                    debug!(peer = %event.peer, %error, "ping failed");
                }
            }
            BehaviourEvent::Limits(never) | BehaviourEvent::Memory(never) => match never {},
            BehaviourEvent::Stream(()) => {}
        }
    }

    fn with_local_peer_id(&self, addr: Multiaddr) -> Multiaddr {
        addr.with(Protocol::P2p(*self.swarm.local_peer_id()))
    }

    fn emit(&self, event: NetworkEvent) {
        // No subscriber is not an error: events are advisory.
        let _ = self.events.send(event);
    }
}
