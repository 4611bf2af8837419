//! Shared helpers for the workspace-level tests (`tests/*.rs`).
//!
//! What it gives: [`device::Device`], a real `kafo::Node` on a sled store in a temp
//! dir with the scopes it syncs; [`caseload`], kafo-gen caseloads small enough for
//! tests; and [`pair::sync_pair`], a driver that runs two `kafo_proto::Session`s over
//! any [`kafo_proto::storage::SyncStorage`] on a virtual clock, across a link with a
//! latency that can be cut after some bytes, until both sessions have finished. It
//! fails on livelock (too many steps) and on a stall (nothing left to happen).
//! For trust: [`program`] creates a program on a device, enrols others with the
//! certificate text, and runs real `Node::sync_over` sessions (Noise, handshake,
//! signed envelopes) between two nodes over an in-memory stream; [`wiretap`] plays
//! the other end of such a session itself, inside the Noise channel, and records the
//! plaintext frames the node sent.
//!
//! What it does not do: no sockets (the libp2p path is tested through `kafo-net` and
//! `kafo`; trust sessions here run over in-memory streams on a tokio runtime), no
//! faults but the cut (the protocol crate's own harness drops, duplicates and
//! reorders). The virtual-clock driver takes no OS randomness (every nonce comes from
//! a seed); real node sessions do (Noise keys and nonces), as in the field.
//!
//! How to drive it:
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use kafo_tests::device::Device;
//! use kafo_tests::pair::{Link, sync_devices};
//!
//! let alice = Device::new("alice", &["sikoro/chw-01"])?;
//! let bob = Device::new("bob", &["sikoro/chw-01"])?;
//! let run = sync_devices(&alice, &bob, &Link::default(), 1)?;
//! assert!(run.in_sync());
//! # Ok(()) }
//! ```

pub mod caseload;
pub mod device;
pub mod pair;
pub mod program;
pub mod wiretap;
