//! One sync session with one peer, as a state machine: inputs in, outputs drained.

mod exchange;
mod handshake;
mod reconcile;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use kafo_model::Scope;
use rand::RngCore;
use tracing::{debug, info, warn};

use crate::report::{Outcome, PeerFault, SessionError, SessionReport, Side};
use crate::storage::{RequestId, StorageReply, StorageRequest, StorageWork};
use crate::wire::{
    CloseReason, DeviceId, Frame, FrameDecoder, Nonce, SUPPORTED_VERSIONS, VersionRange,
};

use exchange::Exchange;
use handshake::Handshake;
use reconcile::Reconciler;

pub use handshake::{Reveal, default_share};

/// The smallest receive window a peer may announce: one full entry must fit.
pub const MIN_WINDOW: u32 = crate::wire::MAX_ENTRY as u32 + 1024;

/// Who this side is and what it offers.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// This device's id.
    pub device: DeviceId,
    /// Scopes this side is willing to share.
    pub offers: Vec<Scope>,
    /// Scopes this side wants.
    pub accepts: Vec<Scope>,
    /// Proof of what this side may read and write, for the peer's driver (opaque here).
    pub credentials: Vec<u8>,
    /// When this side first reveals anything about its documents.
    pub reveal: Reveal,
    /// Bounds.
    pub limits: Limits,
}

/// Bounds on what one session holds and waits for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The session fails with [`Outcome::TimedOut`] after this long without peer bytes.
    pub idle_timeout: Duration,
    /// Storage requests outstanding at once.
    pub max_storage_in_flight: usize,
    /// Uncompressed payload bytes this side accepts unacknowledged (announced in `Hello`).
    pub window: u32,
    /// Uncompressed bytes per payload batch.
    pub batch_target: usize,
    /// Ranges under comparison at once.
    pub max_open_ranges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            max_storage_in_flight: 16,
            window: 4 * 1024 * 1024,
            batch_target: 128 * 1024,
            max_open_ranges: 1 << 16,
        }
    }
}

/// Something that happened to the session, for it to handle.
#[derive(Debug)]
pub enum Input<'a> {
    /// Bytes arrived from the peer (any chunking).
    Received(&'a [u8]),
    /// The store answered a request.
    Storage(StorageReply),
    /// The driver authorizes the peer after [`Event::PeerHello`]: share these scopes.
    Authorize {
        /// Scopes to reconcile and exchange with this peer (see [`default_share`]).
        share: Vec<Scope>,
    },
    /// Like [`Input::Authorize`], and discloses `disclose` to the peer first: when it is
    /// not empty and protocol version 2 was negotiated ([`PeerHello::version`]), a
    /// `Disclose` frame goes out before this side's `Authorized`/`Begin`, in the same
    /// flight (no extra round trip). Under version 1 nothing is disclosed. At most
    /// [`MAX_DISCLOSURE`](crate::wire::MAX_DISCLOSURE) bytes, else the session fails
    /// with [`SessionError::DisclosureTooLarge`].
    AuthorizeWith {
        /// Scopes to reconcile and exchange with this peer.
        share: Vec<Scope>,
        /// Opaque bytes for the peer's trust layer (Kafo: its known revocations).
        disclose: Vec<u8>,
    },
    /// The driver refuses the peer after [`Event::PeerHello`] or
    /// [`Event::PeerDisclosed`] (at any time, in fact): `Close(Refused)` is sent, and
    /// storage requests queued and not yet polled are withdrawn, so nothing the peer
    /// sent afterwards is written.
    Refuse,
    /// The timer set by [`Output::SetTimer`] fired.
    Timeout,
    /// The transport closed (end of stream, reset, cut).
    Closed,
}

/// Something the driver must do.
#[derive(Debug)]
pub enum Output {
    /// Send these bytes to the peer, in order.
    Transmit(Vec<u8>),
    /// Perform this storage request and answer with [`Input::Storage`].
    Storage(StorageRequest),
    /// Call back with [`Input::Timeout`] at this instant (replaces any earlier timer).
    SetTimer(Instant),
    /// Something to tell the application.
    Event(Event),
}

