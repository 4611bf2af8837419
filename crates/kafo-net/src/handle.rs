//! The handle host code drives the network with, and the queue of inbound sync streams.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use libp2p::{Multiaddr, PeerId, Stream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::debug;

use crate::behaviour::SYNC_PROTOCOL;
use crate::config::NetworkConfig;
use crate::driver::{Command, SharedState};
use crate::error::{DialPeerError, NetworkStopped, OpenStreamError};
use crate::event::NetworkEvent;
use crate::peers::KnownPeer;

/// How many times a sync stream negotiation is tried before its io error is returned.
const OPEN_STREAM_ATTEMPTS: u32 = 3;

/// The pause before a failed negotiation is tried again.
const OPEN_STREAM_RETRY_DELAY: Duration = Duration::from_millis(100);

/// A cheap, cloneable handle to a running [`Network`](crate::Network).
///
/// Every method is safe to call after the network stopped: queries return empty
/// answers and actions return [`NetworkStopped`].
#[derive(Clone)]
pub struct NetworkHandle {
    inner: Arc<Inner>,
}

struct Inner {
    local_peer: PeerId,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    events: broadcast::WeakSender<NetworkEvent>,
    shared: SharedState,
    dial_timeout: Duration,
    open_stream_timeout: Duration,
}

impl fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkHandle")
            .field("local_peer", &self.inner.local_peer)
            .finish_non_exhaustive()
    }
}

