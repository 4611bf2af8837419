//! Syncing with other devices: a node that syncs with the peers around it
//! ([`Node::serve`](crate::Node::serve)), one session with a peer at an address
//! ([`Node::sync_with`](crate::Node::sync_with)), and one session over any byte stream
//! ([`Node::sync_over`](crate::Node::sync_over)).
//!
//! # What a running node does
//!
//! * **Whom it syncs with.** Every peer mDNS discovers, every peer that connects, and
//!   every address the host dials ([`RunningNode::dial`]). Of two peers that discover
//!   each other, the one whose id sorts first opens the session; a peer that connected
//!   to us gets [`ServeConfig::first_contact_grace`] to open one itself. One session
//!   serves both sides.
//! * **When it syncs again.** Whenever this device changes: a local edit or import
//!   through [`Node`](crate::Node), or documents received from another peer (which is
//!   how a change travels along a chain of devices). [`Node::changes`](crate::Node::changes)
//!   counts them; the node syncs with each peer that may lack some, once no change came
//!   for [`ServeConfig::debounce`]. A change on the *other* device reaches us the same
//!   way, by that device opening a session: no extra notification is needed. In sync
//!   peers are also synced every [`ServeConfig::resync_interval`].
//! * **How many at once.** At most [`ServeConfig::max_sessions`] sessions run, both
//!   directions together; the others wait in one first-come, first-served queue
//!   (a phone's own session waits at most [`ServeConfig::inbound_wait`]).
//! * **Failures.** After a failed session the peer is retried with exponential
//!   [`Backoff`], and given up after a number of failures until it shows up again. A
//!   session ends when the peer is silent for the protocol's idle timeout, when the
//!   link stops taking bytes, or at [`SyncOptions::session_timeout`]. A peer that
//!   breaks the protocol, or whose hello claims another device than the one its
//!   connection authenticated, is disconnected and refused for [`ServeConfig::ban`].
//! * **Whom it admits and what it shares.** An enrolled device ([`crate::trust`])
//!   admits only devices of its program whose certificate is valid, not revoked and
//!   names the device the connection authenticated, and shares the intersection of
//!   both sides' read scopes (within [`SyncOptions::scopes`] when they name some);
//!   revocations travel first, every change is signed and checked, and a session
//!   with a device learnt to be revoked is cut at once. An unenrolled device syncs
//!   only with unenrolled devices: [`Scopes::Held`] by default, the caseloads
//!   (`area/chw`) it holds; a laptop names an area ([`Scopes::Only`]); both sides
//!   share the intersection of what each offers and accepts
//!   ([`kafo_proto::default_share`]).
//! * **What it tells.** [`NodeEvent`]s on a bounded broadcast channel, and
//!   [`RunningNode::peers`]: each peer with its last session, also remembered in the
//!   store ([`Node::peers`](crate::Node::peers), [`PeerRecord`]).
//! * **Stopping.** [`RunningNode::shutdown`] lets running sessions finish within a
//!   grace period and abandons the rest; what they applied is durable and the next
//!   session resumes from there.
//!
//! # What it deliberately does not do
//!
//! No relay or internet. Storage work runs on the session's task through
//! `block_in_place`, so a node needs a multi-threaded runtime.
//!
//! # How to drive it
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use kafo::net::{NodeEvent, ServeConfig};
//!
//! let node = Arc::new(kafo::Node::open("/tmp/kafo-phone")?);
//! let running = Arc::clone(&node).serve(ServeConfig::default()).await?;
//! let mut events = running.events();
//! while let Ok(event) = events.recv().await {
//!     if let NodeEvent::SessionFinished { report, .. } = event {
//!         println!("{} documents received", report.docs_received);
//!         break;
//!     }
//! }
//! running.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

mod config;
mod error;
mod event;
mod oneshot;
mod peers;
mod report;
mod runtime;
mod schedule;
pub(crate) mod scopes;
pub(crate) mod session;

pub use config::{Backoff, Scopes, ServeConfig, SyncOptions};
pub use error::{NodeError, PeerRecordError, ServeError, SessionSetupError, SyncWithError};
pub use event::NodeEvent;
pub use oneshot::SyncOverError;
pub use peers::{LastSync, MAX_PEER_RECORDS, PeerRecord};
pub use report::{Direction, SyncOutcome, SyncReport};
pub use runtime::{PROGRESS_INTERVAL, PeerStatus, RunningNode};
pub use scopes::held_caseloads;

pub use kafo_net::{LinkLimits, Multiaddr, NetworkConfig, PeerId};
