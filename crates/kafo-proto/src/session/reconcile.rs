//! Range reconciliation over the tree of `crate::tree`: both sides expand every range
//! they disagree on at the same time, so each level of the tree costs one flight.

use std::collections::{BTreeMap, BTreeSet};

use kafo_model::{HouseholdId, HouseholdScope, Scope};
use tracing::debug;

use crate::report::{Outcome, PeerFault, SessionError};
use crate::storage::{CaseloadSummary, RangeSummary, RequestId, StorageAnswer, StorageWork};
use crate::tree::{
    HeadPrefix, ItemEntry, ItemTag, Level, Mode, NodeId, Prefix, Salt, Summary, bucket_hash,
    bucket_sums, decide, intersect, normalize,
};
use crate::wire::{Begin, Frame, MAX_FRAME_LEN, NodeBody, NodeMessage, WireItem};

/// Local data a range comparison needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// Summaries of the domain's scopes.
    Domain,
    /// Caseload summaries of the area scope with this index.
    Caseloads(u32),
    /// Items of one caseload.
    Items(HouseholdScope),
}

/// Work reconciliation hands to the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handoff {
    /// The peer has nothing in this range: send every document whole.
    Push(NodeId),
    /// Both hold the document, differently; the peer reported these heads.
    Diff {
        id: HouseholdId,
        their_heads: Vec<HeadPrefix>,
    },
    /// The peer lacks the document.
    Whole { id: HouseholdId },
}

#[derive(Debug)]
enum NodeState {
    Expand {
        sent: bool,
        theirs: Option<NodeBody>,
    },
    Leaf {
        tags_sent: bool,
        their_tags: Option<BTreeSet<ItemTag>>,
        unmatched: Option<Vec<ItemEntry>>,
        their_items: Option<Vec<WireItem>>,
    },
}

#[derive(Debug)]
pub(crate) struct Reconciler {
    share: Vec<Scope>,
    salt: Salt,
    max_open: usize,
    my_root: Option<Vec<RangeSummary>>,
    peer_begin: Option<Begin>,
    domain: Option<Vec<Scope>>,
    outcome: Option<Outcome>,
    domain_summaries: Option<Vec<RangeSummary>>,
    caseloads: BTreeMap<u32, Vec<CaseloadSummary>>,
    items: BTreeMap<HouseholdScope, Vec<ItemEntry>>,
    requested: BTreeSet<Source>,
    wanted: Vec<Source>,
    in_flight: usize,
    nodes: BTreeMap<NodeId, NodeState>,
    out: Vec<NodeMessage>,
    handoffs: Vec<Handoff>,
}

impl Reconciler {
    pub(crate) fn new(share: Vec<Scope>, salt: Salt, max_open: usize) -> Self {
        Self {
            share,
            salt,
            max_open,
            my_root: None,
            peer_begin: None,
            domain: None,
            outcome: None,
            domain_summaries: None,
            caseloads: BTreeMap::new(),
            items: BTreeMap::new(),
            requested: BTreeSet::new(),
            wanted: Vec::new(),
            in_flight: 0,
            nodes: BTreeMap::new(),
            out: Vec::new(),
            handoffs: Vec::new(),
        }
    }

    pub(crate) fn share(&self) -> &[Scope] {
        &self.share
    }

    pub(crate) fn has_domain(&self) -> bool {
        self.domain.is_some()
    }

    pub(crate) fn domain_if_known(&self) -> Option<&[Scope]> {
        self.domain.as_deref()
    }

    fn domain(&self) -> &[Scope] {
        self.domain.as_deref().unwrap_or_default()
    }

    /// Our summaries of each shared scope arrived: returns our `Begin`.
    pub(crate) fn set_my_root(
        &mut self,
        id: RequestId,
        summaries: Vec<RangeSummary>,
    ) -> Result<Begin, SessionError> {
        if summaries.len() != self.share.len() || self.my_root.is_some() {
            return Err(SessionError::UnexpectedStorageReply { id });
        }
        let total = total(&summaries);
        self.my_root = Some(summaries);
        let begin = Begin {
            share: self.share.clone(),
            summary: self.summary(&total),
        };
        self.start()?;
        Ok(begin)
    }

