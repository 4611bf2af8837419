//! Test support, behind the `testing` feature: an in-memory store, household documents,
//! a harness running two sessions over a simulated link on a virtual clock, a session
//! driven by hand, and the bodies of the fuzz targets. Deterministic: every random
//! choice comes from a seed.

pub mod docs;
pub mod fuzz;
pub mod harness;
pub mod memory;
pub mod solo;

pub use harness::{HarnessError, Link, Peer, Policy, Run, Start, sync_pair};
pub use memory::MemoryStorage;
pub use solo::{Solo, config};
