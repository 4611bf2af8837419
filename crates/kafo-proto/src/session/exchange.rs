//! Moving documents: fetching what the peer lacks, batching and compressing it within
//! the peer's window, and applying what arrives before acknowledging it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync;
use kafo_model::{HouseholdId, Scope};
use tracing::debug;

use super::reconcile::Handoff;
use super::{Limits, Stats};
use crate::report::{PeerFault, SessionError};
use crate::storage::{
    ApplyOutcome, ApplyPayload, ChangesSince, RequestId, StorageAnswer, StorageWork, SyncOutcome,
};
use crate::tree::{Level, NodeId, bucket_hash};
use crate::wire::{
    EntryKind, Frame, MAX_ENTRY, Payload, PayloadEntry, compress, decode_entries, decompress,
    encode_entries, varint_len,
};

/// Below this many queued documents, enumerate more of a pushed range.
const TASKS_LOW: usize = 64;

/// Why an exchange storage request was made.
#[derive(Debug)]
pub(crate) enum Job {
    PushCaseloads { scope: u32 },
    PushItems { node: NodeId },
    Changes { id: HouseholdId },
    Whole { id: HouseholdId },
    SyncStart { id: HouseholdId },
    Apply { batch: u64, id: HouseholdId },
    SyncIn { batch: u64, id: HouseholdId },
}

impl Job {
    /// Whether the reply may produce an outgoing entry soon.
    pub(crate) fn is_fetch(&self) -> bool {
        !matches!(self, Self::Apply { .. } | Self::SyncIn { .. })
    }
}

/// What this side knows about a document it diffed.
#[derive(Debug)]
enum Plan {
    /// It knew all the peer's heads and sent the changes: the peer's sync messages for
    /// it (sent before the changes arrived) need no answer.
    Ahead,
    /// Under automerge sync; the state is out while a step is in the store.
    Syncing(Option<Box<sync::State>>),
}

#[derive(Debug)]
struct InboundBatch {
    remaining: usize,
    raw_len: u64,
}

#[derive(Debug)]
pub(crate) struct Exchange {
    batch_target: usize,
    peer_window: usize,
    domain: Option<Vec<Scope>>,
    push_nodes: VecDeque<NodeId>,
    enumerating: bool,
    tasks: VecDeque<Handoff>,
    sync_starts: VecDeque<HouseholdId>,
    held: VecDeque<PayloadEntry>,
    held_bytes: usize,
    next_batch: u64,
    unacked: BTreeMap<u64, usize>,
    unacked_bytes: usize,
    plans: BTreeMap<HouseholdId, Plan>,
    busy: BTreeSet<HouseholdId>,
    next_inbound: u64,
    inbound: VecDeque<(u64, PayloadEntry)>,
    inbound_batches: BTreeMap<u64, InboundBatch>,
    inbound_outstanding: u64,
    acks: Vec<u64>,
}

