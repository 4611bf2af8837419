//! Kotlin, Swift and Python bindings for Kafo, made with UniFFI.
//!
//! This crate only converts: types into records the host languages understand,
//! errors into one [`KafoError`], panics into [`KafoError::Internal`]. Every behaviour
//! (links, subscriptions, sync, trust) lives in the `kafo` crate, so the CLI and the
//! bindings cannot drift.
//!
//! Threads: every object is safe to use from any thread. Calls that touch the store
//! or the network block: call them off the UI thread.

mod error;
mod link;
mod logger;
mod node;
mod records;
mod runtime;
mod server;
mod subscription;

pub use error::KafoError;
pub use link::{Link, SyncReport};
pub use logger::{LogLevel, Logger, set_logger};
pub use node::Node;
pub use records::{Conflict, Device, HouseholdListing, ImportSummary, Status, WhoAmI};
pub use server::{ServeOptions, Server};
pub use subscription::{NodeListener, Subscription, SyncEvent, SyncEventKind};

uniffi::setup_scaffolding!("kafo");
