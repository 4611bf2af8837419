//! A running node: the task that answers peers' sessions, opens sessions to peers as
//! the [`Schedule`] says, and reports what happens.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::io::AsyncReadExt as _;
use kafo_net::{
    DialPeerError, IncomingSyncStreams, Multiaddr, Network, NetworkEvent, NetworkHandle, PeerId,
    Stream,
};
use kafo_proto::Side;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::{JoinError, JoinSet};
use tracing::{Instrument as _, debug, info, info_span, warn};

use crate::net::config::{ServeConfig, SyncOptions};
use crate::net::error::{NodeError, PeerRecordError, ServeError};
use crate::net::event::NodeEvent;
use crate::net::peers::PeerRecord;
use crate::net::report::{Direction, SyncOutcome};
use crate::net::schedule::{Ended, Job, Policy, Schedule, Sighting};
use crate::net::session::{DrivenSession, blocking, drive};
use crate::node::Node;

/// The least time between two [`NodeEvent::SessionProgress`] events of one session.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Commands waiting for the node's task.
const COMMAND_QUEUE: usize = 64;

/// A node that syncs with the peers around it until it is shut down. See
/// [`Node::serve`].
///
/// Dropping it stops the node at once (running sessions are abandoned: what they
/// applied stays applied); [`RunningNode::shutdown`] lets them finish first.
#[derive(Debug)]
pub struct RunningNode {
    node: Arc<Node>,
    handle: NetworkHandle,
    events: broadcast::Sender<NodeEvent>,
    commands: mpsc::Sender<Command>,
    live: Arc<Live>,
    task: tokio::task::JoinHandle<()>,
}

/// A peer as a running node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub peer: PeerId,
    /// Addresses known for it now (or remembered, when it is not around).
    pub addrs: Vec<Multiaddr>,
    /// Whether a connection to it is established.
    pub connected: bool,
    /// Whether a session with it is running.
    pub syncing: bool,
    /// What the store remembers of it (last session, last success).
    pub record: Option<PeerRecord>,
}

#[derive(Debug)]
enum Command {
    Seen {
        peer: PeerId,
        how: Sighting,
    },
    Shutdown {
        grace: Duration,
        reply: oneshot::Sender<()>,
    },
}

/// What handles read without asking the task.
#[derive(Debug, Default)]
struct Live {
    state: Mutex<LiveState>,
}

#[derive(Debug, Default)]
struct LiveState {
    records: BTreeMap<PeerId, PeerRecord>,
    /// Sessions running per peer.
    syncing: BTreeMap<PeerId, u32>,
}

impl Live {
    /// The state; its fields stay consistent one by one, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Node {
    /// Starts syncing with the peers around: listens and discovers as
    /// `config.network` says, answers the sessions peers open, and opens sessions
    /// to peers when they appear and whenever either side has changes (see the
    /// [module docs](crate::net)). The node keeps running until
    /// [`RunningNode::shutdown`] or until the `RunningNode` is dropped.
    ///
    /// Must be called within a multi-threaded tokio runtime (sessions run the store's
    /// blocking work in `block_in_place`).
    pub async fn serve(self: Arc<Self>, config: ServeConfig) -> Result<RunningNode, ServeError> {
        if config.max_sessions == 0 || config.event_queue == 0 {
            return Err(ServeError::InvalidConfig {
                reason: "max_sessions and event_queue must be at least 1",
            });
        }
        let records = {
            let node = Arc::clone(&self);
            blocking(move || node.peers())?
        };
        let network =
            Network::start(self.identity().keypair().clone(), config.network.clone()).await?;
        let (handle, incoming) = network.into_parts();
        let net_events = handle.events();
        let (events, _) = broadcast::channel(config.event_queue);
        tokio::spawn(crate::changes::forward_sync_events(
            Arc::downgrade(&self),
            events.subscribe(),
        ));
        let (commands, command_receiver) = mpsc::channel(COMMAND_QUEUE);
        let live = Arc::new(Live::default());
        live.lock().records = records
            .into_iter()
            .map(|record| (record.peer, record))
            .collect();
        let changes = self.changes();
        let version = *changes.borrow();
        let runtime = Runtime {
            node: Arc::clone(&self),
            handle: handle.clone(),
            incoming,
            net_events,
            changes,
            changes_open: true,
            commands: command_receiver,
            events: events.clone(),
            schedule: Schedule::new(handle.local_peer_id(), Policy::of(&config), version),
            sessions: JoinSet::new(),
            running: BTreeMap::new(),
            options: Arc::new(config.sync),
            live: Arc::clone(&live),
        };
        info!(listen_addrs = handle.listen_addrs().len(), "node serving");
        let task = tokio::spawn(runtime.run().instrument(info_span!("kafo_node")));
        Ok(RunningNode {
            node: self,
            handle,
            events,
            commands,
            live,
            task,
        })
    }
}

