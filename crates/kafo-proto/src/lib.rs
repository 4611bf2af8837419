//! Kafo's sync protocol: one session between two devices, as a sans-IO state machine.
//!
//! Two devices that meet end up with the same households in the scopes they share,
//! moving only what differs: a handshake, range-based set reconciliation over the
//! documents' heads, then the automerge changes (or whole documents) each side lacks,
//! batched and compressed, applied durably before they are acknowledged.
//! `docs/protocol.md` describes the protocol and its wire format.
//!
//! # Driving a session
//!
//! A [`Session`] takes [`Input`]s (bytes from the peer, storage replies, the driver's
//! authorization, timer expiry, transport closure) and produces [`Output`]s (bytes to
//! send, storage work, a timer, events). **After every input, drain the outputs.**
//! Time (`now`) and randomness (an RNG for the session nonce) are arguments.
//!
//! ```no_run
//! use std::time::Instant;
//!
//! use kafo_proto::storage::{execute, SyncStorage};
//! use kafo_proto::{Event, Input, Output, Session, SessionConfig, SessionReport};
//!
//! /// Whatever carries the bytes: a libp2p stream, a pipe, a Bluetooth bridge.
//! trait Transport {
//!     fn send(&mut self, bytes: &[u8]);
//!     /// Bytes that arrived; empty once `deadline` passed; `None` at end of stream.
//!     fn receive(&mut self, deadline: Option<Instant>) -> Option<Vec<u8>>;
//! }
//!
//! fn sync(config: SessionConfig, store: &mut impl SyncStorage, transport: &mut impl Transport) -> SessionReport {
//!     let mut session = Session::new(config, Instant::now(), &mut rand::rng());
//!     let mut timer = None;
//!     loop {
//!         while let Some(output) = session.poll_output() {
//!             match output {
//!                 Output::Transmit(bytes) => transport.send(&bytes),
//!                 Output::Storage(request) => {
//!                     // Reply only once a write is durable.
//!                     let reply = execute(request, store);
//!                     session.handle_input(Instant::now(), Input::Storage(reply));
//!                 }
//!                 Output::SetTimer(at) => timer = Some(at),
//!                 Output::Event(Event::PeerHello(_peer)) => {
//!                     // Decide what this peer may see; nothing about documents has
//!                     // crossed the wire yet.
//!                     let share = session.default_share().unwrap_or_default();
//!                     session.handle_input(Instant::now(), Input::Authorize { share });
//!                 }
//!                 Output::Event(Event::PeerDisclosed(_bytes)) => {
//!                     // What the peer's trust layer disclosed (protocol version 2),
//!                     // before anything about its documents: check it, and refuse the
//!                     // peer with `Input::Refuse` if it must not go on.
//!                 }
//!                 Output::Event(Event::Finished(report)) => return report,
//!             }
//!         }
//!         match transport.receive(timer) {
//!             Some(bytes) if bytes.is_empty() => session.handle_input(Instant::now(), Input::Timeout),
//!             Some(bytes) => session.handle_input(Instant::now(), Input::Received(&bytes)),
//!             None => session.handle_input(Instant::now(), Input::Closed),
//!         }
//!     }
//! }
//! ```
//!
//! Storage requests may also be performed asynchronously and answered in any order; a
//! session keeps at most [`Limits::max_storage_in_flight`] outstanding. A store implements
//! [`storage::SyncStorage`] (one method per request); [`docops`] does the automerge work on
//! one document for it.
//!
//! Both ends may start at once (`kafo sync --stdio` on both ends of a pipe) or one may
//! dial the other: the protocol is symmetric, and there are no roles to configure.
//!
//! # What it deliberately does not do
//!
//! - No IO, no clock, no global randomness, no threads: the driver does those.
//! - No persistence and no per-peer state: an interrupted session is resumed by the next
//!   one reconciling again, which finds what already arrived and sends only the rest.
//! - No trust decisions: the driver authorizes each peer ([`Input::Authorize`]) with the
//!   scopes it may share; [`default_share`] is the unauthenticated default. Credentials
//!   (in `Hello`) and disclosures ([`Input::AuthorizeWith`], [`Event::PeerDisclosed`],
//!   protocol version 2) are opaque bytes carried for the driver's trust layer.
//! - It never logs record contents; ids appear only at trace level.
//!
//! # Modules
//!
//! - [`wire`]: frames, the incremental [`wire::FrameDecoder`], payload compression.
//! - [`tree`]: the reconciliation tree (scopes, caseloads, hash buckets) and tags.
//! - [`storage`]: the storage requests and replies, [`storage::SyncStorage`], [`storage::execute`].
//! - [`docops`]: the automerge work behind the requests, on one document.
//! - [`report`]: how a session ended ([`Outcome`], [`SessionError`]) and what it did.
//! - `testing` (feature `testing`): an in-memory store, a multi-peer harness on a virtual
//!   clock with faulty links, a hand-driven session, and the fuzz targets' bodies.

pub mod docops;
pub mod report;
mod session;
pub mod storage;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tree;
pub mod wire;

pub use report::{Outcome, PeerFault, SessionError, SessionReport, Side};
pub use session::{
    Event, Input, Limits, MIN_WINDOW, Output, PeerHello, Reveal, Session, SessionConfig,
    default_share,
};
