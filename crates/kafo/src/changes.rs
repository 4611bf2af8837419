//! Change subscriptions: which households changed after each durable write (local
//! edits, imports, documents received from peers), and what a running node's sync
//! sessions did.
//!
//! [`Node::subscribe`] returns a [`Subscription`]; every subscription receives every
//! change from then on, in order, and none is dropped (the queue is unbounded: a
//! subscriber that never reads keeps the changes in memory until it is dropped).
//! Dropping the subscription ends it.

use std::sync::Mutex;

use kafo_model::HouseholdId;
use tokio::sync::mpsc;

use crate::net::NodeEvent;
use crate::node::Node;

/// Something that changed on a node.
#[derive(Debug, Clone)]
pub enum Change {
    /// These households were durably written (created, edited or merged with what a
    /// peer sent), in the order the writes happened; each appears once.
    Households(Vec<HouseholdId>),
    /// A running node ([`Node::serve`]) reported a sync event.
    Sync(Box<NodeEvent>),
}

/// A stream of [`Change`]s from [`Node::subscribe`].
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::UnboundedReceiver<Change>,
}

impl Subscription {
    /// The next change, waiting for it; `None` once the node is gone.
    pub async fn recv(&mut self) -> Option<Change> {
        self.receiver.recv().await
    }

    /// The next change if one is pending now.
    pub fn try_recv(&mut self) -> Option<Change> {
        self.receiver.try_recv().ok()
    }

    /// The next change, blocking the thread (never call it inside an async runtime).
    pub fn blocking_recv(&mut self) -> Option<Change> {
        self.receiver.blocking_recv()
    }
}

/// The node's subscribers.
#[derive(Debug, Default)]
pub(crate) struct ChangeFeed {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Change>>>,
}

impl ChangeFeed {
    fn subscribe(&self) -> Subscription {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock().push(sender);
        Subscription { receiver }
    }

    /// Delivers a change to every live subscriber, forgetting those dropped.
    pub(crate) fn publish(&self, change: Change) {
        let mut subscribers = self.lock();
        subscribers.retain(|subscriber| subscriber.send(change.clone()).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<Change>>> {
        // A subscriber list is valid whatever a panicking thread left behind.
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Node {
    /// A subscription to this node's changes from now on: the households each durable
    /// write changed (local or received), and the sync events of a running node.
    pub fn subscribe(&self) -> Subscription {
        self.feed.subscribe()
    }
}

/// Hands a running node's events to the node's subscribers until the node stops (a
/// subscriber too slow for the event queue misses the oldest, as
/// [`RunningNode::events`](crate::net::RunningNode::events) does).
pub(crate) async fn forward_sync_events(
    node: std::sync::Weak<Node>,
    mut events: tokio::sync::broadcast::Receiver<NodeEvent>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => match node.upgrade() {
                Some(node) => node.feed.publish(Change::Sync(Box::new(event))),
                None => return,
            },
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    }
}
