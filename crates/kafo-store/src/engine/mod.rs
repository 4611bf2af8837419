//! The storage engine under the store: one ordered map of byte keys to byte values,
//! read record by record or by key range, and written in atomic batches that are
//! durable when [`Db::apply`] returns.
//!
//! The store's records, keys and guarantees (`crate::keys`, `crate::write`) are the
//! same on every engine; only this module knows which one holds them:
//! - sled, the chosen store (`sled_engine.rs`), by default;
//! - redb (`redb_engine.rs`), with the `engine-redb` feature: one table in one file,
//!   every batch one write transaction committed with fsync. It exists to measure the
//!   store against an alternative (`docs/storage.md`); a store written by one engine
//!   is not readable by the other.
//!
//! Both modules offer the same items: `Db` (`open`, `get`, `contains_key`,
//! `scan_prefix`, `range`, `is_empty`, `apply`, `size_on_disk`), `Batch`
//! (`insert`, `remove`), `Iter` over `(key, value)` pairs, `Value` (bytes), `Inner`
//! (the engine's error, wrapped by [`EngineError`]) and `NAME`.

use std::fmt;
use std::io;

mod db;
#[cfg(not(feature = "engine-redb"))]
mod sled_engine;
#[cfg(not(feature = "engine-redb"))]
use sled_engine::{Batch as RawBatch, Db as RawDb, Iter as RawIter};
#[cfg(not(feature = "engine-redb"))]
pub(crate) use sled_engine::{Inner, NAME, Value};

#[cfg(feature = "engine-redb")]
mod redb_engine;
#[cfg(feature = "engine-redb")]
use redb_engine::{Batch as RawBatch, Db as RawDb, Iter as RawIter};
#[cfg(feature = "engine-redb")]
pub(crate) use redb_engine::{Inner, NAME, Value};

pub(crate) use db::{Batch, Db, Iter};

/// The name of the storage engine this build of the store uses (`sled` or `redb`).
pub fn engine_name() -> &'static str {
    NAME
}

/// An error of the storage engine: an IO error, or damage it found in its files
/// (in an encrypted store, a value that does not open under its key).
pub struct EngineError(Cause);

enum Cause {
    Engine(Inner),
    /// The sealed value of this record (key, printable) does not open: damaged or
    /// tampered with.
    Unsealable(String),
}

impl From<Inner> for EngineError {
    fn from(inner: Inner) -> Self {
        Self(Cause::Engine(inner))
    }
}

impl EngineError {
    /// A sealed value that does not open under the store's key.
    pub(crate) fn unsealable(key: &[u8]) -> Self {
        Self(Cause::Unsealable(key.escape_ascii().to_string()))
    }

    /// Whether the engine failed because the disk (or the user's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        self.io().is_some_and(crate::space::is_disk_full)
    }

    /// The operating system's error, when the engine failed on IO.
    pub fn io(&self) -> Option<&io::Error> {
        match &self.0 {
            Cause::Engine(inner) => inner.io(),
            Cause::Unsealable(_) => None,
        }
    }

    /// The operating system's error, when the engine failed on IO; else the error itself.
    pub(crate) fn into_io(self) -> Result<io::Error, Self> {
        match self.0 {
            Cause::Engine(inner) => inner.into_io().map_err(Self::from),
            unsealable => Err(Self(unsealable)),
        }
    }
}

impl fmt::Debug for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Cause::Engine(inner) => fmt::Debug::fmt(inner, f),
            Cause::Unsealable(key) => write!(f, "Unsealable({key:?})"),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Cause::Engine(inner) => fmt::Display::fmt(inner, f),
            Cause::Unsealable(key) => write!(
                f,
                "the encrypted value of record {key} does not open under the store's key (damaged or altered)"
            ),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Cause::Engine(inner) => std::error::Error::source(inner),
            Cause::Unsealable(_) => None,
        }
    }
}

/// What an engine's error says about IO.
pub(crate) trait IoCause: Sized {
    /// The operating system's error, when the engine failed on IO.
    fn io(&self) -> Option<&io::Error>;
    /// The operating system's error, or the error itself.
    fn into_io(self) -> Result<io::Error, Self>;
}
