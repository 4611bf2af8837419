//! sled, the chosen engine: the store's records in sled's default tree, zstd on its
//! pages, every batch applied atomically and flushed before it is acknowledged.

use std::io::{self, ErrorKind};
use std::ops::Bound;
use std::path::Path;
use std::time::Instant;

use crate::engine::{EngineError, IoCause};
use crate::error::{OpenStoreError, ReadError, WriteError};
use crate::keys::KeyRange;
use crate::store::{LOCK_POLL, LOCK_WAIT};

/// The engine's name, as reported by [`crate::engine_name`].
pub(crate) const NAME: &str = "sled";

/// sled's error.
pub(crate) type Inner = sled::Error;

/// sled's page cache bound. sled counts each cached page at its size in the log,
/// which zstd has compressed, so the cache takes about six times this in memory.
/// Measured (docs/report-bench.md): reading a 62,400-household store whole peaked at
/// 305 MiB with 64 MiB here, 111 MiB with 16, 73 MiB with 8 and 55 MiB with 4, and
/// took 8.8 s with 64, 2.4 s with the others. Importing 6,840 households took
/// 11.0-11.7 s with 64, 10.9-11.6 s with 16, 11.8-12.0 s with 4 and, in a later run,
/// 12.1-12.6 s with 8.
const CACHE_CAPACITY: u64 = 8 * 1024 * 1024;

impl IoCause for sled::Error {
    fn io(&self) -> Option<&io::Error> {
        match self {
            sled::Error::Io(error) => Some(error),
            _ => None,
        }
    }

    fn into_io(self) -> Result<io::Error, Self> {
        match self {
            sled::Error::Io(error) => Ok(error),
            other => Err(other),
        }
    }
}

/// The store's sled database.
#[derive(Debug)]
pub(crate) struct Db(sled::Db);

/// A value as the engine returns it.
pub(crate) type Value = sled::IVec;

/// One atomic write.
#[derive(Debug, Default)]
pub(crate) struct Batch(sled::Batch);

impl Batch {
    /// Sets `key` to `value`.
    pub(crate) fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.0.insert(key.as_ref(), value.as_ref());
    }

    /// Removes `key`.
    pub(crate) fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.0.remove(key.as_ref());
    }
}

/// Records in key order; not a snapshot.
pub(crate) struct Iter(sled::Iter);

impl Iterator for Iter {
    type Item = Result<(sled::IVec, sled::IVec), EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.0.next()?.map_err(EngineError::from))
    }
}

impl Db {
    /// Opens (or creates) the database in `dir`, retrying a lock conflict for up to
    /// [`LOCK_WAIT`]: sled 0.34 releases its lock only when the last of its threads
    /// lets go of a dropped database, some milliseconds after the drop.
    pub(crate) fn open(dir: &Path) -> Result<Self, OpenStoreError> {
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_CAPACITY)
            .mode(sled::Mode::LowSpace)
            // zstd on sled's pages: a district caseload takes ~17 MB instead of ~26 MB
            // (sled rewrites whole leaves, so its files hold about twice the live
            // data). Level 1: level 3 saves almost nothing more. sled refuses to open
            // a store with a different setting, so this is part of the format.
            .use_compression(true)
            .compression_factor(1)
            // Every write flushes before it returns; a background flusher adds nothing.
            .flush_every_ms(None);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match config.open() {
                Ok(db) => return Ok(Self(db)),
                Err(sled::Error::Io(source))
                    if is_lock_conflict(&source) && Instant::now() < deadline =>
                {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(err) => return Err(open_error(dir, err)),
            }
        }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<sled::IVec>, EngineError> {
        self.0.get(key).map_err(EngineError::from)
    }

    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, EngineError> {
        self.0.contains_key(key).map_err(EngineError::from)
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        Iter(self.0.scan_prefix(prefix))
    }

    /// The records in `range`, in key order.
    pub(crate) fn range(&self, range: KeyRange) -> Iter {
        Iter(self.0.range(range))
    }

    /// Whether the database holds no record at all.
    pub(crate) fn is_empty(&self) -> Result<bool, EngineError> {
        Ok(self.0.first().map_err(EngineError::from)?.is_none())
    }

    /// Applies `batch` atomically and flushes it: durable when this returns.
    pub(crate) fn apply(&self, batch: Batch) -> Result<(), WriteError> {
        self.0
            .apply_batch(batch.0)
            .map_err(|e| WriteError::Apply(EngineError::from(e)))?;
        self.0
            .flush()
            .map_err(|e| WriteError::Flush(EngineError::from(e)))?;
        Ok(())
    }

    /// Bytes the database's files take on disk.
    pub(crate) fn size_on_disk(&self) -> Result<u64, EngineError> {
        self.0.size_on_disk().map_err(EngineError::from)
    }
}

/// Maps sled's error at open to what the caller can act on.
fn open_error(dir: &Path, err: sled::Error) -> OpenStoreError {
    let path = dir.to_path_buf();
    match err {
        sled::Error::Io(source) if is_lock_conflict(&source) => OpenStoreError::Locked { path },
        // What the failed snapshot left behind is removed by the next open.
        sled::Error::Io(source) if crate::space::is_disk_full(&source) => {
            OpenStoreError::DiskFull { path }
        }
        sled::Error::Io(source) => OpenStoreError::Io { path, source },
        other => OpenStoreError::Corrupt {
            path,
            source: ReadError::Storage(EngineError::from(other)),
        },
    }
}

/// Whether sled failed to take its exclusive lock on the store. sled 0.34 turns the
/// failed `flock` into an `Other` io error with this message (sled `config.rs`,
/// `try_lock`), dropping the original kind; the store tests pin the behaviour.
fn is_lock_conflict(err: &io::Error) -> bool {
    err.kind() == ErrorKind::Other && err.to_string().starts_with("could not acquire lock")
}

/// sled reads key ranges through `RangeBounds`.
impl std::ops::RangeBounds<Vec<u8>> for KeyRange {
    fn start_bound(&self) -> Bound<&Vec<u8>> {
        self.start.as_ref()
    }

    fn end_bound(&self) -> Bound<&Vec<u8>> {
        self.end.as_ref()
    }
}
