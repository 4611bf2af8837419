//! Whom to sync with, when, and in what order: the running node's policy, as a plain
//! state machine (time passed in) so that it is tested without a network.
//!
//! Each peer has a slot: whether it is a sync partner (discovered, connected or
//! dialed, and not given up on), the change count it is known to hold, its backoff,
//! and the sessions running or waiting with it. A partner is *due* when it may lack
//! local changes (its known count is behind the node's, and no change came for the
//! debounce delay), when it was never synced, or when its resync interval passed;
//! and it is not in backoff, banned, or already in a session.
//!
//! Due peers and sessions opened by peers wait in one first-come, first-served queue,
//! from which at most `max_sessions` run at once: thirty phones at a meetup are
//! served in turn, and none waits behind a peer that keeps changing.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use kafo_net::PeerId;

use crate::net::config::{Backoff, ServeConfig};
use crate::net::report::Direction;

/// The timing and bounds the schedule follows (from [`ServeConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) max_sessions: usize,
    pub(crate) max_waiting_inbound: usize,
    pub(crate) inbound_wait: Duration,
    pub(crate) debounce: Duration,
    pub(crate) first_contact_grace: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) resync_interval: Option<Duration>,
    pub(crate) ban: Duration,
}

impl Policy {
    pub(crate) fn of(config: &ServeConfig) -> Self {
        Self {
            max_sessions: config.max_sessions,
            max_waiting_inbound: config.max_waiting_inbound,
            inbound_wait: config.inbound_wait,
            debounce: config.debounce,
            first_contact_grace: config.first_contact_grace,
            backoff: config.backoff,
            resync_interval: config.resync_interval,
            ban: config.ban,
        }
    }
}

/// How a peer showed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sighting {
    /// mDNS found it.
    Discovered,
    /// A connection to it was established (it may have dialed us).
    Connected,
    /// The host asked to dial it.
    Dialed,
}

/// How a session ended, for the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// In sync: the peer holds every change up to this count.
    InSync { synced_version: u64 },
    /// Failed (unreachable, link lost, timed out, refused by the peer).
    Failed,
    /// The peer broke the protocol or lied about its identity.
    PeerFault,
}

/// A session to run.
#[derive(Debug)]
pub(crate) enum Job<T> {
    /// Open a session to the peer.
    Outbound(PeerId),
    /// Answer the session the peer opened (`T` is its stream).
    Inbound(PeerId, T),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outbound {
    Idle,
    Queued,
    Running,
}

#[derive(Debug)]
struct Slot {
    partner: bool,
    synced: Option<u64>,
    synced_at: Option<Instant>,
    not_before: Option<Instant>,
    failures: u32,
    banned_until: Option<Instant>,
    outbound: Outbound,
    /// Inbound sessions waiting or running.
    inbound: u32,
}

impl Slot {
    fn new() -> Self {
        Self {
            partner: false,
            synced: None,
            synced_at: None,
            not_before: None,
            failures: 0,
            banned_until: None,
            outbound: Outbound::Idle,
            inbound: 0,
        }
    }

    fn banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|until| now < until)
    }
}

/// The schedule of one running node.
#[derive(Debug)]
pub(crate) struct Schedule<T> {
    local: PeerId,
    policy: Policy,
    version: u64,
    changed_at: Option<Instant>,
    slots: BTreeMap<PeerId, Slot>,
    queue: VecDeque<(Job<T>, Instant)>,
    running: usize,
    waiting_inbound: usize,
}

impl<T> Schedule<T> {
    pub(crate) fn new(local: PeerId, policy: Policy, version: u64) -> Self {
        Self {
            local,
            policy,
            version,
            changed_at: None,
            slots: BTreeMap::new(),
            queue: VecDeque::new(),
            running: 0,
            waiting_inbound: 0,
        }
    }

    /// The node's change count moved to `version`.
    pub(crate) fn local_change(&mut self, version: u64, now: Instant) {
        if version != self.version {
            self.version = version;
            self.changed_at = Some(now);
        }
    }

    /// A peer showed up; it becomes a sync partner unless it is banned.
    pub(crate) fn seen(&mut self, peer: PeerId, how: Sighting, now: Instant) {
        let grace = match how {
            Sighting::Dialed => Duration::ZERO,
            // The side whose id sorts first opens the session; the other waits.
            Sighting::Discovered if self.local < peer => Duration::ZERO,
            Sighting::Discovered | Sighting::Connected => self.policy.first_contact_grace,
        };
        let slot = self.slots.entry(peer).or_insert_with(Slot::new);
        if slot.banned(now) {
            return;
        }
        if how == Sighting::Dialed {
            slot.failures = 0;
            slot.not_before = None;
            slot.synced = None;
        } else if !slot.partner {
            let at = now + grace;
            slot.not_before = Some(slot.not_before.map_or(at, |t| t.max(at)));
        }
        slot.partner = true;
    }

    /// A peer's mDNS announcements expired: it left. It is synced from scratch (one
    /// round trip when nothing changed) if it comes back.
    pub(crate) fn left(&mut self, peer: PeerId) {
        if let Some(slot) = self.slots.get_mut(&peer) {
            slot.partner = false;
            slot.synced = None;
        }
    }

