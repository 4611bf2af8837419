//! The store's view of the engine: the engine's records, sealed when the store is
//! encrypted ([`crate::sealing`]), in the clear otherwise. Every read and write of
//! the store goes through [`Db`], so no value reaches the engine unsealed.

use std::path::Path;
use std::sync::Arc;

use crate::engine::{EngineError, RawBatch, RawDb, RawIter, Value};
use crate::error::{OpenStoreError, WriteError};
use crate::keys::KeyRange;
use crate::sealing::{HEADER_KEY, KeyMismatch, Sealing, Unlock};

/// The store's database: the engine, and the sealing of an encrypted store.
#[derive(Debug)]
pub(crate) struct Db {
    raw: RawDb,
    sealing: Option<Arc<Sealing>>,
}

/// One atomic write: its records are sealed when it is applied.
#[derive(Debug, Default)]
pub(crate) struct Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl Batch {
    /// Sets `key` to `value`.
    pub(crate) fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.0
            .push((key.as_ref().to_vec(), Some(value.as_ref().to_vec())));
    }

    /// Removes `key`.
    pub(crate) fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.0.push((key.as_ref().to_vec(), None));
    }

    /// The operations in order, `None` removing the key.
    #[cfg(feature = "engine-redb")]
    pub(super) fn operations(&self) -> &[(Vec<u8>, Option<Vec<u8>>)] {
        &self.0
    }
}

/// Records in key order, opened; not a snapshot.
pub(crate) struct Iter {
    raw: RawIter,
    sealing: Option<Arc<Sealing>>,
}

impl Iterator for Iter {
    type Item = Result<(Value, Value), EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, value) = match self.raw.next()? {
                Ok(record) => record,
                Err(error) => return Some(Err(error)),
            };
            if AsRef::<[u8]>::as_ref(&key) == HEADER_KEY {
                continue;
            }
            return Some(match &self.sealing {
                None => Ok((key, value)),
                Some(sealing) => open(sealing, &key, &value).map(|value| (key, value)),
            });
        }
    }
}

/// A sealed value opened, or the error that names its record.
fn open(sealing: &Sealing, key: &[u8], sealed: &[u8]) -> Result<Value, EngineError> {
    sealing
        .open_value(key, sealed)
        .map(Value::from)
        .ok_or_else(|| EngineError::unsealable(key))
}

impl Db {
    /// Opens the engine in `dir`; the store is read in the clear until [`Db::unlock`].
    pub(crate) fn open(dir: &Path) -> Result<Self, OpenStoreError> {
        Ok(Self {
            raw: RawDb::open(dir)?,
            sealing: None,
        })
    }

    /// Applies `unlock` to the freshly opened engine: reads the sealing header,
    /// checks the key (or writes a new header into a new store). `existed` says the
    /// store was initialised before. Refuses, changing nothing, when the key is
    /// missing or wrong, or when a plain store with data is opened with a key.
    pub(crate) fn unlock(
        &mut self,
        dir: &Path,
        unlock: Unlock<'_>,
        existed: bool,
    ) -> Result<(), OpenStoreError> {
        let path = || dir.to_path_buf();
        let corrupt = |error: EngineError| OpenStoreError::Corrupt {
            path: path(),
            source: error.into(),
        };
        let header = self.raw.get(HEADER_KEY).map_err(corrupt)?;
        let sealing = match (header, unlock) {
            (None, Unlock::Plain | Unlock::AskIfEncrypted(_)) => return Ok(()),
            (Some(_), Unlock::Plain) => return Err(OpenStoreError::NeedsKey { path: path() }),
            (Some(header), Unlock::AskIfEncrypted(ask)) => {
                let key = ask().map_err(|reason| OpenStoreError::KeyUnavailable {
                    path: path(),
                    reason,
                })?;
                Sealing::open(&header, &key)
            }
            (Some(header), Unlock::Key(key)) => Sealing::open(&header, &key),
            (Some(header), Unlock::Like(like))
                if AsRef::<[u8]>::as_ref(&header) == like.header() =>
            {
                Ok(like.duplicate())
            }
            (Some(_), Unlock::Like(_)) => Err(KeyMismatch::WrongKey),
            (None, Unlock::Key(_) | Unlock::Like(_)) if existed || !self.raw_is_empty(dir)? => {
                return Err(OpenStoreError::NotEncrypted { path: path() });
            }
            (None, Unlock::Key(key)) => {
                let sealing = Sealing::create(&key).map_err(|mismatch| key_error(dir, mismatch))?;
                self.write_header(dir, &sealing)?;
                Ok(sealing)
            }
            (None, Unlock::Like(like)) => {
                let sealing = like.duplicate();
                self.write_header(dir, &sealing)?;
                Ok(sealing)
            }
        };
        self.sealing = Some(Arc::new(
            sealing.map_err(|mismatch| key_error(dir, mismatch))?,
        ));
        Ok(())
    }

