//! redb, the engine measured against sled (`docs/storage.md`): the store's records
//! in one table of one file, every batch one write transaction committed with
//! fsync (`Durability::Immediate`, redb's default) before it is acknowledged.
//!
//! redb reads are snapshots (each read runs in its own read transaction), so an
//! iteration sees the store as it was when it started.

use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use redb::{
    Database, DatabaseError, ReadOnlyTable, ReadableDatabase, ReadableTable, StorageError,
    TableDefinition, TableError,
};

use crate::engine::{EngineError, IoCause};
use crate::error::{OpenStoreError, ReadError, WriteError};
use crate::keys::KeyRange;

/// The engine's name, as reported by [`crate::engine_name`].
pub(crate) const NAME: &str = "redb";

/// redb's error.
pub(crate) type Inner = redb::Error;

/// The database file in the store directory.
pub(crate) const DATA_FILE: &str = "kafo.redb";

/// The one table that holds every record, so that every write is one transaction.
const RECORDS: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new("records");

/// redb's page cache bound, as sled's: 64 MiB instead of redb's default of 1 GiB.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl IoCause for redb::Error {
    fn io(&self) -> Option<&io::Error> {
        match self {
            redb::Error::Io(error) => Some(error),
            _ => None,
        }
    }

    fn into_io(self) -> Result<io::Error, Self> {
        match self {
            redb::Error::Io(error) => Ok(error),
            other => Err(other),
        }
    }
}

fn engine_error(error: impl Into<redb::Error>) -> EngineError {
    EngineError::from(error.into())
}

/// The store's redb database.
#[derive(Debug)]
pub(crate) struct Db {
    db: Database,
    file: PathBuf,
}

/// A value as the engine returns it.
pub(crate) type Value = Vec<u8>;

/// One atomic write: the store's own batch (the operations in order, `None`
/// removing the key), its values already sealed when the store is encrypted.
pub(crate) use super::db::Batch;

/// Records in key order, from one read transaction.
pub(crate) enum Iter {
    Range(Box<redb::OwnedRange<&'static [u8], &'static [u8]>>),
    /// The read transaction could not start: yields the error once.
    Failed(Option<EngineError>),
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>), EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Range(range) => Some(
                range
                    .next()?
                    .map(|(key, value)| (key.value().to_vec(), value.value().to_vec()))
                    .map_err(engine_error),
            ),
            Self::Failed(error) => error.take().map(Err),
        }
    }
}

