//! How a node syncs: what it shares, how long a session may take, how many run at
//! once, and how soon it tries again.

use std::time::Duration;

use kafo_model::Scope;
use kafo_net::{LinkLimits, NetworkConfig};

/// The scopes a node offers to and accepts from every peer (the protocol shares the
/// intersection of both sides' offers and accepts, see [`kafo_proto::default_share`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scopes {
    /// Every caseload (`area/chw`) the store holds when a session starts: a CHW's
    /// phone shares exactly its own caseload with anyone who accepts it, and takes
    /// back only newer versions of it. An empty store shares nothing.
    #[default]
    Held,
    /// Exactly these scopes, held or not: a supervisor's laptop gathering its
    /// team's area starts from `Only(vec!["sikoro".parse()?])`.
    Only(Vec<Scope>),
}

/// How one session runs, whatever carries it.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// What this device shares.
    pub scopes: Scopes,
    /// The protocol's own bounds (its idle timeout, window, batches).
    pub session: kafo_proto::Limits,
    /// The byte stream's bounds (write stall, pending bytes).
    pub link: LinkLimits,
    /// The most a whole session may take once its stream is open (opening it has the
    /// network's own `open_stream_timeout`); a session still running then is
    /// abandoned (what it applied stays applied: the next one resumes from there).
    pub session_timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            scopes: Scopes::Held,
            session: kafo_proto::Limits::default(),
            link: LinkLimits::default(),
            session_timeout: Duration::from_secs(600),
        }
    }
}

/// How a running node ([`Node::serve`](crate::Node::serve)) behaves.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen, mDNS, connection limits. The default suits a phone (24
    /// inbound connections); a laptop expecting a whole team at once raises
    /// `limits.max_established` and `limits.max_established_incoming` (as `kafo serve
    /// --max-connections` does).
    pub network: NetworkConfig,
    /// How each session runs.
    pub sync: SyncOptions,
    /// Sessions running at once, both directions together. Peers beyond it wait in
    /// one first-come, first-served queue.
    pub max_sessions: usize,
    /// Sessions opened by peers that may wait for a free slot; beyond it a new one is
    /// dropped (the peer retries after its backoff).
    pub max_waiting_inbound: usize,
    /// How long a session opened by a peer may wait for a slot before it is dropped
    /// (below the peer's idle timeout, which runs while it waits for our hello).
    pub inbound_wait: Duration,
    /// How long after a change the node waits for more before syncing it: a burst of
    /// edits or received documents leads to one session per peer, not one each.
    pub debounce: Duration,
    /// How long the node waits before opening a session to a peer that just connected,
    /// or that it discovered when the peer's id sorts first: the peer likely opens
    /// one itself, and one session serves both sides.
    pub first_contact_grace: Duration,
    /// Retry delays after a failed session.
    pub backoff: Backoff,
    /// A peer in sync is synced again after this long even without a change; `None`
    /// syncs only on changes.
    pub resync_interval: Option<Duration>,
    /// How long a peer that broke the protocol (or claimed another device's identity)
    /// is refused after being disconnected.
    pub ban: Duration,
    /// Events buffered per subscriber of [`RunningNode::events`](crate::net::RunningNode::events).
    pub event_queue: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            network: NetworkConfig::default(),
            sync: SyncOptions::default(),
            max_sessions: 4,
            max_waiting_inbound: 64,
            inbound_wait: Duration::from_secs(20),
            debounce: Duration::from_millis(500),
            first_contact_grace: Duration::from_secs(1),
            backoff: Backoff::default(),
            resync_interval: Some(Duration::from_secs(300)),
            ban: Duration::from_secs(600),
            event_queue: 256,
        }
    }
}

/// Exponential retry delays after failed sessions with one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure; doubled after each further one.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// After this many failures in a row the node stops trying until the peer is
    /// discovered, connects, or is dialed again.
    pub give_up_after: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            give_up_after: 8,
        }
    }
}

impl Backoff {
    /// The delay after `failures` failures in a row (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.initial
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(self.initial.min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            give_up_after: 5,
        };
        let delays: Vec<u64> = (1..=6).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff.delay(u32::MAX).as_secs(), 10);
    }
}