    pub(crate) fn set_peer_begin(&mut self, begin: Begin) -> Result<(), SessionError> {
        if self.peer_begin.is_some() {
            return Err(PeerFault::UnexpectedFrame {
                frame: "begin",
                state: "reconciling",
            }
            .into());
        }
        self.peer_begin = Some(begin);
        self.start()
    }

    /// Once both `Begin`s are known: the domain, and the first ranges to compare.
    fn start(&mut self) -> Result<(), SessionError> {
        let (Some(my_root), Some(peer)) = (&self.my_root, &self.peer_begin) else {
            return Ok(());
        };
        let theirs = normalize(&peer.share);
        let domain = intersect(&self.share, &theirs);
        let same_share = theirs == self.share;
        let mine = total(my_root);
        let their_summary = peer.summary;
        self.domain = Some(domain.clone());
        if domain.is_empty() {
            debug!("nothing shared");
            self.outcome = Some(Outcome::InSync);
            return Ok(());
        }
        if !same_share {
            debug!(
                scopes = domain.len(),
                "shares differ: comparing the common scopes"
            );
            return self.open(NodeId::Root, 0, 0, true);
        }
        self.domain_summaries = Some(my_root.clone());
        if self.summary(&mine) == their_summary {
            debug!(items = mine.count, "in sync at begin");
            self.outcome = Some(Outcome::InSync);
            return Ok(());
        }
        let node = if domain.len() == 1 {
            NodeId::scope(0)
        } else {
            NodeId::Root
        };
        self.open(node, mine.count, their_summary.count, false)
    }

    fn summary(&self, range: &RangeSummary) -> Summary {
        Summary {
            count: range.count,
            tag: self.salt.tag(&range.fingerprint),
        }
    }

    /// Starts comparing a range both sides now know they disagree on.
    fn open(
        &mut self,
        node: NodeId,
        mine: u64,
        theirs: u64,
        force_expand: bool,
    ) -> Result<(), SessionError> {
        let Some(level) = node.level(self.domain()) else {
            return Err(PeerFault::UnexpectedRange { node }.into());
        };
        let mode = if force_expand {
            Mode::Expand
        } else {
            decide(&level, node.prefix(), mine, theirs)
        };
        debug!(%node, mine, theirs, ?mode, "range differs");
        let source = match (&mode, &level) {
            (Mode::Push, _) => {
                self.handoffs.push(Handoff::Push(node));
                return Ok(());
            }
            (Mode::Pull, _) => return Ok(()),
            (_, Level::Root) => Source::Domain,
            (_, Level::Area) => match &node {
                NodeId::Range { scope, .. } => Source::Caseloads(*scope),
                NodeId::Root => Source::Domain,
            },
            (_, Level::Caseload(caseload)) => Source::Items(caseload.clone()),
        };
        if self.nodes.len() >= self.max_open {
            return Err(PeerFault::TooManyRanges {
                limit: self.max_open,
            }
            .into());
        }
        let state = if mode == Mode::Leaf {
            NodeState::Leaf {
                tags_sent: false,
                their_tags: None,
                unmatched: None,
                their_items: None,
            }
        } else {
            NodeState::Expand {
                sent: false,
                theirs: None,
            }
        };
        self.nodes.insert(node.clone(), state);
        if !self.has_source(&source) && self.requested.insert(source.clone()) {
            self.wanted.push(source);
        }
        self.advance(&node)
    }

    fn has_source(&self, source: &Source) -> bool {
        match source {
            Source::Domain => self.domain_summaries.is_some(),
            Source::Caseloads(scope) => self.caseloads.contains_key(scope),
            Source::Items(caseload) => self.items.contains_key(caseload),
        }
    }