/// What the session tells the application.
#[derive(Debug)]
pub enum Event {
    /// The peer introduced itself; answer with [`Input::Authorize`],
    /// [`Input::AuthorizeWith`] or [`Input::Refuse`].
    /// Nothing about documents has crossed the wire yet.
    PeerHello(PeerHello),
    /// The peer disclosed these bytes to its trust layer's counterpart (protocol
    /// version 2; Kafo: its known revocations). At most one per session, after
    /// [`Event::PeerHello`] and before anything the peer sends about documents: it is
    /// emitted before any storage request caused by the peer's later frames. Answer
    /// with nothing to go on, or with [`Input::Refuse`].
    PeerDisclosed(Vec<u8>),
    /// The session ended; no output follows except bytes already queued.
    Finished(SessionReport),
}

/// The peer's introduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHello {
    /// Its device id.
    pub device: DeviceId,
    /// The protocol version agreed.
    pub version: u16,
    /// Scopes it is willing to share.
    pub offers: Vec<Scope>,
    /// Scopes it wants.
    pub accepts: Vec<Scope>,
    /// Its credentials (opaque).
    pub credentials: Vec<u8>,
}

/// Why a storage request was made, to route its reply.
#[derive(Debug)]
pub(crate) enum Purpose {
    MyRoot,
    Reconcile(reconcile::Source),
    Exchange(exchange::Job),
}

/// A sync session with one peer. See the crate docs for the driving loop.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    versions: VersionRange,
    nonce: Nonce,
    span: tracing::Span,
    started: Instant,
    now: Instant,
    decoder: FrameDecoder,
    outputs: VecDeque<Output>,
    out_buf: Vec<u8>,
    out_awaits_reply: bool,
    pending: BTreeMap<RequestId, Purpose>,
    next_request: u64,
    handshake: Handshake,
    recon: Option<Reconciler>,
    exchange: Exchange,
    data_sent: u64,
    data_received: u64,
    done_sent: Option<u64>,
    peer_done: Option<u64>,
    deadline: Instant,
    timer_set: Option<Instant>,
    awaiting_reply: bool,
    stats: Stats,
    finished: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) docs_sent: u64,
    pub(crate) docs_received: u64,
    pub(crate) docs_skipped: u64,
    pub(crate) changes_sent: u64,
    pub(crate) changes_received: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) frames_sent: u64,
    pub(crate) frames_received: u64,
    pub(crate) round_trips: u32,
}

impl Session {
    /// Starts a session: the `Hello` is queued at once (both sides send one first).
    /// It speaks every version this crate knows ([`SUPPORTED_VERSIONS`]).
    pub fn new(config: SessionConfig, now: Instant, rng: &mut impl RngCore) -> Self {
        Self::start(config, SUPPORTED_VERSIONS, now, rng)
    }

