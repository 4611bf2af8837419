//! The Kafo embedding API: one device's store of household documents, its identity,
//! and the operations a client app or the `kafo` CLI performs.
//!
//! What it does: [`Node::open`] opens (or creates) a device's durable store and
//! identity; [`Node::import`] and [`Node::export`] move caseloads in and out in
//! format v1; [`Node::households`], [`Node::household`] and [`Node::add_visit`]
//! find, read and edit records; [`Node::stream_households`] walks a whole caseload one
//! household at a time (the exports); [`Node::report`] answers a supervisor's questions
//! (overdue vaccines, malnutrition, antenatal care, referrals, activity) with
//! `kafo-health`'s rules; [`Node::serve`] syncs with the devices around
//! ([`net`]), [`Node::sync_with`] and [`Node::sync_over`] run one session with one
//! peer, over libp2p or any byte stream. [`trust`] enrols devices in a health
//! program, signs the changes they author and checks every peer and every change
//! received. It is the one crate that wires the layers (`kafo-model`, `kafo-store`,
//! `kafo-proto`, `kafo-net`, `kafo-trust`).
//!
//! What it does not do: parse command lines or print (that is `kafo-cli`), or
//! install a tracing subscriber (libraries only emit `tracing` events).
//!
//! How to drive it:
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = kafo::Node::open("/tmp/kafo-demo")?;
//! let file = std::io::BufReader::new(std::fs::File::open("caseload.jsonl")?);
//! let summary = node.import(file, &kafo::ImportOptions::default(), |_event| {})?;
//! println!("{} households imported", summary.households);
//! node.export(std::io::stdout().lock())?;
//! # Ok(()) }
//! ```

pub mod changes;
pub mod doctor;
mod export;
mod identity;
mod import;
pub mod link;
pub mod net;
mod node;
mod records;
mod report;
mod stream;
pub mod sync;
pub mod trust;

pub use changes::{Change, Subscription};
pub use export::{ExportError, ExportSummary};
pub use identity::{DeviceId, DeviceIdentity, IdentityDecodeError, ParseDeviceIdError};
pub use import::{ImportError, ImportEvent, ImportOptions, ImportSummary};
pub use link::{Link, LinkError};
pub use node::{Node, OpenError, Status};
pub use records::{AddVisitError, Conflict, HouseholdListing, HouseholdView, ReadHouseholdError};
pub use report::{ReportError, ReportOptions};
pub use stream::HouseholdStream;

pub use kafo_health as health;
pub use kafo_model as model;
pub use kafo_store as store;
pub use kafo_store::{StoreKey, Unlock};