impl Exchange {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            batch_target: limits.batch_target.clamp(1024, MAX_ENTRY),
            peer_window: super::MIN_WINDOW as usize,
            domain: None,
            push_nodes: VecDeque::new(),
            enumerating: false,
            tasks: VecDeque::new(),
            sync_starts: VecDeque::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            next_batch: 0,
            unacked: BTreeMap::new(),
            unacked_bytes: 0,
            plans: BTreeMap::new(),
            busy: BTreeSet::new(),
            next_inbound: 0,
            inbound: VecDeque::new(),
            inbound_batches: BTreeMap::new(),
            inbound_outstanding: 0,
            acks: Vec::new(),
        }
    }

    pub(crate) fn set_peer_window(&mut self, window: u32) {
        self.peer_window = window as usize;
    }

    pub(crate) fn set_domain(&mut self, domain: &[Scope]) {
        if self.domain.is_none() {
            self.domain = Some(domain.to_vec());
        }
    }

    pub(crate) fn accept(&mut self, handoff: Handoff) {
        match handoff {
            Handoff::Push(node) => self.push_nodes.push_back(node),
            task => self.tasks.push_back(task),
        }
    }

    /// Storage work to issue now, at most `slots` requests.
    pub(crate) fn pump(&mut self, slots: usize) -> Vec<(StorageWork, Job)> {
        let mut out = Vec::new();
        let Some(domain) = self.domain.clone() else {
            return out;
        };
        // Our own sync starts first: a peer message for the same document waits on them.
        while out.len() < slots {
            let Some(id) = self.sync_starts.pop_front() else {
                break;
            };
            out.push((
                StorageWork::SyncStep {
                    id: id.clone(),
                    state: Box::default(),
                    message: None,
                    within: domain.clone(),
                },
                Job::SyncStart { id },
            ));
        }
        // Then what the peer sent: it frees the peer's window.
        while out.len() < slots {
            let Some((_, entry)) = self.inbound.front() else {
                break;
            };
            if self.busy.contains(&entry.id) {
                break;
            }
            let Some((batch, entry)) = self.inbound.pop_front() else {
                break;
            };
            let id = entry.id;
            let payload = match entry.kind {
                EntryKind::Changes => ApplyPayload::Changes(entry.data),
                EntryKind::Document => ApplyPayload::Document(entry.data),
                EntryKind::Sync => {
                    let state = match self.plans.get_mut(&id) {
                        Some(Plan::Ahead) => {
                            debug!("sync message for a document already sent as changes");
                            self.complete_inbound(batch);
                            continue;
                        }
                        Some(Plan::Syncing(state)) => state.take().unwrap_or_default(),
                        None => {
                            self.plans.insert(id.clone(), Plan::Syncing(None));
                            Box::default()
                        }
                    };
                    self.busy.insert(id.clone());
                    out.push((
                        StorageWork::SyncStep {
                            id: id.clone(),
                            state,
                            message: Some(entry.data),
                            within: domain.clone(),
                        },
                        Job::SyncIn { batch, id },
                    ));
                    continue;
                }
            };
            self.busy.insert(id.clone());
            out.push((
                StorageWork::Apply {
                    id: id.clone(),
                    payload,
                    within: domain.clone(),
                },
                Job::Apply { batch, id },
            ));
        }
        // Enumerate pushed ranges while few documents are queued.
        while out.len() < slots && self.tasks.len() < TASKS_LOW && !self.enumerating {
            let Some(node) = self.push_nodes.pop_front() else {
                break;
            };
            match node.level(&domain) {
                Some(Level::Root) => {
                    self.push_nodes
                        .extend((0..domain.len() as u32).map(NodeId::scope));
                }
                Some(Level::Area) => {
                    let NodeId::Range { scope, .. } = node else {
                        continue;
                    };
                    let Some(area) = domain.get(scope as usize).map(|s| s.area.clone()) else {
                        continue;
                    };
                    self.enumerating = true;
                    out.push((
                        StorageWork::Caseloads { area },
                        Job::PushCaseloads { scope },
                    ));
                }
                Some(Level::Caseload(caseload)) => {
                    self.enumerating = true;
                    out.push((StorageWork::Items { caseload }, Job::PushItems { node }));
                }
                None => {}
            }
        }
        // Fetch what the peer lacks, within its window.
        while out.len() < slots && self.held_bytes + self.unacked_bytes < self.peer_window {
            let Some(task) = self.tasks.front() else {
                break;
            };
            let id = match task {
                Handoff::Diff { id, .. } | Handoff::Whole { id } => id.clone(),
                Handoff::Push(_) => break,
            };
            if self.busy.contains(&id) {
                break;
            }
            self.busy.insert(id.clone());
            match self.tasks.pop_front() {
                Some(Handoff::Diff { id, their_heads }) => out.push((
                    StorageWork::ChangesSince {
                        id: id.clone(),
                        their_heads,
                    },
                    Job::Changes { id },
                )),
                Some(Handoff::Whole { id }) => {
                    out.push((
                        StorageWork::WholeDocument { id: id.clone() },
                        Job::Whole { id },
                    ));
                }
                _ => {}
            }
        }
        out
    }

    /// A storage reply for exchange work.
    pub(crate) fn on_reply(
        &mut self,
        request: RequestId,
        job: Job,
        answer: StorageAnswer,
        stats: &mut Stats,
    ) -> Result<(), SessionError> {
        let unexpected = || SessionError::UnexpectedStorageReply { id: request };
        match (job, answer) {
            (Job::PushCaseloads { scope }, StorageAnswer::Caseloads(caseloads)) => {
                self.enumerating = false;
                for caseload in caseloads {
                    self.push_nodes.push_back(NodeId::Range {
                        scope,
                        chw: Some(caseload.chw),
                        prefix: crate::tree::Prefix::ROOT,
                    });
                }
            }
            (Job::PushItems { node }, StorageAnswer::Items(items)) => {
                self.enumerating = false;
                let prefix = node.prefix();
                for item in items {
                    if prefix.contains(bucket_hash(&item.id)) {
                        self.tasks.push_back(Handoff::Whole { id: item.id });
                    }
                }
            }
            (Job::Changes { id }, StorageAnswer::Changes(changes)) => match changes {
                ChangesSince::Changes { bytes, count } => {
                    self.busy.remove(&id);
                    self.plans.insert(id.clone(), Plan::Ahead);
                    if !bytes.is_empty() {
                        stats.docs_sent += 1;
                        stats.changes_sent += count;
                        self.hold(id, EntryKind::Changes, bytes)?;
                    }
                }
                ChangesSince::UnknownHeads => {
                    // Still busy: the sync start must run before any peer message for it.
                    debug!("peer heads unknown: automerge sync");
                    self.plans.insert(id.clone(), Plan::Syncing(None));
                    self.sync_starts.push_back(id);
                }
                ChangesSince::Missing => {
                    self.busy.remove(&id);
                }
            },
            (Job::Whole { id }, StorageAnswer::Document(document)) => {
                self.busy.remove(&id);
                if let Some(bytes) = document {
                    stats.docs_sent += 1;
                    self.hold(id, EntryKind::Document, bytes)?;
                }
            }
            (Job::SyncStart { id }, StorageAnswer::Synced(outcome)) => {
                self.busy.remove(&id);
                match outcome {
                    SyncOutcome::Stepped { state, reply, .. } => {
                        self.plans.insert(id.clone(), Plan::Syncing(Some(state)));
                        if let Some(reply) = reply {
                            self.hold(id, EntryKind::Sync, reply)?;
                        }
                    }
                    SyncOutcome::Skipped => {}
                    SyncOutcome::Rejected(_) => return Err(unexpected()),
                }
            }
            (Job::Apply { batch, id }, StorageAnswer::Applied(outcome)) => {
                self.busy.remove(&id);
                match outcome {
                    ApplyOutcome::Applied { changes_added, .. } => {
                        stats.docs_received += 1;
                        stats.changes_received += changes_added;
                    }
                    ApplyOutcome::Skipped => stats.docs_skipped += 1,
                    ApplyOutcome::Rejected(reason) => {
                        return Err(PeerFault::Rejected { id, reason }.into());
                    }
                }
                self.complete_inbound(batch);
            }
            (Job::SyncIn { batch, id }, StorageAnswer::Synced(outcome)) => {
                self.busy.remove(&id);
                match outcome {
                    SyncOutcome::Stepped {
                        state,
                        reply,
                        changes_added,
                    } => {
                        self.plans.insert(id.clone(), Plan::Syncing(Some(state)));
                        if changes_added > 0 {
                            stats.docs_received += 1;
                            stats.changes_received += changes_added;
                        }
                        if let Some(reply) = reply {
                            self.hold(id, EntryKind::Sync, reply)?;
                        }
                    }
                    SyncOutcome::Skipped => stats.docs_skipped += 1,
                    SyncOutcome::Rejected(reason) => {
                        return Err(PeerFault::Rejected { id, reason }.into());
                    }
                }
                self.complete_inbound(batch);
            }
            _ => return Err(unexpected()),
        }
        Ok(())
    }

    fn hold(
        &mut self,
        id: HouseholdId,
        kind: EntryKind,
        data: Vec<u8>,
    ) -> Result<(), SessionError> {
        if data.len() > MAX_ENTRY {
            return Err(SessionError::DocumentTooLarge {
                id,
                len: data.len(),
                max: MAX_ENTRY,
            });
        }
        let entry = PayloadEntry { id, kind, data };
        self.held_bytes += entry.encoded_len();
        self.held.push_back(entry);
        Ok(())
    }

    /// Payload frames to send: full batches, or what is held once no fetch is in flight,
    /// as far as the peer's window allows.
    pub(crate) fn flush_batches(&mut self, fetching: bool) -> Result<Vec<Frame>, SessionError> {
        let mut frames = Vec::new();
        while !self.held.is_empty() {
            let mut take = 0;
            let mut entries_len = 0;
            for entry in &self.held {
                let len = entry.encoded_len();
                if take > 0 && entries_len + len > self.batch_target {
                    break;
                }
                entries_len += len;
                take += 1;
            }
            let full = take < self.held.len() || entries_len >= self.batch_target;
            if !full && (fetching || !self.sync_starts.is_empty()) {
                break;
            }
            let raw_len = varint_len(take as u64) + entries_len;
            if self.unacked_bytes + raw_len > self.peer_window {
                break;
            }
            let entries: Vec<PayloadEntry> = self.held.drain(..take).collect();
            self.held_bytes -= entries_len;
            let raw = encode_entries(&entries);
            let compressed = compress(&raw);
            debug!(
                batch = self.next_batch,
                entries = take,
                raw = raw.len(),
                compressed = compressed.len(),
                "batch"
            );
            frames.push(Frame::Payload(Payload {
                batch: self.next_batch,
                raw_len: raw.len() as u64,
                compressed,
            }));
            self.unacked.insert(self.next_batch, raw.len());
            self.unacked_bytes += raw.len();
            self.next_batch += 1;
        }
        Ok(frames)
    }

    /// A payload frame from the peer: checked, inflated and queued for the store.
    pub(crate) fn receive_payload(
        &mut self,
        payload: Payload,
        window: u32,
    ) -> Result<(), SessionError> {
        if payload.batch != self.next_inbound {
            return Err(PeerFault::BatchOutOfOrder {
                expected: self.next_inbound,
                found: payload.batch,
            }
            .into());
        }
        let available = u64::from(window).saturating_sub(self.inbound_outstanding);
        if payload.raw_len == 0 || payload.raw_len > available {
            return Err(PeerFault::WindowExceeded {
                raw_len: payload.raw_len,
                outstanding: self.inbound_outstanding,
                window,
            }
            .into());
        }
        let raw =
            decompress(&payload.compressed, payload.raw_len as usize).map_err(PeerFault::from)?;
        let entries = decode_entries(&raw).map_err(PeerFault::from)?;
        self.next_inbound += 1;
        if entries.is_empty() {
            self.acks.push(payload.batch);
            return Ok(());
        }
        self.inbound_outstanding += payload.raw_len;
        self.inbound_batches.insert(
            payload.batch,
            InboundBatch {
                remaining: entries.len(),
                raw_len: payload.raw_len,
            },
        );
        self.inbound
            .extend(entries.into_iter().map(|entry| (payload.batch, entry)));
        Ok(())
    }

    fn complete_inbound(&mut self, batch: u64) {
        let Some(state) = self.inbound_batches.get_mut(&batch) else {
            return;
        };
        state.remaining -= 1;
        if state.remaining == 0 {
            self.inbound_outstanding -= state.raw_len;
            self.inbound_batches.remove(&batch);
            self.acks.push(batch);
        }
    }

    pub(crate) fn receive_ack(&mut self, batch: u64) -> Result<(), SessionError> {
        let Some(len) = self.unacked.remove(&batch) else {
            return Err(PeerFault::UnknownBatch { batch }.into());
        };
        self.unacked_bytes -= len;
        Ok(())
    }

    pub(crate) fn take_acks(&mut self) -> Vec<Frame> {
        self.acks
            .drain(..)
            .map(|batch| Frame::Ack { batch })
            .collect()
    }

    pub(crate) fn unacked_batches(&self) -> usize {
        self.unacked.len()
    }

    /// Nothing queued, held or being applied.
    pub(crate) fn is_idle(&self) -> bool {
        self.push_nodes.is_empty()
            && !self.enumerating
            && self.tasks.is_empty()
            && self.sync_starts.is_empty()
            && self.held.is_empty()
            && self.inbound.is_empty()
            && self.inbound_batches.is_empty()
            && self.acks.is_empty()
    }
}