impl RunningNode {
    /// This device's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    /// The addresses the node listens on, each ending in `/p2p/<peer id>`.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.handle.listen_addrs()
    }

    /// A new subscription to the node's events from now on.
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// The node (to read and edit records while it runs; edits are synced).
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The network underneath (to add addresses, list connections).
    pub fn network(&self) -> &NetworkHandle {
        &self.handle
    }

    /// Connects to `addr` and makes the peer a sync partner: a session with it
    /// starts as soon as a slot is free.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, DialPeerError> {
        let peer = self.handle.dial(addr).await?;
        self.sync_now(peer).await;
        Ok(peer)
    }

    /// Makes `peer` a sync partner (again) and syncs with it as soon as a slot is
    /// free, resetting its backoff. Does nothing once the node stopped.
    pub async fn sync_now(&self, peer: PeerId) {
        let command = Command::Seen {
            peer,
            how: Sighting::Dialed,
        };
        // An error means the node stopped: there is nothing to sync with any more.
        let _ = self.commands.send(command).await;
    }

    /// Every peer known to the network or remembered by the store, in peer id order.
    pub fn peers(&self) -> Vec<PeerStatus> {
        let known = self.handle.peers();
        let live = self.live.lock();
        let mut peers: BTreeMap<PeerId, PeerStatus> = live
            .records
            .values()
            .map(|record| {
                (
                    record.peer,
                    PeerStatus {
                        peer: record.peer,
                        addrs: record.addrs.clone(),
                        connected: false,
                        syncing: false,
                        record: Some(record.clone()),
                    },
                )
            })
            .collect();
        for peer in known {
            let status = peers.entry(peer.peer).or_insert_with(|| PeerStatus {
                peer: peer.peer,
                addrs: Vec::new(),
                connected: false,
                syncing: false,
                record: None,
            });
            if !peer.addrs.is_empty() {
                status.addrs = peer.addrs;
            }
            status.connected = peer.connected;
        }
        for (peer, sessions) in &live.syncing {
            if *sessions > 0
                && let Some(status) = peers.get_mut(peer)
            {
                status.syncing = true;
            }
        }
        peers.into_values().collect()
    }

    /// Stops the node: no new session starts, running ones get `grace` to finish
    /// and are then abandoned (what they applied stays applied), and the network
    /// closes its connections and listeners.
    pub async fn shutdown(self, grace: Duration) {
        let (reply, done) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { grace, reply })
            .await
            .is_ok()
        {
            // An error means the task already stopped.
            let _ = done.await;
        }
        // The task ends right after replying; a panic in it has been reported by tokio.
        let _ = self.task.await;
    }
}

/// What a session task hands back.
#[derive(Debug)]
struct Done {
    peer: PeerId,
    direction: Direction,
    result: Result<DrivenSession, NodeError>,
    record: Option<Result<PeerRecord, PeerRecordError>>,
}