    /// Whether sessions with `peer` are refused now.
    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.slots.get(peer).is_some_and(|slot| slot.banned(now))
    }

    /// A peer opened a session. Queued unless the peer is banned or too many wait;
    /// then the stream is handed back to be dropped.
    pub(crate) fn inbound(&mut self, peer: PeerId, stream: T, now: Instant) -> Result<(), T> {
        if self.is_banned(&peer, now) || self.waiting_inbound >= self.policy.max_waiting_inbound {
            return Err(stream);
        }
        let slot = self.slots.entry(peer).or_insert_with(Slot::new);
        slot.inbound += 1;
        if slot.outbound == Outbound::Queued {
            // Its session serves the queued one's purpose.
            slot.outbound = Outbound::Idle;
            self.queue
                .retain(|(job, _)| !matches!(job, Job::Outbound(queued) if *queued == peer));
        }
        self.waiting_inbound += 1;
        self.queue.push_back((Job::Inbound(peer, stream), now));
        Ok(())
    }

    /// The next session to start now, if a slot is free: due peers join the queue's
    /// end first. Inbound sessions that waited too long are dropped on the way.
    pub(crate) fn next_job(&mut self, now: Instant) -> Option<Job<T>> {
        self.enqueue_due(now);
        while self.running < self.policy.max_sessions {
            let (job, since) = self.queue.pop_front()?;
            match job {
                Job::Outbound(peer) => {
                    let slot = self.slots.entry(peer).or_insert_with(Slot::new);
                    slot.outbound = Outbound::Running;
                    self.running += 1;
                    return Some(Job::Outbound(peer));
                }
                Job::Inbound(peer, stream) => {
                    self.waiting_inbound = self.waiting_inbound.saturating_sub(1);
                    if now.saturating_duration_since(since) > self.policy.inbound_wait
                        || self.is_banned(&peer, now)
                    {
                        if let Some(slot) = self.slots.get_mut(&peer) {
                            slot.inbound = slot.inbound.saturating_sub(1);
                        }
                        drop(stream);
                        continue;
                    }
                    self.running += 1;
                    return Some(Job::Inbound(peer, stream));
                }
            }
        }
        None
    }

    fn enqueue_due(&mut self, now: Instant) {
        let (version, changed_at, policy) = (self.version, self.changed_at, &self.policy);
        let settled = changed_at.is_none_or(|at| at + policy.debounce <= now);
        for (peer, slot) in &mut self.slots {
            if !slot.partner
                || slot.outbound != Outbound::Idle
                || slot.inbound > 0
                || slot.banned(now)
                || slot.not_before.is_some_and(|at| now < at)
            {
                continue;
            }
            let due = match slot.synced {
                None => true,
                Some(synced) => {
                    (synced < version && settled)
                        || policy.resync_interval.is_some_and(|interval| {
                            slot.synced_at.is_some_and(|at| at + interval <= now)
                        })
                }
            };
            if due {
                slot.outbound = Outbound::Queued;
                self.queue.push_back((Job::Outbound(*peer), now));
            }
        }
    }

    /// A session with `peer` ended.
    pub(crate) fn finished(
        &mut self,
        peer: PeerId,
        direction: Direction,
        ended: Ended,
        now: Instant,
    ) {
        self.running = self.running.saturating_sub(1);
        let slot = self.slots.entry(peer).or_insert_with(Slot::new);
        match direction {
            Direction::Outbound => slot.outbound = Outbound::Idle,
            Direction::Inbound => slot.inbound = slot.inbound.saturating_sub(1),
        }
        match ended {
            Ended::InSync { synced_version } => {
                slot.synced = Some(
                    slot.synced
                        .map_or(synced_version, |s| s.max(synced_version)),
                );
                slot.synced_at = Some(now);
                slot.failures = 0;
                slot.not_before = None;
            }
            // A failed inbound session is the peer's to retry.
            Ended::Failed if direction == Direction::Inbound => {}
            Ended::Failed => {
                slot.failures = slot.failures.saturating_add(1);
                slot.not_before = Some(now + self.policy.backoff.delay(slot.failures));
                if slot.failures >= self.policy.backoff.give_up_after {
                    slot.partner = false;
                }
            }
            Ended::PeerFault => {
                slot.banned_until = Some(now + self.policy.ban);
                slot.partner = false;
                slot.synced = None;
                if slot.outbound == Outbound::Queued {
                    slot.outbound = Outbound::Idle;
                }
                let dropped_inbound = self
                    .queue
                    .iter()
                    .filter(|(job, _)| matches!(job, Job::Inbound(from, _) if *from == peer))
                    .count();
                slot.inbound = slot
                    .inbound
                    .saturating_sub(u32::try_from(dropped_inbound).unwrap_or(u32::MAX));
                self.waiting_inbound = self.waiting_inbound.saturating_sub(dropped_inbound);
                self.queue.retain(|(job, _)| match job {
                    Job::Outbound(queued) | Job::Inbound(queued, _) => *queued != peer,
                });
            }
        }
    }

    /// When something may become due without any input: the end of a backoff, a
    /// grace, a debounce or a resync interval. Only instants after `now`.
    pub(crate) fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let mut candidates = Vec::new();
        if let Some(at) = self.changed_at {
            candidates.push(at + self.policy.debounce);
        }
        for slot in self.slots.values().filter(|slot| slot.partner) {
            candidates.extend(slot.not_before);
            if let (Some(interval), Some(at)) = (self.policy.resync_interval, slot.synced_at) {
                candidates.push(at + interval);
            }
        }
        candidates.into_iter().filter(|at| *at > now).min()
    }

    /// Sessions running now.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// Empties the queue (at shutdown); the inbound streams in it are dropped.
    pub(crate) fn clear_queue(&mut self) {
        self.queue.clear();
        self.waiting_inbound = 0;
        for slot in self.slots.values_mut() {
            if slot.outbound == Outbound::Queued {
                slot.outbound = Outbound::Idle;
            }
        }
    }
}

#[cfg(test)]
mod tests;
