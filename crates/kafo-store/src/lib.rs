//! Kafo's durable store: one device's household documents on sled, with the index
//! the sync layer reconciles over. (With the `engine-redb` feature the same store
//! runs on redb instead, to measure the two against each other: see `engine/` and
//! `docs/storage.md`.)
//!
//! What it does:
//! - keeps each household's automerge document as a compacted snapshot plus the
//!   change chunks written since, compacting crash-safely (snapshot written and
//!   chunks removed in one atomic batch);
//! - makes every write one atomic sled batch, flushed before the call returns: the
//!   document, its index entry and heads, its reconciliation item, its scope's
//!   aggregate fingerprint and the store's totals move together, so a crash at any
//!   point leaves a store that opens with every acknowledged change;
//! - serialises writers with a store-wide lock, and gives every opening of the store
//!   a fresh automerge actor ([`Store::actor`], rebindable with [`Store::set_actor`]),
//!   so no actor/sequence pair is ever reused, even by a copied or restored store;
//! - makes the changes it authors attributable: with a [`ChangeSigner`] set
//!   ([`Store::set_change_signer`]), every write stores an opaque attestation record
//!   for each new change of the store's actor, and the actor's owner record
//!   ([`Store::set_actor_owner_record`]), in the same atomic batch as the document
//!   (for bulk imports, signed on the worker threads by [`PendingDocument::prepare`]);
//!   [`Store::update_attested`] writes records the caller brings (a peer's
//!   attestations, adopted changes). Both kinds are write-once; read them with
//!   [`Store::attestation`], [`Store::actor_owner`], [`Store::unattested_changes`];
//!   [`Store::attach_many`] writes many households' records in one flush;
//! - keeps, in each document's own batches, the list of its authored changes (every
//!   change but the shared first one), so [`Store::authored_changes`] names them
//!   without loading the document;
//! - keeps, in each document's own batches, its household view: the household
//!   record read from it, with the heads it was read at ([`Store::household`],
//!   [`Store::household_line`] read it, and decode the document instead whenever
//!   the view is missing or not current), so a report or an export of the whole
//!   store never loads automerge;
//! - answers the sync layer cheaply: items in [`kafo_model::ItemKey`] order
//!   ([`Store::items`]), per-scope aggregates without scanning
//!   ([`Store::scope_aggregates`]), fingerprints of key ranges
//!   ([`Store::range_fingerprint`]), and opaque per-peer state;
//! - versions its schema from the first release and migrates older stores on open.
//!
//! What it deliberately does not do: it knows nothing about peers, networks, the
//! protocol, keys, signatures or access rules (a peer, an attestation and an owner
//! are opaque byte strings to it; it does not verify them); it does not
//! map records to documents (that is `kafo_model::document`; the store reads only
//! [`kafo_model::document::summary`], and [`kafo_model::document::read_household`]
//! for the views); it does not log record contents.
//!
//! How to drive it:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (dir, id, changes_from_peer): (&std::path::Path, kafo_model::HouseholdId, Vec<u8>) = todo!();
//! use kafo_store::{ListFilter, Store};
//!
//! let store = Store::open(dir)?; // create or open; migrates; fails if in use (after 1 s)
//! // One edit, durable on return (`edit` gets the stored document or an empty one):
//! let ((), outcome) = store.update(&id, |doc| -> Result<(), automerge::AutomergeError> {
//!     // ... edit `doc` with automerge or kafo_model::document ...
//!     Ok(())
//! })?;
//! // Bulk: load, build on worker threads, commit in one batch (stale ones are refused).
//! let mut pending = store.load_for_update(&id)?;
//! // ... edit pending.doc_mut(), optionally pending.prepare() on the worker ...
//! let report = store.commit(vec![pending])?;
//! // What the sync layer receives:
//! let applied = store.apply_changes(&id, &changes_from_peer)?;
//! // Reads:
//! let doc = store.document(&id)?;
//! let household = store.household(&id)?; // from its view, without automerge
//! for item in store.list(&ListFilter::default()) { let _item = item?; }
//! # Ok(()) }
//! ```
//!
//! Reads do not take the write lock. [`Store::document`] is consistent (a read
//! racing a write retries); iterations over many records are not snapshots.

mod attest;
mod changes;
mod edit;
mod engine;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod index;
mod keys;
mod pending;
mod read;
mod records;
mod recovery;
mod salvage;
mod schema;
pub mod sealing;
mod space;
mod store;
mod stored;
#[cfg(test)]
mod testing;
mod view;
mod write;

pub use attest::{Attachments, ChangeSigner};
pub use engine::{EngineError, engine_name};
pub use error::{
    ApplyError, CommitError, DocumentDamage, InvalidDocument, MigrationError, OpenStoreError,
    ReadError, UpdateError, WriteError,
};
pub use index::{HouseholdIds, Item, Items, ListFilter, ScopeAggregate, SetFingerprint};
pub use pending::{CommitReport, PendingDocument};
pub use read::StoredLayout;
pub use recovery::LOCK_FILE;
pub use salvage::{DamagedHousehold, SalvageError, SalvageReport, StoreCheck};
pub use schema::SCHEMA_VERSION;
pub use sealing::{StoreKey, Unlock};
pub use space::{LOW_SPACE_BYTES, RESERVE_BYTES, RESERVE_FILE, Space, is_disk_full};
pub use store::{Store, Totals};
pub use view::{HouseholdLineError, HouseholdReadError};
pub use write::{WriteEffect, WriteOutcome};