    /// Storage reads to issue, at most `limit`.
    pub(crate) fn take_wanted(&mut self, limit: usize) -> Vec<(StorageWork, Source)> {
        let take = limit.min(self.wanted.len());
        let domain = self.domain().to_vec();
        let mut reads = Vec::with_capacity(take);
        for source in self.wanted.drain(..take) {
            let work = match &source {
                Source::Domain => StorageWork::Summarize {
                    scopes: domain.clone(),
                },
                Source::Caseloads(scope) => match domain.get(*scope as usize) {
                    Some(scope) => StorageWork::Caseloads {
                        area: scope.area.clone(),
                    },
                    // Ranges are checked against the domain when opened.
                    None => continue,
                },
                Source::Items(caseload) => StorageWork::Items {
                    caseload: caseload.clone(),
                },
            };
            reads.push((work, source));
        }
        self.in_flight += reads.len();
        reads
    }

    /// A storage read arrived.
    pub(crate) fn on_source(
        &mut self,
        id: RequestId,
        source: Source,
        answer: StorageAnswer,
    ) -> Result<(), SessionError> {
        self.in_flight = self.in_flight.saturating_sub(1);
        match (source, answer) {
            (Source::Domain, StorageAnswer::Summaries(summaries))
                if summaries.len() == self.domain().len() =>
            {
                self.domain_summaries = Some(summaries);
            }
            (Source::Caseloads(scope), StorageAnswer::Caseloads(mut caseloads)) => {
                caseloads.sort_by(|a, b| a.chw.cmp(&b.chw));
                caseloads.dedup_by(|a, b| a.chw == b.chw);
                self.caseloads.insert(scope, caseloads);
            }
            (Source::Items(caseload), StorageAnswer::Items(items)) => {
                let mut entries: Vec<ItemEntry> = items
                    .into_iter()
                    .map(|item| ItemEntry::new(item.id, item.heads))
                    .collect();
                entries.sort_by(|a, b| a.id.cmp(&b.id));
                self.items.insert(caseload, entries);
            }
            _ => return Err(SessionError::UnexpectedStorageReply { id }),
        }
        let waiting: Vec<NodeId> = self.nodes.keys().cloned().collect();
        for node in waiting {
            self.advance(&node)?;
        }
        Ok(())
    }

    /// A range message from the peer.
    pub(crate) fn receive(&mut self, message: NodeMessage) -> Result<(), SessionError> {
        let NodeMessage { node, body } = message;
        let Some(state) = self.nodes.get_mut(&node) else {
            return Err(PeerFault::UnexpectedRange { node }.into());
        };
        match (state, body) {
            (
                NodeState::Expand {
                    theirs: slot @ None,
                    ..
                },
                body @ (NodeBody::Scopes(_) | NodeBody::Caseloads(_) | NodeBody::Buckets(_)),
            ) => {
                *slot = Some(body);
            }
            (
                NodeState::Leaf {
                    their_tags: slot @ None,
                    ..
                },
                NodeBody::Tags(tags),
            ) => {
                *slot = Some(tags.into_iter().collect());
            }
            (
                NodeState::Leaf {
                    their_tags: Some(_),
                    their_items: slot @ None,
                    ..
                },
                NodeBody::Items(items),
            ) => {
                *slot = Some(items);
            }
            _ => return Err(PeerFault::UnexpectedRange { node }.into()),
        }
        self.advance(&node)
    }

