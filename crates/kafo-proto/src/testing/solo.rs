//! One session driven by hand, with its store: for scripted peers, misbehaviour tests
//! and fuzzing. Storage requests run at once; the peer's hello is answered by a policy.

use std::time::{Duration, Instant};

use kafo_model::Scope;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::harness::Policy;
use super::memory::MemoryStorage;
use crate::report::SessionReport;
use crate::session::{Event, Input, Limits, Output, PeerHello, Reveal, Session, SessionConfig};
use crate::storage::execute;
use crate::wire::{DeviceId, Frame, FrameDecoder, SUPPORTED_VERSIONS, VersionRange};

/// A session config for tests: device id from `name`, offering and accepting `scopes`.
///
/// Panics if a scope does not parse (test input).
pub fn config(name: &str, scopes: &[&str]) -> SessionConfig {
    let scopes: Vec<Scope> = scopes
        .iter()
        .map(|scope| {
            scope
                .parse()
                .unwrap_or_else(|_| panic!("test scope {scope:?} is valid"))
        })
        .collect();
    let mut device = name.as_bytes().to_vec();
    device.truncate(32);
    SessionConfig {
        // Invariant: 32 bytes is under the device id limit.
        device: DeviceId::new(device).expect("32 bytes fit a device id"),
        offers: scopes.clone(),
        accepts: scopes,
        credentials: Vec::new(),
        reveal: Reveal::default(),
        limits: Limits::default(),
    }
}

/// A session and its store, driven one input at a time.
#[derive(Debug)]
pub struct Solo {
    /// The session.
    pub session: Session,
    /// Its store.
    pub storage: MemoryStorage,
    /// How the peer's hello is answered.
    pub policy: Policy,
    /// Bytes transmitted and not yet taken.
    pub sent: Vec<u8>,
    /// The peer's hello, once received.
    pub hello: Option<PeerHello>,
    /// Disclosed with the authorization (protocol version 2), if not empty.
    pub disclose: Vec<u8>,
    /// Refuse the peer when it discloses something.
    pub refuse_disclosures: bool,
    /// What the peer disclosed, with the store's write count when the session told.
    pub disclosed: Vec<(Vec<u8>, u64)>,
    /// The report, once finished.
    pub report: Option<SessionReport>,
    /// The virtual clock.
    pub now: Instant,
    /// The timer the session asked for.
    pub timer: Option<Instant>,
}

impl Solo {
    /// Starts a session at a fixed virtual instant; its nonce comes from `seed`.
    pub fn new(config: SessionConfig, storage: MemoryStorage, seed: u64) -> Self {
        Self::speaking(config, SUPPORTED_VERSIONS, storage, seed)
    }

    /// [`Solo::new`] speaking only `versions`.
    ///
    /// Panics if `versions` is not within [`SUPPORTED_VERSIONS`] (test input).
    pub fn speaking(
        config: SessionConfig,
        versions: VersionRange,
        storage: MemoryStorage,
        seed: u64,
    ) -> Self {
        let now = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let session = Session::with_versions(config, versions, now, &mut rng)
            .unwrap_or_else(|| panic!("test versions {versions} are supported"));
        let mut solo = Self {
            session,
            storage,
            policy: Policy::Default,
            sent: Vec::new(),
            hello: None,
            disclose: Vec::new(),
            refuse_disclosures: false,
            disclosed: Vec::new(),
            report: None,
            now,
            timer: None,
        };
        solo.drain();
        solo
    }

    /// Feeds bytes from the peer.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.input(Input::Received(bytes));
    }

    /// Feeds one frame from the peer.
    pub fn receive_frame(&mut self, frame: &Frame) {
        self.receive(&frame.to_bytes());
    }

    /// Feeds any input, then drains the outputs.
    pub fn input(&mut self, input: Input<'_>) {
        self.session.handle_input(self.now, input);
        self.drain();
    }

    /// Moves the clock forward, firing the timer if it is due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.timer.is_some_and(|at| at <= self.now) {
            self.timer = None;
            self.input(Input::Timeout);
        }
    }

    /// Takes the bytes transmitted so far.
    pub fn take_sent(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sent)
    }

    /// Takes and decodes the frames transmitted so far.
    ///
    /// Panics if the session transmitted an invalid frame, which would be a bug.
    pub fn take_frames(&mut self) -> Vec<Frame> {
        let bytes = self.take_sent();
        let mut decoder = FrameDecoder::new();
        let mut input = bytes.as_slice();
        let mut frames = Vec::new();
        while !input.is_empty() {
            match decoder.decode(&mut input) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => panic!("session sent an invalid frame: {error}"),
            }
        }
        frames
    }

    fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Transmit(bytes) => self.sent.extend_from_slice(&bytes),
                Output::Storage(request) => {
                    let reply = execute(request, &mut self.storage);
                    self.session.handle_input(self.now, Input::Storage(reply));
                }
                Output::SetTimer(at) => self.timer = Some(at),
                Output::Event(Event::PeerHello(hello)) => {
                    self.hello = Some(hello);
                    let disclose = self.disclose.clone();
                    let input = match &self.policy {
                        Policy::Refuse => Input::Refuse,
                        Policy::Share(share) => Input::AuthorizeWith {
                            share: share.clone(),
                            disclose,
                        },
                        Policy::Default => Input::AuthorizeWith {
                            share: self.session.default_share().unwrap_or_default(),
                            disclose,
                        },
                    };
                    self.session.handle_input(self.now, input);
                }
                Output::Event(Event::PeerDisclosed(bytes)) => {
                    self.disclosed.push((bytes, self.storage.writes()));
                    if self.refuse_disclosures {
                        self.session.handle_input(self.now, Input::Refuse);
                    }
                }
                Output::Event(Event::Finished(report)) => self.report = Some(report),
            }
        }
    }
}