    /// A session speaking only `versions`, which must lie within
    /// [`SUPPORTED_VERSIONS`] (else `None`): to pin an older version, e.g. to behave as
    /// a version 1 peer in interoperability tests.
    pub fn with_versions(
        config: SessionConfig,
        versions: VersionRange,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> Option<Self> {
        let supported = versions.min <= versions.max
            && versions.min >= SUPPORTED_VERSIONS.min
            && versions.max <= SUPPORTED_VERSIONS.max;
        supported.then(|| Self::start(config, versions, now, rng))
    }

    fn start(
        config: SessionConfig,
        versions: VersionRange,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> Self {
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let nonce = Nonce(nonce);
        let span = tracing::info_span!("kafo_sync", session = %nonce);
        let deadline = now + config.limits.idle_timeout;
        let mut session = Self {
            handshake: Handshake::default(),
            exchange: Exchange::new(&config.limits),
            config,
            versions,
            nonce,
            span,
            started: now,
            now,
            decoder: FrameDecoder::new(),
            outputs: VecDeque::new(),
            out_buf: Vec::new(),
            out_awaits_reply: false,
            pending: BTreeMap::new(),
            next_request: 0,
            recon: None,
            data_sent: 0,
            data_received: 0,
            done_sent: None,
            peer_done: None,
            deadline,
            timer_set: None,
            awaiting_reply: false,
            stats: Stats::default(),
            finished: false,
        };
        session.send_hello();
        session.flush();
        session
    }

    /// The next thing to do, if any. Drain this after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Whether the session has ended ([`Event::Finished`] was queued).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The scopes to share under the unauthenticated default (see [`default_share`]),
    /// once the peer's `Hello` arrived.
    pub fn default_share(&self) -> Option<Vec<Scope>> {
        let peer = self.handshake.peer.as_ref()?;
        Some(default_share(
            &self.config.offers,
            &self.config.accepts,
            &peer.hello.offers,
            &peer.hello.accepts,
        ))
    }

    /// Handles one input at `now`; then drain [`Session::poll_output`].
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.finished {
            return;
        }
        let span = self.span.clone();
        let _entered = span.enter();
        self.now = now;
        let result = match input {
            Input::Received(bytes) => self.on_bytes(bytes),
            Input::Storage(reply) => self.on_storage(reply),
            Input::Authorize { share } => self.authorize(share, Vec::new()),
            Input::AuthorizeWith { share, disclose } => self.authorize(share, disclose),
            Input::Refuse => {
                info!("driver refused the peer");
                // Work already queued for the peer's frames is not done any more.
                self.outputs
                    .retain(|output| !matches!(output, Output::Storage(_)));
                self.queue_frame(&Frame::Close {
                    reason: CloseReason::Refused,
                });
                self.finish(Outcome::Refused { by: Side::Us });
                Ok(())
            }
            Input::Timeout => {
                self.on_timeout();
                Ok(())
            }
            Input::Closed => Err(SessionError::ConnectionLost),
        };
        let result = result.and_then(|()| self.progress());
        if let Err(error) = result {
            self.fail(error);
        }
        self.flush();
    }

    fn on_bytes(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.stats.bytes_received += bytes.len() as u64;
        self.deadline = self.now + self.config.limits.idle_timeout;
        if self.awaiting_reply && !bytes.is_empty() {
            self.awaiting_reply = false;
            self.stats.round_trips += 1;
        }
        let mut input = bytes;
        while !input.is_empty() && !self.finished {
            let Some(frame) = self.decoder.decode(&mut input).map_err(PeerFault::from)? else {
                break;
            };
            self.stats.frames_received += 1;
            tracing::trace!(frame = frame.name(), "received");
            if frame.is_data() {
                self.data_received += 1;
                self.peer_done = None;
            }
            self.on_frame(frame)?;
        }
        Ok(())
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), SessionError> {
        match frame {
            Frame::Close { reason } => {
                info!(%reason, "peer closed the session");
                let outcome = match reason {
                    CloseReason::Refused => Outcome::Refused { by: Side::Peer },
                    reason => Outcome::Failed(SessionError::PeerClosed { reason }),
                };
                self.finish(outcome);
                Ok(())
            }
            Frame::Hello(hello) => self.on_hello(hello),
            Frame::Authorized => self.on_authorized(),
            Frame::Begin(begin) => self.on_begin(begin),
            Frame::Disclose(bytes) => self.on_disclose(bytes),
            Frame::Reconcile(messages) => {
                let recon = self.reconciling("reconcile")?;
                for message in messages {
                    recon.receive(message)?;
                }
                Ok(())
            }
            Frame::Payload(payload) => {
                self.reconciling("payload")?;
                self.exchange
                    .receive_payload(payload, self.config.limits.window)
            }
            Frame::Ack { batch } => {
                self.reconciling("ack")?;
                self.exchange.receive_ack(batch)
            }
            Frame::Done { handled } => {
                self.reconciling("done")?;
                let unacked = self.exchange.unacked_batches();
                if handled > self.data_sent || (handled == self.data_sent && unacked > 0) {
                    return Err(PeerFault::BadDone {
                        handled,
                        sent: self.data_sent,
                        unacked,
                    }
                    .into());
                }
                self.peer_done = Some(handled);
                Ok(())
            }
        }
    }

    /// The reconciler, once both `Begin`s are in; a frame needing it before is a violation.
    fn reconciling(&mut self, frame: &'static str) -> Result<&mut Reconciler, SessionError> {
        match self.recon.as_mut() {
            Some(recon) if recon.has_domain() => Ok(recon),
            _ => Err(PeerFault::UnexpectedFrame {
                frame,
                state: self.handshake.state_name(),
            }
            .into()),
        }
    }

    fn on_storage(&mut self, reply: StorageReply) -> Result<(), SessionError> {
        let Some(purpose) = self.pending.remove(&reply.id) else {
            return Err(SessionError::UnexpectedStorageReply { id: reply.id });
        };
        let answer = reply.result?;
        match purpose {
            Purpose::MyRoot => self.on_my_root(reply.id, answer),
            Purpose::Reconcile(source) => {
                let recon = self
                    .recon
                    .as_mut()
                    .ok_or(SessionError::UnexpectedStorageReply { id: reply.id })?;
                recon.on_source(reply.id, source, answer)
            }
            Purpose::Exchange(job) => {
                self.exchange
                    .on_reply(reply.id, job, answer, &mut self.stats)
            }
        }
    }

    fn on_timeout(&mut self) {
        if self.now < self.deadline {
            return;
        }
        if !self.pending.is_empty() {
            // Waiting on our own store, not on the peer.
            self.deadline = self.now + self.config.limits.idle_timeout;
            return;
        }
        warn!("peer went silent");
        self.queue_frame(&Frame::Close {
            reason: CloseReason::TimedOut,
        });
        self.finish(Outcome::TimedOut);
    }

    /// Moves everything forward after an input: storage work, frames, the end.
    fn progress(&mut self) -> Result<(), SessionError> {
        if self.finished {
            return Ok(());
        }
        let Some(recon) = self.recon.as_mut() else {
            return Ok(());
        };
        if let Some(outcome) = recon.take_outcome() {
            debug!("decided at begin");
            self.finish(outcome);
            return Ok(());
        }
        if let Some(domain) = recon.domain_if_known() {
            self.exchange.set_domain(domain);
        }
        let max = self.config.limits.max_storage_in_flight.max(1);
        let handoffs = recon.take_handoffs();
        // Reconciliation reads first: the peer waits on them.
        let wanted = recon.take_wanted(max.saturating_sub(self.pending.len()));
        for handoff in handoffs {
            self.exchange.accept(handoff);
        }
        for (work, source) in wanted {
            self.request(work, Purpose::Reconcile(source));
        }
        let slots = max.saturating_sub(self.pending.len());
        for (work, job) in self.exchange.pump(slots) {
            self.request(work, Purpose::Exchange(job));
        }
        let reconcile_reads = self
            .pending
            .values()
            .any(|purpose| matches!(purpose, Purpose::Reconcile(_) | Purpose::MyRoot));
        if !reconcile_reads {
            let messages = self
                .recon
                .as_mut()
                .map(Reconciler::take_messages)
                .unwrap_or_default();
            for frame in reconcile::frames(messages) {
                self.queue_frame(&frame);
            }
        }
        let fetching = self
            .pending
            .values()
            .any(|purpose| matches!(purpose, Purpose::Exchange(job) if job.is_fetch()));
        for frame in self.exchange.flush_batches(fetching)? {
            self.queue_frame(&frame);
        }
        for frame in self.exchange.take_acks() {
            self.queue_frame(&frame);
        }
        self.check_done();
        Ok(())
    }

    fn check_done(&mut self) {
        let Some(recon) = self.recon.as_ref() else {
            return;
        };
        let quiet = recon.has_domain()
            && recon.is_idle()
            && self.pending.is_empty()
            && self.exchange.is_idle();
        if !quiet {
            return;
        }
        if self.done_sent != Some(self.data_received) {
            self.queue_frame(&Frame::Done {
                handled: self.data_received,
            });
            self.done_sent = Some(self.data_received);
        }
        if self.peer_done == Some(self.data_sent) && self.exchange.unacked_batches() == 0 {
            self.finish(Outcome::InSync);
        }
    }

    pub(crate) fn request(&mut self, work: StorageWork, purpose: Purpose) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        tracing::trace!(?id, ?work, "storage request");
        self.pending.insert(id, purpose);
        self.outputs
            .push_back(Output::Storage(StorageRequest { id, work }));
    }