impl Db {
    /// Opens (or creates) the database file in `dir`. redb repairs a file that was
    /// not closed cleanly (a kill, a power cut) as it opens it.
    pub(crate) fn open(dir: &Path) -> Result<Self, OpenStoreError> {
        let file = dir.join(DATA_FILE);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&file)
            .map_err(|error| open_error(dir, error))?;
        let db = Self { db, file };
        db.create_table().map_err(|error| match error {
            WriteError::Apply(source) | WriteError::Flush(source) => open_engine_error(dir, source),
            WriteError::Read(source) => OpenStoreError::Corrupt {
                path: dir.to_path_buf(),
                source,
            },
            WriteError::DiskFull { .. } => OpenStoreError::DiskFull {
                path: dir.to_path_buf(),
            },
        })?;
        Ok(db)
    }

    /// Creates the records table in a new database (a no-op, without a commit, once it exists).
    fn create_table(&self) -> Result<(), WriteError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| WriteError::Apply(engine_error(e)))?;
        match read.open_table(RECORDS) {
            Ok(_) => return Ok(()),
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(error) => return Err(WriteError::Apply(engine_error(error))),
        }
        drop(read);
        self.apply(Batch::default())
    }

    fn table(&self) -> Result<ReadOnlyTable<&'static [u8], &'static [u8]>, EngineError> {
        let read = self.db.begin_read().map_err(engine_error)?;
        read.open_table(RECORDS).map_err(engine_error)
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, EngineError> {
        let table = self.table()?;
        let value = table.get(key.as_ref()).map_err(engine_error)?;
        Ok(value.map(|value| value.value().to_vec()))
    }

    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, EngineError> {
        let table = self.table()?;
        let found = table.get(key.as_ref()).map_err(engine_error)?.is_some();
        Ok(found)
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let start = prefix.as_ref();
        let end = prefix_end(start);
        let upper = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.iter((Bound::Included(start), upper))
    }

    /// The records in `range`, in key order.
    pub(crate) fn range(&self, range: KeyRange) -> Iter {
        self.iter((
            range.start.as_ref().map(Vec::as_slice),
            range.end.as_ref().map(Vec::as_slice),
        ))
    }

    fn iter(&self, bounds: (Bound<&[u8]>, Bound<&[u8]>)) -> Iter {
        let range = self
            .table()
            .and_then(|table| table.range_owned(bounds).map_err(engine_error));
        match range {
            Ok(range) => Iter::Range(Box::new(range)),
            Err(error) => Iter::Failed(Some(error)),
        }
    }

    /// Whether the database holds no record at all.
    pub(crate) fn is_empty(&self) -> Result<bool, EngineError> {
        let table = self.table()?;
        let empty = table.first().map_err(engine_error)?.is_none();
        Ok(empty)
    }

    /// Applies `batch` in one write transaction and commits it with fsync: durable
    /// when this returns. A failed commit leaves nothing of the batch.
    pub(crate) fn apply(&self, batch: Batch) -> Result<(), WriteError> {
        fn apply(error: impl Into<redb::Error>) -> WriteError {
            WriteError::Apply(engine_error(error))
        }
        let write = self.db.begin_write().map_err(apply)?;
        {
            let mut table = write.open_table(RECORDS).map_err(apply)?;
            for (key, value) in batch.operations() {
                match value {
                    Some(value) => table.insert(key.as_slice(), value.as_slice()),
                    None => table.remove(key.as_slice()).map(|_| None),
                }
                .map_err(apply)?;
            }
        }
        write
            .commit()
            .map_err(|e| WriteError::Flush(engine_error(e)))
    }

    /// Bytes the database file takes on disk.
    pub(crate) fn size_on_disk(&self) -> Result<u64, EngineError> {
        std::fs::metadata(&self.file)
            .map(|meta| meta.len())
            .map_err(|error| EngineError::from(redb::Error::Io(error)))
    }
}

/// Maps redb's error at open to what the caller can act on.
fn open_error(dir: &Path, error: DatabaseError) -> OpenStoreError {
    match error {
        // Kafo's own lock is taken first, so this is another handle in this process.
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            OpenStoreError::Locked {
                path: dir.to_path_buf(),
            }
        }
        DatabaseError::Storage(StorageError::Io(source)) => open_io_error(dir, source),
        other => open_engine_error(dir, engine_error(other)),
    }
}

fn open_engine_error(dir: &Path, error: EngineError) -> OpenStoreError {
    match error.into_io() {
        Ok(source) => open_io_error(dir, source),
        Err(other) => OpenStoreError::Corrupt {
            path: dir.to_path_buf(),
            source: ReadError::Storage(other),
        },
    }
}

fn open_io_error(dir: &Path, source: io::Error) -> OpenStoreError {
    let path = dir.to_path_buf();
    if crate::space::is_disk_full(&source) {
        OpenStoreError::DiskFull { path }
    } else if source.kind() == io::ErrorKind::InvalidData {
        // redb's word for a file that is not a database it can read (a magic number
        // mismatch): damage, not an IO failure.
        OpenStoreError::Corrupt {
            path,
            source: ReadError::Storage(EngineError::from(redb::Error::Io(source))),
        }
    } else {
        OpenStoreError::Io { path, source }
    }
}

/// The first key after every key that starts with `prefix`, or `None` when there is
/// none (the prefix is empty or all `0xFF`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_the_next_key_that_does_not_start_with_it() {
        assert_eq!(prefix_end(b"d/"), Some(b"d0".to_vec()));
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
