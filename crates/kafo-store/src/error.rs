//! The errors of the store, one enum per operation.

use std::io;
use std::path::PathBuf;

use automerge::AutomergeError;
use kafo_model::{DocumentError, HouseholdId};

use crate::engine::EngineError;

/// Why [`Store::open`](crate::Store::open) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// Another process (or another `Store` in this process) holds the store.
    #[error("store {path} is in use by another process")]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The store's files are damaged or are not a Kafo store.
    #[error("store {path} is damaged: {source}")]
    Corrupt {
        /// The store directory.
        path: PathBuf,
        /// What was found damaged.
        source: ReadError,
    },
    /// The store was written by a newer Kafo, with a schema this version does not know.
    #[error("store has schema version {found}, this Kafo supports up to {supported}")]
    UnsupportedVersion {
        /// The schema version of the store.
        found: u64,
        /// The newest schema version this code reads.
        supported: u64,
    },
    /// The disk is full: opening needs a little space (sled writes a snapshot of
    /// its page table, redb repairs a file that was not closed cleanly), and the
    /// store's reserve was already used up. Nothing was
    /// changed; free some space and open again.
    #[error("store {path}: the disk is full; free some space and try again (no record was lost)")]
    DiskFull {
        /// The store directory.
        path: PathBuf,
    },
    /// The store's files could not be created, read or written.
    #[error("store {path}: {source}")]
    Io {
        /// The store directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The store is encrypted and was opened without its key. Nothing was read or
    /// changed.
    #[error(
        "store {path} is encrypted: open it with its key (the CLI reads KAFO_PASSPHRASE or asks for the passphrase)"
    )]
    NeedsKey {
        /// The store directory.
        path: PathBuf,
    },
    /// The key (or passphrase) does not open this encrypted store. Nothing was read
    /// or changed.
    #[error("store {path}: wrong key or passphrase for this encrypted store")]
    WrongKey {
        /// The store directory.
        path: PathBuf,
    },
    /// A key was given for a store that already holds data in the clear. A store
    /// cannot be encrypted in place: export its households and import them into a
    /// new encrypted store.
    #[error(
        "store {path} is not encrypted: to encrypt its data, export it (`kafo export`) and import it into a new store made with `kafo init --encrypt`"
    )]
    NotEncrypted {
        /// The store directory.
        path: PathBuf,
    },
    /// The store is encrypted and its key could not be had (no passphrase given).
    #[error("store {path} is encrypted and no key was given: {reason}")]
    KeyUnavailable {
        /// The store directory.
        path: PathBuf,
        /// Why the key could not be had.
        reason: String,
    },
    /// Writing a new store's first record failed; nothing else was written.
    #[error("initialising store {path}: {source}")]
    Init {
        /// The store directory.
        path: PathBuf,
        /// What went wrong.
        source: WriteError,
    },
    /// Upgrading the store to the current schema failed; the store keeps the
    /// version of the last migration that completed.
    #[error("migrating store {path} from schema version {from}: {source}")]
    Migration {
        /// The store directory.
        path: PathBuf,
        /// The schema version the failed migration started from.
        from: u64,
        /// What went wrong.
        source: MigrationError,
    },
}

/// Why a schema migration failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// No migration leads from this schema version to the next.
    #[error("no migration from schema version {from}")]
    Missing {
        /// The version without a migration.
        from: u64,
    },
    /// Reading or writing the store during the migration failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Why a read of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The storage engine failed: an IO error, or damage it detected in its own files.
    #[error("storage engine: {0}")]
    Storage(#[from] EngineError),
    /// A record the store wrote does not decode.
    #[error("store record `{key}` is damaged: {what}")]
    CorruptRecord {
        /// The record's key, printable.
        key: String,
        /// What does not decode.
        what: &'static str,
    },
    /// A stored document does not load.
    #[error("stored document {id} is damaged: {damage}")]
    CorruptDocument {
        /// The household.
        id: HouseholdId,
        /// What is wrong with it.
        damage: DocumentDamage,
    },
}

impl ReadError {
    /// Whether the read failed because the disk is full (sled may write while it reads).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::Storage(error) if error.is_disk_full())
    }

    pub(crate) fn corrupt_record(key: &[u8], what: &'static str) -> Self {
        Self::CorruptRecord {
            key: key.escape_ascii().to_string(),
            what,
        }
    }
}