/// The node's task.
struct Runtime {
    node: Arc<Node>,
    handle: NetworkHandle,
    incoming: IncomingSyncStreams,
    net_events: broadcast::Receiver<NetworkEvent>,
    changes: watch::Receiver<u64>,
    changes_open: bool,
    commands: mpsc::Receiver<Command>,
    events: broadcast::Sender<NodeEvent>,
    schedule: Schedule<Stream>,
    sessions: JoinSet<Done>,
    running: BTreeMap<tokio::task::Id, (PeerId, Direction)>,
    options: Arc<SyncOptions>,
    live: Arc<Live>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Runtime {
    async fn run(mut self) {
        let shutdown = loop {
            let at = now();
            while let Some(job) = self.schedule.next_job(at) {
                self.start(job);
            }
            let wake = self
                .schedule
                .next_wakeup(at)
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Seen { peer, how }) => self.schedule.seen(peer, how, now()),
                    Some(Command::Shutdown { grace, reply }) => break Some((grace, reply)),
                    None => break None,
                },
                Some(joined) = self.sessions.join_next_with_id() => self.on_joined(joined).await,
                event = self.net_events.recv() => match event {
                    Ok(event) => self.on_network_event(event).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        debug!(missed, "network events missed, re-reading peers");
                        self.reread_peers();
                    }
                    Err(broadcast::error::RecvError::Closed) => break None,
                },
                Some((peer, stream)) = self.incoming.next_stream() => self.on_incoming(peer, stream).await,
                changed = self.changes.changed(), if self.changes_open => match changed {
                    Ok(()) => {
                        let version = *self.changes.borrow_and_update();
                        self.schedule.local_change(version, now());
                    }
                    Err(_) => self.changes_open = false,
                },
                () = sleep_until(wake) => {}
            }
        };
        self.stop(shutdown).await;
    }

    fn start(&mut self, job: Job<Stream>) {
        let (peer, direction, stream) = match job {
            Job::Outbound(peer) => (peer, Direction::Outbound, None),
            Job::Inbound(peer, stream) => (peer, Direction::Inbound, Some(stream)),
        };
        *self.live.lock().syncing.entry(peer).or_default() += 1;
        debug!(%peer, direction = direction.as_str(), "session starting");
        self.emit(NodeEvent::SessionStarted { peer, direction });
        let task = SessionTask {
            node: Arc::clone(&self.node),
            handle: self.handle.clone(),
            options: Arc::clone(&self.options),
            events: self.events.clone(),
            peer,
            direction,
        };
        let span = info_span!("session", direction = direction.as_str());
        let abort = self.sessions.spawn(task.run(stream).instrument(span));
        self.running.insert(abort.id(), (peer, direction));
    }

    async fn on_joined(&mut self, joined: Result<(tokio::task::Id, Done), JoinError>) {
        match joined {
            Ok((id, done)) => {
                self.running.remove(&id);
                self.on_done(done).await;
            }
            Err(error) => {
                let Some((peer, direction)) = self.running.remove(&error.id()) else {
                    return;
                };
                self.session_over(peer);
                self.schedule
                    .finished(peer, direction, Ended::Failed, now());
                if !error.is_cancelled() {
                    warn!("a session task panicked");
                    self.emit(NodeEvent::Error {
                        peer: Some(peer),
                        error: Arc::new(NodeError::SessionTask),
                    });
                }
            }
        }
    }

    async fn on_done(&mut self, done: Done) {
        let Done {
            peer,
            direction,
            result,
            record,
        } = done;
        self.session_over(peer);
        let driven = match result {
            Ok(driven) => driven,
            Err(error) => {
                debug!(%peer, %error, "session could not run");
                self.schedule
                    .finished(peer, direction, Ended::Failed, now());
                self.emit(NodeEvent::Error {
                    peer: Some(peer),
                    error: Arc::new(error),
                });
                return;
            }
        };
        let report = driven.report;
        let ended = match &report.outcome {
            SyncOutcome::InSync => Ended::InSync {
                synced_version: driven.synced_version,
            },
            SyncOutcome::Refused { by: Side::Us } => Ended::PeerFault,
            outcome if outcome.is_peer_fault() => Ended::PeerFault,
            _ => Ended::Failed,
        };
        self.schedule.finished(peer, direction, ended, now());
        match record {
            Some(Ok(record)) => {
                self.live.lock().records.insert(peer, record);
            }
            Some(Err(error)) => self.emit(NodeEvent::Error {
                peer: Some(peer),
                error: Arc::new(error.into()),
            }),
            None => {}
        }
        self.emit(NodeEvent::SessionFinished {
            peer,
            direction,
            report,
        });
        if ended == Ended::PeerFault {
            warn!("peer broke the protocol or its identity: disconnected and banned");
            self.emit(NodeEvent::PeerBanned { peer });
            // An error means the network stopped: the peer is gone either way.
            let _ = self.handle.disconnect(peer).await;
        }
    }

    fn session_over(&self, peer: PeerId) {
        let mut live = self.live.lock();
        if let Some(sessions) = live.syncing.get_mut(&peer) {
            *sessions = sessions.saturating_sub(1);
            if *sessions == 0 {
                live.syncing.remove(&peer);
            }
        }
    }

    async fn on_incoming(&mut self, peer: PeerId, stream: Stream) {
        let at = now();
        if self.schedule.is_banned(&peer, at) {
            debug!(%peer, "session from a banned peer dropped");
            drop(stream);
            let _ = self.handle.disconnect(peer).await;
            return;
        }
        if let Err(stream) = self.schedule.inbound(peer, stream, at) {
            warn!("too many sessions waiting: one opened by a peer is dropped");
            drop(stream);
        }
    }

    async fn on_network_event(&mut self, event: NetworkEvent) {
        let at = now();
        match event {
            NetworkEvent::PeerDiscovered { peer, addrs } => {
                self.schedule.seen(peer, Sighting::Discovered, at);
                self.emit(NodeEvent::PeerDiscovered { peer, addrs });
            }
            NetworkEvent::PeerExpired { peer } => {
                self.schedule.left(peer);
                self.emit(NodeEvent::PeerLeft { peer });
            }
            NetworkEvent::Connected { peer, addr } => {
                if self.schedule.is_banned(&peer, at) {
                    let _ = self.handle.disconnect(peer).await;
                    return;
                }
                self.schedule.seen(peer, Sighting::Connected, at);
                self.emit(NodeEvent::PeerConnected { peer, addr });
            }
            NetworkEvent::Disconnected { peer } => {
                self.emit(NodeEvent::PeerDisconnected { peer });
            }
            NetworkEvent::ListenAddr { addr } => self.emit(NodeEvent::Listening { addr }),
            NetworkEvent::ListenAddrExpired { .. }
            | NetworkEvent::DialFailed { .. }
            | NetworkEvent::InboundFailed { .. } => {}
        }
    }

    /// After missing network events: every peer connected or discovered is a partner.
    fn reread_peers(&mut self) {
        let at = now();
        for known in self.handle.peers() {
            if known.connected || known.discovered_via_mdns {
                self.schedule.seen(known.peer, Sighting::Connected, at);
            }
        }
    }

    async fn stop(mut self, shutdown: Option<(Duration, oneshot::Sender<()>)>) {
        self.schedule.clear_queue();
        let grace = shutdown
            .as_ref()
            .map_or(Duration::ZERO, |(grace, _)| *grace);
        info!(sessions = self.sessions.len(), ?grace, "node stopping");
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match tokio::time::timeout_at(deadline, self.sessions.join_next_with_id()).await {
                Ok(Some(joined)) => self.on_joined(joined).await,
                Ok(None) => break,
                Err(_) => {
                    debug!(sessions = self.sessions.len(), "abandoning sessions");
                    self.sessions.abort_all();
                    while let Some(joined) = self.sessions.join_next_with_id().await {
                        self.on_joined(joined).await;
                    }
                    break;
                }
            }
        }
        self.handle.shutdown().await;
        info!("node stopped");
        if let Some((_, reply)) = shutdown {
            let _ = reply.send(());
        }
    }

    fn emit(&self, event: NodeEvent) {
        // No subscriber is not an error: events are advisory.
        let _ = self.events.send(event);
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One session with one peer, in its own task.
struct SessionTask {
    node: Arc<Node>,
    handle: NetworkHandle,
    options: Arc<SyncOptions>,
    events: broadcast::Sender<NodeEvent>,
    peer: PeerId,
    direction: Direction,
}

impl SessionTask {
    async fn run(self, stream: Option<Stream>) -> Done {
        let (peer, direction) = (self.peer, self.direction);
        let failed = |error: NodeError| Done {
            peer,
            direction,
            result: Err(error),
            record: None,
        };
        let stream = match stream {
            Some(stream) => stream,
            None => match self.handle.open_sync_stream(peer).await {
                Ok(stream) => stream,
                Err(error) => return failed(NodeError::OpenStream(error)),
            },
        };
        let (reader, writer) = stream.split();
        let events = self.events.clone();
        let mut last_progress: Option<Instant> = None;
        let on_applied = move |docs_received: u64| {
            let at = Instant::now();
            if last_progress.is_none_or(|last| at.duration_since(last) >= PROGRESS_INTERVAL) {
                last_progress = Some(at);
                let _ = events.send(NodeEvent::SessionProgress {
                    peer,
                    direction,
                    docs_received,
                });
            }
        };
        let driven = match drive(
            &self.node,
            reader,
            writer,
            Some(peer),
            &self.options,
            on_applied,
        )
        .await
        {
            Ok(driven) => driven,
            Err(error) => return failed(error.into()),
        };
        let addrs = self
            .handle
            .peers()
            .into_iter()
            .find(|known| known.peer == peer)
            .map(|known| known.addrs)
            .unwrap_or_default();
        let node = &self.node;
        let record = blocking(|| node.record_session(peer, addrs, direction, &driven.report));
        Done {
            peer,
            direction,
            result: Ok(driven),
            record: Some(record),
        }
    }
}