    /// Writes a new store's sealing header, durably, before any sealed record.
    fn write_header(&self, dir: &Path, sealing: &Sealing) -> Result<(), OpenStoreError> {
        let mut batch = RawBatch::default();
        batch.insert(HEADER_KEY, sealing.header());
        self.raw
            .apply(batch)
            .map_err(|source| OpenStoreError::Init {
                path: dir.to_path_buf(),
                source,
            })
    }

    fn raw_is_empty(&self, dir: &Path) -> Result<bool, OpenStoreError> {
        self.raw
            .is_empty()
            .map_err(|error| OpenStoreError::Corrupt {
                path: dir.to_path_buf(),
                source: error.into(),
            })
    }

    /// The sealing of an encrypted store; `None` for a plain one.
    pub(crate) fn sealing(&self) -> Option<&Sealing> {
        self.sealing.as_deref()
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, EngineError> {
        let key = key.as_ref();
        let Some(value) = self.raw.get(key)? else {
            return Ok(None);
        };
        match &self.sealing {
            None => Ok(Some(value)),
            Some(sealing) => open(sealing, key, &value).map(Some),
        }
    }

    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, EngineError> {
        self.raw.contains_key(key)
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        Iter {
            raw: self.raw.scan_prefix(prefix),
            sealing: self.sealing.clone(),
        }
    }

    /// The records in `range`, in key order.
    pub(crate) fn range(&self, range: KeyRange) -> Iter {
        Iter {
            raw: self.raw.range(range),
            sealing: self.sealing.clone(),
        }
    }

    /// Whether the database holds no record but the sealing header.
    pub(crate) fn is_empty(&self) -> Result<bool, EngineError> {
        match self.scan_prefix(b"").next() {
            None => Ok(true),
            Some(record) => record.map(|_| false),
        }
    }

    /// Applies `batch` atomically, sealed, and flushes it: durable when this returns.
    pub(crate) fn apply(&self, batch: Batch) -> Result<(), WriteError> {
        let mut raw = RawBatch::default();
        for (key, value) in batch.0 {
            match (value, &self.sealing) {
                (None, _) => raw.remove(key),
                (Some(value), None) => raw.insert(key, value),
                (Some(value), Some(sealing)) => {
                    let sealed = sealing.seal(&key, &value);
                    raw.insert(key, sealed);
                }
            }
        }
        self.raw.apply(raw)
    }

    /// Bytes the database's files take on disk.
    pub(crate) fn size_on_disk(&self) -> Result<u64, EngineError> {
        self.raw.size_on_disk()
    }
}

/// The open error for a key that does not open the store.
fn key_error(dir: &Path, mismatch: KeyMismatch) -> OpenStoreError {
    let path = dir.to_path_buf();
    match mismatch {
        KeyMismatch::WrongKey | KeyMismatch::PassphraseForAppKey => {
            OpenStoreError::WrongKey { path }
        }
        KeyMismatch::BadHeader(what) => OpenStoreError::Corrupt {
            path,
            source: crate::error::ReadError::corrupt_record(HEADER_KEY, what),
        },
    }
}