impl NetworkHandle {
    pub(crate) fn new(
        local_peer: PeerId,
        commands: mpsc::Sender<Command>,
        control: libp2p_stream::Control,
        events: broadcast::WeakSender<NetworkEvent>,
        shared: SharedState,
        config: &NetworkConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                local_peer,
                commands,
                control,
                events,
                shared,
                dial_timeout: config.dial_timeout,
                open_stream_timeout: config.open_stream_timeout,
            }),
        }
    }

    /// This device's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.inner.local_peer
    }

    /// The addresses we listen on, each ending in `/p2p/<our peer id>`, in address
    /// order. Empty once the network stopped.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.inner
            .shared
            .lock()
            .listen_addrs
            .iter()
            .cloned()
            .collect()
    }

    /// Every peer we know an address of or are connected to, in peer id order.
    pub fn peers(&self) -> Vec<KnownPeer> {
        self.inner.shared.lock().peers.snapshot()
    }

    /// Whether a connection to `peer` is established.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.inner.shared.lock().peers.is_connected(peer)
    }

    /// A new subscription to [`NetworkEvent`]s from now on. Closed once the network
    /// stopped.
    pub fn events(&self) -> broadcast::Receiver<NetworkEvent> {
        match self.inner.events.upgrade() {
            Some(sender) => sender.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Connects to `addr` (which may end in `/p2p/<peer id>`, checked against the
    /// identity the remote proves) and returns the peer once connected. Returns at
    /// once if the address names a peer we are connected to.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, DialPeerError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Dial { addr, reply }).await?;
        let after = self.inner.dial_timeout;
        match tokio::time::timeout(after, answer).await {
            Ok(Ok(result)) => Ok(result?),
            Ok(Err(_)) => Err(NetworkStopped.into()),
            Err(_) => Err(DialPeerError::Timeout { after }),
        }
    }

    /// Makes sure a connection to `peer` exists, dialing the addresses we know for it
    /// (mDNS, earlier dials, identify, [`add_peer_address`](Self::add_peer_address)).
    pub async fn connect(&self, peer: PeerId) -> Result<(), DialPeerError> {
        let after = self.inner.dial_timeout;
        match tokio::time::timeout(after, self.connect_inner(peer)).await {
            Ok(result) => result,
            Err(_) => Err(DialPeerError::Timeout { after }),
        }
    }

    async fn connect_inner(&self, peer: PeerId) -> Result<(), DialPeerError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Connect { peer, reply }).await?;
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(NetworkStopped.into()),
        }
    }

    /// Opens a `/kafo/sync/1` stream to `peer`, connecting first if needed. The
    /// stream is a futures `AsyncRead + AsyncWrite`; drop it (or close it) to end the
    /// session.
    pub async fn open_sync_stream(&self, peer: PeerId) -> Result<Stream, OpenStreamError> {
        let after = self.inner.open_stream_timeout;
        match tokio::time::timeout(after, self.open_sync_stream_inner(peer)).await {
            Ok(result) => result,
            Err(_) => Err(OpenStreamError::Timeout { after }),
        }
    }

    /// Connects, then negotiates the stream. A negotiation that fails with an io
    /// error is retried (up to [`OPEN_STREAM_ATTEMPTS`] in all): when two devices
    /// discover each other and dial at the same moment, the connection the request
    /// was queued on may be one that the dialer side drops in favour of another, which
    /// cancels the request although the peer is reachable.
    async fn open_sync_stream_inner(&self, peer: PeerId) -> Result<Stream, OpenStreamError> {
        let mut attempt = 1;
        loop {
            match self.connect_inner(peer).await {
                Ok(()) => {}
                Err(DialPeerError::Stopped(stopped)) => return Err(stopped.into()),
                Err(DialPeerError::Failed(failure)) => {
                    return Err(OpenStreamError::Connect(failure));
                }
                Err(DialPeerError::Timeout { after }) => {
                    return Err(OpenStreamError::Timeout { after });
                }
            }
            // Each call gets its own control (and with it its own slot in the
            // behaviour's queue), so concurrent opens do not wait on each other.
            let mut control = self.inner.control.clone();
            let error = match control.open_stream(peer, SYNC_PROTOCOL).await {
                Ok(stream) => return Ok(stream),
                Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_)) => {
                    return Err(OpenStreamError::UnsupportedProtocol);
                }
                Err(libp2p_stream::OpenStreamError::Io(error)) => error,
                // The enum is non-exhaustive; a future variant is a negotiation failure.
                Err(other) => io::Error::other(other.to_string()),
            };
            if attempt >= OPEN_STREAM_ATTEMPTS {
                return Err(OpenStreamError::Io(error));
            }
            debug!(%peer, attempt, %error, "sync stream negotiation failed, retrying");
            attempt += 1;
            tokio::time::sleep(OPEN_STREAM_RETRY_DELAY).await;
        }
    }

    /// Closes every connection to `peer` (a peer that misbehaved); returns whether
    /// there was one. It may connect again later: refusing it is the caller's policy.
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, NetworkStopped> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Disconnect { peer, reply }).await?;
        answer.await.map_err(|_| NetworkStopped)
    }

    /// Remembers `addr` as a way to reach `peer` (an address the host kept from an
    /// earlier meetup, or scanned from a QR code).
    pub async fn add_peer_address(
        &self,
        peer: PeerId,
        addr: Multiaddr,
    ) -> Result<(), NetworkStopped> {
        self.send(Command::AddAddress { peer, addr }).await
    }

    /// Closes every connection, stops listening and stops the network task; returns
    /// once the sockets are released. Idempotent.
    pub async fn shutdown(&self) {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Shutdown { reply }).await.is_ok() {
            // An error means the task already stopped: the goal is reached either way.
            let _ = answer.await;
        }
    }

    async fn send(&self, command: Command) -> Result<(), NetworkStopped> {
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| NetworkStopped)
    }
}

/// Sync streams opened by peers, in arrival order: a bounded queue of
/// [`Limits::incoming_stream_queue`](crate::Limits::incoming_stream_queue) streams
/// beyond which new ones are dropped. Implements [`futures::Stream`]; ends when the
/// network stops.
#[derive(Debug)]
pub struct IncomingSyncStreams {
    receiver: mpsc::Receiver<(PeerId, Stream)>,
}

impl IncomingSyncStreams {
    pub(crate) fn new(receiver: mpsc::Receiver<(PeerId, Stream)>) -> Self {
        Self { receiver }
    }

    /// The next inbound stream and the peer that opened it; `None` once the network
    /// stopped.
    pub async fn next_stream(&mut self) -> Option<(PeerId, Stream)> {
        self.receiver.recv().await
    }
}

impl futures::Stream for IncomingSyncStreams {
    type Item = (PeerId, Stream);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}