    /// Moves one range as far as the data at hand allows.
    fn advance(&mut self, node: &NodeId) -> Result<(), SessionError> {
        let Some(mut state) = self.nodes.remove(node) else {
            return Ok(());
        };
        let Some(level) = node.level(self.domain()) else {
            return Err(PeerFault::UnexpectedRange { node: node.clone() }.into());
        };
        let done = match &mut state {
            NodeState::Expand { sent, theirs } => {
                if !*sent && let Some(body) = self.my_children(node, &level) {
                    self.out.push(NodeMessage {
                        node: node.clone(),
                        body,
                    });
                    *sent = true;
                }
                match theirs.take() {
                    Some(body) if *sent => {
                        self.resolve(node, &level, body)?;
                        true
                    }
                    body => {
                        *theirs = body;
                        false
                    }
                }
            }
            NodeState::Leaf {
                tags_sent,
                their_tags,
                unmatched,
                their_items,
            } => {
                let mine = self.my_items(node, &level);
                if let Some(mine) = &mine {
                    if !*tags_sent {
                        let tags = mine
                            .iter()
                            .map(|item| self.salt.item_tag(&item.fingerprint))
                            .collect();
                        self.out.push(NodeMessage {
                            node: node.clone(),
                            body: NodeBody::Tags(tags),
                        });
                        *tags_sent = true;
                    }
                    if unmatched.is_none()
                        && let Some(theirs) = their_tags
                    {
                        let mut differ = Vec::new();
                        for item in mine {
                            if !theirs.contains(&self.salt.item_tag(&item.fingerprint)) {
                                differ.push(item.clone());
                            }
                        }
                        let items = differ
                            .iter()
                            .map(|item| WireItem {
                                id: item.id.clone(),
                                heads: item.heads.iter().map(HeadPrefix::of).collect(),
                            })
                            .collect();
                        self.out.push(NodeMessage {
                            node: node.clone(),
                            body: NodeBody::Items(items),
                        });
                        *unmatched = Some(differ);
                    }
                }
                match (unmatched.as_ref(), their_items.as_ref()) {
                    (Some(mine), Some(theirs)) => {
                        self.plan(node, mine, theirs)?;
                        true
                    }
                    _ => false,
                }
            }
        };
        if !done {
            self.nodes.insert(node.clone(), state);
        }
        Ok(())
    }

    fn my_children(&self, node: &NodeId, level: &Level) -> Option<NodeBody> {
        match level {
            Level::Root => {
                let summaries = self.domain_summaries.as_ref()?;
                Some(NodeBody::Scopes(
                    summaries.iter().map(|s| self.summary(s)).collect(),
                ))
            }
            Level::Area => {
                let NodeId::Range { scope, .. } = node else {
                    return None;
                };
                let caseloads = self.caseloads.get(scope)?;
                Some(NodeBody::Caseloads(
                    caseloads
                        .iter()
                        .map(|c| (c.chw.clone(), self.summary(&c.summary)))
                        .collect(),
                ))
            }
            Level::Caseload(caseload) => {
                let items = self.items.get(caseload)?;
                let sums = bucket_sums(items, node.prefix());
                let mut buckets = [None; crate::tree::FANOUT];
                for (slot, (count, fingerprint)) in buckets.iter_mut().zip(sums) {
                    if count > 0 {
                        *slot = Some(self.summary(&RangeSummary { count, fingerprint }));
                    }
                }
                Some(NodeBody::Buckets(Box::new(buckets)))
            }
        }
    }

    fn my_items(&self, node: &NodeId, level: &Level) -> Option<Vec<ItemEntry>> {
        let Level::Caseload(caseload) = level else {
            return None;
        };
        let prefix = node.prefix();
        let items = self.items.get(caseload)?;
        Some(
            items
                .iter()
                .filter(|item| prefix.contains(item.bucket))
                .cloned()
                .collect(),
        )
    }