    pub(crate) fn queue_frame(&mut self, frame: &Frame) {
        tracing::trace!(frame = frame.name(), "send");
        frame.encode(&mut self.out_buf);
        self.stats.frames_sent += 1;
        if frame.is_data() {
            self.data_sent += 1;
        }
        if frame.is_data() || matches!(frame, Frame::Hello(_)) {
            self.out_awaits_reply = true;
        }
    }

    /// Moves queued frames to a transmit output and re-arms the timer.
    fn flush(&mut self) {
        self.flush_bytes();
        if !self.finished && self.timer_set != Some(self.deadline) {
            self.timer_set = Some(self.deadline);
            self.outputs.push_back(Output::SetTimer(self.deadline));
        }
    }

    fn flush_bytes(&mut self) {
        if !self.out_buf.is_empty() {
            let bytes = std::mem::take(&mut self.out_buf);
            self.stats.bytes_sent += bytes.len() as u64;
            self.outputs.push_back(Output::Transmit(bytes));
            if self.out_awaits_reply {
                self.awaiting_reply = true;
                self.out_awaits_reply = false;
            }
        }
    }

    fn fail(&mut self, error: SessionError) {
        let reason = match &error {
            SessionError::PeerMisbehaved(fault) => {
                warn!(fault = fault.kind(), "peer misbehaved");
                debug!(%fault, "peer fault");
                Some(CloseReason::ProtocolViolation)
            }
            SessionError::IncompatibleVersion { .. } => {
                warn!(%error, "no common version");
                Some(CloseReason::IncompatibleVersion)
            }
            SessionError::PeerClosed { .. } | SessionError::ConnectionLost => {
                info!(%error, "session interrupted");
                None
            }
            SessionError::Storage(_)
            | SessionError::UnexpectedStorageReply { .. }
            | SessionError::DocumentTooLarge { .. }
            | SessionError::DisclosureTooLarge { .. }
            | SessionError::UnexpectedInput { .. } => {
                tracing::error!(error = error.kind(), "session failed locally");
                debug!(%error, "local failure");
                Some(CloseReason::LocalFailure)
            }
        };
        if let Some(reason) = reason {
            self.queue_frame(&Frame::Close { reason });
        }
        self.finish(Outcome::Failed(error));
    }

    fn finish(&mut self, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.flush_bytes();
        self.finished = true;
        let report = SessionReport {
            outcome,
            peer: self
                .handshake
                .peer
                .as_ref()
                .map(|peer| peer.hello.device.clone()),
            docs_sent: self.stats.docs_sent,
            docs_received: self.stats.docs_received,
            docs_skipped: self.stats.docs_skipped,
            changes_sent: self.stats.changes_sent,
            changes_received: self.stats.changes_received,
            bytes_sent: self.stats.bytes_sent,
            bytes_received: self.stats.bytes_received,
            frames_sent: self.stats.frames_sent,
            frames_received: self.stats.frames_received,
            round_trips: self.stats.round_trips,
            duration: self.now.saturating_duration_since(self.started),
        };
        info!(
            outcome = report.outcome.kind(),
            docs_sent = report.docs_sent,
            docs_received = report.docs_received,
            bytes_sent = report.bytes_sent,
            bytes_received = report.bytes_received,
            round_trips = report.round_trips,
            "session finished"
        );
        self.outputs
            .push_back(Output::Event(Event::Finished(report)));
    }

    /// The versions this session speaks (announced in its `Hello`).
    pub fn versions(&self) -> VersionRange {
        self.versions
    }
}