/// What is wrong with a stored document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentDamage {
    /// The index has an entry for it but there is no snapshot.
    #[error("snapshot missing")]
    MissingSnapshot,
    /// Its change chunks are not the ones its index entry lists.
    #[error("change chunks do not match the index")]
    ChunkSequence,
    /// Automerge does not load its bytes.
    #[error("does not load: {0}")]
    Load(#[source] Box<AutomergeError>),
    /// Its bytes load to heads other than the ones indexed.
    #[error("heads differ from the index")]
    HeadsMismatch,
}

/// Why a write of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Reading the state the write builds on failed; nothing was written.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The disk is nearly full: the write was refused before it started, so that
    /// the store can still open and be read. Nothing was written.
    #[error(
        "the disk is full: {} free, and Kafo keeps {} free so that the store stays readable",
        human_bytes(*free),
        human_bytes(*margin)
    )]
    DiskFull {
        /// Bytes free on the store's filesystem.
        free: u64,
        /// The free space a write must leave.
        margin: u64,
    },
    /// The storage engine refused the batch; nothing was written.
    #[error("applying the write: {0}")]
    Apply(#[source] EngineError),
    /// The storage engine failed to make the batch durable: on sled it is visible to
    /// this process but may be lost in a crash (on redb the commit failed and nothing
    /// of it is visible). Treat the store as failed.
    #[error("flushing the write to disk: {0}")]
    Flush(#[source] EngineError),
}

impl WriteError {
    /// Whether the write failed because the disk is full (refused by the guard,
    /// or failed in sled for want of space).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::DiskFull { .. } => true,
            Self::Apply(error) | Self::Flush(error) => error.is_disk_full(),
            Self::Read(error) => error.is_disk_full(),
        }
    }
}

/// Bytes in KiB or MiB with one decimal, for messages.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// Why a document is not one the store accepts under a given id.
#[derive(Debug, thiserror::Error)]
pub enum InvalidDocument {
    /// It is not a valid household document.
    #[error(transparent)]
    Layout(#[from] DocumentError),
    /// It lacks changes it must contain: the stored changes it was loaded with (it
    /// was replaced rather than edited), or the dependencies of changes it holds
    /// back. Writing it would lose them or break the stored document.
    #[error("document lacks {missing} change(s) it builds on")]
    MissingChanges {
        /// How many changes are missing.
        missing: usize,
    },
    /// It is the document of another household.
    #[error("document is household {found}, expected {expected}")]
    WrongId {
        /// The id it is stored under.
        expected: HouseholdId,
        /// The id the document holds.
        found: HouseholdId,
    },
}

/// Why [`Store::update`](crate::Store::update) or
/// [`Store::update_many`](crate::Store::update_many) failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    /// The caller's edit returned an error.
    #[error("editing household {id}: {source}")]
    Edit {
        /// The household being edited.
        id: HouseholdId,
        /// The edit's error.
        source: E,
    },
    /// The edited document is not a valid household document with this id.
    #[error("household {id} after the edit: {source}")]
    Invalid {
        /// The household being edited.
        id: HouseholdId,
        /// What is wrong with it.
        source: InvalidDocument,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Why [`Store::commit`](crate::Store::commit) failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// These documents were written by someone else since they were loaded; load
    /// them again and redo their edits.
    #[error("{} household(s) changed since they were loaded, e.g. {}", ids.len(), first_id(ids))]
    Stale {
        /// The stale households, in id order.
        ids: Vec<HouseholdId>,
    },
    /// A document is not a valid household document with its id.
    #[error("household {id}: {source}")]
    Invalid {
        /// The household.
        id: HouseholdId,
        /// What is wrong with it.
        source: InvalidDocument,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn first_id(ids: &[HouseholdId]) -> &str {
    ids.first().map_or("", HouseholdId::as_str)
}

/// Why [`Store::apply_changes`](crate::Store::apply_changes) or
/// [`Store::apply_document`](crate::Store::apply_document) failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The bytes are not automerge changes or a saved automerge document.
    #[error("changes for household {id} do not decode: {source}")]
    Malformed {
        /// The household.
        id: HouseholdId,
        /// Automerge's reason.
        source: Box<AutomergeError>,
    },
    /// The changes depend on changes the store does not have.
    #[error("changes for household {id} depend on {missing} change(s) the store does not have")]
    MissingDependencies {
        /// The household.
        id: HouseholdId,
        /// How many changes are missing.
        missing: usize,
    },
    /// With the changes applied, the document is not a valid household document with its id.
    #[error("household {id} with the changes: {source}")]
    Invalid {
        /// The household.
        id: HouseholdId,
        /// What is wrong with it.
        source: InvalidDocument,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}
