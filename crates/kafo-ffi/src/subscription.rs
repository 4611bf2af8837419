//! `Subscription`: the node's changes handed to the app's listener (see
//! `kafo::changes`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kafo::Change;
use kafo::net::NodeEvent;
use tokio::sync::Notify;
use tracing::warn;

use crate::link::SyncReport;
use crate::runtime::runtime;

/// What the app implements to hear about changes. Called on a thread of Kafo's (not
/// the UI thread), one call at a time, in order.
#[uniffi::export(with_foreign)]
pub trait NodeListener: Send + Sync {
    /// These households were durably written (a local edit or import, or documents
    /// received from a peer).
    fn on_households_changed(&self, ids: Vec<String>);
    /// Something happened while serving.
    fn on_sync_event(&self, event: SyncEvent);
}

/// What kind of sync event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncEventKind {
    Listening,
    PeerDiscovered,
    PeerConnected,
    PeerDisconnected,
    PeerLeft,
    SessionStarted,
    SessionProgress,
    SessionFinished,
    PeerBanned,
    Error,
}

/// Something that happened while serving. Fields a kind does not use are empty.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncEvent {
    pub kind: SyncEventKind,
    /// The peer's device id.
    pub peer: Option<String>,
    /// A listen or remote address.
    pub address: Option<String>,
    /// `inbound` or `outbound`, for session events.
    pub direction: Option<String>,
    /// Documents received so far (`SessionProgress`).
    pub documents_received: u64,
    /// What a finished session did (`SessionFinished`).
    pub report: Option<SyncReport>,
    /// What failed (`Error`).
    pub message: Option<String>,
}

impl From<&NodeEvent> for SyncEvent {
    fn from(event: &NodeEvent) -> Self {
        let mut converted = Self {
            kind: SyncEventKind::Error,
            peer: None,
            address: None,
            direction: None,
            documents_received: 0,
            report: None,
            message: None,
        };
        match event {
            NodeEvent::Listening { addr } => {
                converted.kind = SyncEventKind::Listening;
                converted.address = Some(addr.to_string());
            }
            NodeEvent::PeerDiscovered { peer, addrs } => {
                converted.kind = SyncEventKind::PeerDiscovered;
                converted.peer = Some(peer.to_string());
                converted.address = addrs.first().map(ToString::to_string);
            }
            NodeEvent::PeerConnected { peer, addr } => {
                converted.kind = SyncEventKind::PeerConnected;
                converted.peer = Some(peer.to_string());
                converted.address = Some(addr.to_string());
            }
            NodeEvent::PeerDisconnected { peer } => {
                converted.kind = SyncEventKind::PeerDisconnected;
                converted.peer = Some(peer.to_string());
            }
            NodeEvent::PeerLeft { peer } => {
                converted.kind = SyncEventKind::PeerLeft;
                converted.peer = Some(peer.to_string());
            }
            NodeEvent::SessionStarted { peer, direction } => {
                converted.kind = SyncEventKind::SessionStarted;
                converted.peer = Some(peer.to_string());
                converted.direction = Some(direction.as_str().to_owned());
            }
            NodeEvent::SessionProgress {
                peer,
                direction,
                docs_received,
            } => {
                converted.kind = SyncEventKind::SessionProgress;
                converted.peer = Some(peer.to_string());
                converted.direction = Some(direction.as_str().to_owned());
                converted.documents_received = *docs_received;
            }
            NodeEvent::SessionFinished {
                peer,
                direction,
                report,
            } => {
                converted.kind = SyncEventKind::SessionFinished;
                converted.peer = Some(peer.to_string());
                converted.direction = Some(direction.as_str().to_owned());
                converted.documents_received = report.docs_received;
                converted.report = Some(SyncReport::from(report));
            }
            NodeEvent::PeerBanned { peer } => {
                converted.kind = SyncEventKind::PeerBanned;
                converted.peer = Some(peer.to_string());
            }
            NodeEvent::Error { peer, error } => {
                converted.kind = SyncEventKind::Error;
                converted.peer = peer.map(|peer| peer.to_string());
                converted.message = Some(error.to_string());
            }
        }
        converted
    }
}

/// Calls to the app's listener, until `close`.
#[derive(Debug, uniffi::Object)]
pub struct Subscription {
    closed: Arc<AtomicBool>,
    stop: Arc<Notify>,
}

impl Subscription {
    pub(crate) fn start(
        mut changes: kafo::Subscription,
        listener: Arc<dyn NodeListener>,
    ) -> Arc<Self> {
        let closed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(Notify::new());
        let subscription = Arc::new(Self {
            closed: Arc::clone(&closed),
            stop: Arc::clone(&stop),
        });
        let Ok(runtime) = runtime() else {
            warn!("no runtime: the subscription delivers nothing");
            return subscription;
        };
        let spawned = std::thread::Builder::new()
            .name("kafo-listener".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        let change = tokio::select! {
                            change = changes.recv() => change,
                            () = stop.notified() => None,
                        };
                        let Some(change) = change else { return };
                        if closed.load(Ordering::Acquire) {
                            return;
                        }
                        deliver(listener.as_ref(), &change);
                    }
                });
            });
        if let Err(error) = spawned {
            warn!(%error, "no listener thread: the subscription delivers nothing");
        }
        subscription
    }
}

/// Calls the listener; a failing listener is logged, never fatal.
fn deliver(listener: &dyn NodeListener, change: &Change) {
    let call = catch_unwind(AssertUnwindSafe(|| match change {
        Change::Households(ids) => {
            listener.on_households_changed(ids.iter().map(ToString::to_string).collect());
        }
        Change::Sync(event) => listener.on_sync_event(SyncEvent::from(event.as_ref())),
    }));
    if call.is_err() {
        warn!("the app's change listener failed");
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the calls (one already under way finishes).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.stop.notify_one();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.close();
    }
}