    /// Both children lists are in: open every child that differs.
    fn resolve(
        &mut self,
        node: &NodeId,
        level: &Level,
        theirs: NodeBody,
    ) -> Result<(), SessionError> {
        let wrong = || SessionError::from(PeerFault::WrongRangeBody { node: node.clone() });
        match (level, theirs) {
            (Level::Root, NodeBody::Scopes(theirs)) => {
                let mine = self.domain_summaries.clone().unwrap_or_default();
                if theirs.len() != mine.len() {
                    return Err(wrong());
                }
                for (index, (mine, theirs)) in mine.iter().zip(theirs).enumerate() {
                    if self.summary(mine) != theirs {
                        self.open(NodeId::scope(index as u32), mine.count, theirs.count, false)?;
                    }
                }
            }
            (Level::Area, NodeBody::Caseloads(theirs)) => {
                let NodeId::Range { scope, .. } = node else {
                    return Err(wrong());
                };
                if theirs.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
                    return Err(wrong());
                }
                let mut joined: BTreeMap<_, (Option<Summary>, Option<Summary>)> = BTreeMap::new();
                for caseload in self.caseloads.get(scope).into_iter().flatten() {
                    joined.entry(caseload.chw.clone()).or_default().0 =
                        Some(self.summary(&caseload.summary));
                }
                for (chw, summary) in theirs {
                    joined.entry(chw).or_default().1 = Some(summary);
                }
                for (chw, (mine, theirs)) in joined {
                    if mine != theirs {
                        let child = NodeId::Range {
                            scope: *scope,
                            chw: Some(chw),
                            prefix: Prefix::ROOT,
                        };
                        self.open(
                            child,
                            mine.map_or(0, |s| s.count),
                            theirs.map_or(0, |s| s.count),
                            false,
                        )?;
                    }
                }
            }
            (Level::Caseload(caseload), NodeBody::Buckets(theirs)) => {
                let items = self
                    .items
                    .get(caseload)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let sums = bucket_sums(items, node.prefix());
                for (index, ((count, fingerprint), theirs)) in
                    sums.into_iter().zip(*theirs).enumerate()
                {
                    let mine =
                        (count > 0).then(|| self.summary(&RangeSummary { count, fingerprint }));
                    if mine != theirs {
                        let child = node.bucket(index as u8).ok_or_else(wrong)?;
                        self.open(child, count, theirs.map_or(0, |s| s.count), false)?;
                    }
                }
            }
            _ => return Err(wrong()),
        }
        Ok(())
    }

    /// Both item lists are in: decide, per document, what to send.
    fn plan(
        &mut self,
        node: &NodeId,
        mine: &[ItemEntry],
        theirs: &[WireItem],
    ) -> Result<(), SessionError> {
        let prefix = node.prefix();
        let mut their_heads = BTreeMap::new();
        for item in theirs {
            if !prefix.contains(bucket_hash(&item.id)) {
                return Err(PeerFault::ItemOutsideRange { node: node.clone() }.into());
            }
            their_heads.insert(&item.id, &item.heads);
        }
        debug!(%node, mine = mine.len(), theirs = theirs.len(), "items differ");
        for item in mine {
            self.handoffs.push(match their_heads.get(&item.id) {
                Some(heads) => Handoff::Diff {
                    id: item.id.clone(),
                    their_heads: (*heads).clone(),
                },
                None => Handoff::Whole {
                    id: item.id.clone(),
                },
            });
        }
        Ok(())
    }

    pub(crate) fn take_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    pub(crate) fn take_handoffs(&mut self) -> Vec<Handoff> {
        std::mem::take(&mut self.handoffs)
    }

    /// Range messages to send, sorted by range so that messages of one caseload are
    /// adjacent (the stable sort keeps a range's parent before it and its tags before its
    /// items).
    pub(crate) fn take_messages(&mut self) -> Vec<NodeMessage> {
        let mut messages = std::mem::take(&mut self.out);
        messages.sort_by(|a, b| a.node.cmp(&b.node));
        messages
    }

    /// Nothing under comparison, nothing to send or read.
    pub(crate) fn is_idle(&self) -> bool {
        self.nodes.is_empty()
            && self.out.is_empty()
            && self.wanted.is_empty()
            && self.in_flight == 0
    }
}

fn total(summaries: &[RangeSummary]) -> RangeSummary {
    summaries
        .iter()
        .fold(RangeSummary::default(), |acc, s| RangeSummary {
            count: acc.count + s.count,
            fingerprint: acc.fingerprint.add(s.fingerprint),
        })
}

/// Packs range messages into frames well under the size limit.
pub(crate) fn frames(messages: Vec<NodeMessage>) -> Vec<Frame> {
    if messages.is_empty() {
        return Vec::new();
    }
    let frame = Frame::Reconcile(messages);
    if messages_fit(&frame) {
        return vec![frame];
    }
    let Frame::Reconcile(mut messages) = frame else {
        return Vec::new();
    };
    if messages.len() == 1 {
        // One message larger than half a frame cannot be split; it still fits a frame
        // because every list in it is bounded well below the limit.
        return vec![Frame::Reconcile(messages)];
    }
    let second = messages.split_off(messages.len() / 2);
    let mut out = frames(messages);
    out.extend(frames(second));
    out
}

fn messages_fit(frame: &Frame) -> bool {
    frame.to_bytes().len() <= MAX_FRAME_LEN as usize / 2
}
