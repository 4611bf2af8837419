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

#[cfg(not(feature = "engine-redb"))]
mod sled_engine;
#[cfg(not(feature = "engine-redb"))]
pub(crate) use sled_engine::{Batch, Db, Inner, Iter, NAME, Value};

#[cfg(feature = "engine-redb")]
mod redb_engine;
#[cfg(feature = "engine-redb")]
pub(crate) use redb_engine::{Batch, Db, Inner, Iter, NAME, Value};

/// The name of the storage engine this build of the store uses (`sled` or `redb`).
pub fn engine_name() -> &'static str {
    NAME
}

/// An error of the storage engine: an IO error, or damage it found in its files.
pub struct EngineError(pub(crate) Inner);

impl EngineError {
    /// Whether the engine failed because the disk (or the user's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        self.io().is_some_and(crate::space::is_disk_full)
    }

    /// The operating system's error, when the engine failed on IO.
    pub fn io(&self) -> Option<&io::Error> {
        self.0.io()
    }

    /// The operating system's error, when the engine failed on IO; else the error itself.
    pub(crate) fn into_io(self) -> Result<io::Error, Self> {
        self.0.into_io().map_err(Self)
    }
}

impl fmt::Debug for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

/// What an engine's error says about IO.
pub(crate) trait IoCause: Sized {
    /// The operating system's error, when the engine failed on IO.
    fn io(&self) -> Option<&io::Error>;
    /// The operating system's error, or the error itself.
    fn into_io(self) -> Result<io::Error, Self>;
}
