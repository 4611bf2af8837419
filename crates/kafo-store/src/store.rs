//! [`Store`]: opening the store, its actor, metadata and per-peer state, totals.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use automerge::ActorId;
use tracing::{debug, info};

use crate::attest::Authoring;
use crate::engine::{Batch, Db};
use crate::error::{OpenStoreError, ReadError, WriteError};
use crate::keys;
use crate::records::decode_totals;
use crate::recovery::{self, DirLock};
use crate::schema::{self, Migration};
use crate::sealing::{StoreKey, Unlock};
use crate::space::{self, Space, SpaceGuard};

/// How long [`Store::open`] waits for the lock on the store (Kafo's, then sled's)
/// before reporting [`OpenStoreError::Locked`]. sled 0.34 releases its lock only when
/// the last of its threads lets go of the database, which can be some milliseconds
/// after the `Store` was dropped; a reopen right after a drop in the same process must
/// not fail.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(1);
/// How often [`Store::open`] retries the lock while waiting.
pub(crate) const LOCK_POLL: Duration = Duration::from_millis(15);

/// A device's durable store of household documents, their reconciliation index,
/// metadata and per-peer sync state. See the [crate documentation](crate).
///
/// `Store` is `Send + Sync`: share it behind an `Arc`. Reads run concurrently;
/// writes are serialised by a store-wide lock.
#[derive(Debug)]
pub struct Store {
    pub(crate) db: Db,
    /// The actor, signer and owner record of local edits; see [`crate::attest`].
    pub(crate) authoring: RwLock<Arc<Authoring>>,
    write_lock: Mutex<()>,
    path: PathBuf,
    space: SpaceGuard,
    /// Files left by interrupted writers that this opening removed.
    repaired: Vec<PathBuf>,
    /// Kafo's lock on the directory; declared last, so it is released after the engine.
    _dir_lock: DirLock,
}

/// Counters of what the store holds, kept up to date by every write (not by scanning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Households (documents).
    pub households: u64,
    /// Members across all households.
    pub members: u64,
    /// Visits across all households.
    pub visits: u64,
}

impl Store {
    /// Opens the store in `dir`, creating it (and `dir`) if it does not exist.
    ///
    /// Runs the schema migrations an older store needs. Every opening gets a fresh
    /// automerge actor ([`Store::actor`]), so a copied or restored store never
    /// reuses an actor/sequence pair (the layers above may rebind it with
    /// [`Store::set_actor`]). Only one `Store` may hold a directory at a time, across
    /// processes and within one: if the store is held, `open` retries for up to one
    /// second (sled releases a dropped store's lock asynchronously, from its own
    /// threads) and then returns [`OpenStoreError::Locked`].
    ///
    /// An encrypted store is refused with [`OpenStoreError::NeedsKey`]: open it with
    /// [`Store::open_encrypted`] or [`Store::open_unlocking`].
    pub fn open(dir: &Path) -> Result<Self, OpenStoreError> {
        Self::open_unlocking(dir, Unlock::Plain)
    }

    /// Opens the encrypted store in `dir` with its key, or creates a new encrypted
    /// store there (see [`crate::sealing`]). A wrong key is refused with
    /// [`OpenStoreError::WrongKey`], a plain store that holds data with
    /// [`OpenStoreError::NotEncrypted`]; either way nothing is changed.
    pub fn open_encrypted(dir: &Path, key: StoreKey) -> Result<Self, OpenStoreError> {
        Self::open_unlocking(dir, Unlock::Key(key))
    }

    /// Opens the store in `dir` as `unlock` says: [`Store::open`] and
    /// [`Store::open_encrypted`] in one, and [`Unlock::AskIfEncrypted`] for callers
    /// that ask for a passphrase only when the store needs one.
    pub fn open_unlocking(dir: &Path, unlock: Unlock<'_>) -> Result<Self, OpenStoreError> {
        Self::open_with(dir, unlock, schema::MIGRATIONS, schema::SCHEMA_VERSION)
    }

    /// Opens (or creates) a store in `dir` sealed like this one: encrypted with the
    /// same key when this one is, plain otherwise. Salvage builds its new store so.
    pub fn open_alike(&self, dir: &Path) -> Result<Self, OpenStoreError> {
        match self.db.sealing() {
            Some(sealing) => Self::open_unlocking(dir, Unlock::Like(sealing)),
            None => Self::open(dir),
        }
    }

    /// Whether the store is encrypted at rest.
    pub fn is_encrypted(&self) -> bool {
        self.db.sealing().is_some()
    }

    /// [`Store::open`] with a given migration table and target version (tests use their own).
    pub(crate) fn open_with(
        dir: &Path,
        unlock: Unlock<'_>,
        migrations: &[Migration],
        supported: u64,
    ) -> Result<Self, OpenStoreError> {
        let io_error = |source| OpenStoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let dir_lock = DirLock::acquire(dir)?;
        let mut repaired = recovery::remove_interrupted_files(dir).map_err(io_error)?;
        let marker = dir.join(MARKER_FILE);
        let existed = marker.try_exists().map_err(io_error)?;
        let mut db = open_on_full_disk(dir, &mut repaired)?;
        db.unlock(dir, unlock, existed)?;
        schema::bring_up_to_date(&db, dir, migrations, supported, existed)?;
        if !existed {
            write_marker(dir, &marker).map_err(io_error)?;
        }
        space::restore_reserve(dir);
        let actor = ActorId::random();
        info!("store opened");
        debug!(path = %dir.display(), actor = %actor, "store opened");
        Ok(Self {
            db,
            authoring: RwLock::new(Arc::new(Authoring::new(actor))),
            write_lock: Mutex::new(()),
            path: dir.to_path_buf(),
            space: SpaceGuard::new(dir),
            repaired,
            _dir_lock: dir_lock,
        })
    }

    /// Files that interrupted writers had left in the store directory (an
    /// unfinished sled snapshot) and that this opening removed, so that the store
    /// opens with its data intact.
    pub fn repaired_files(&self) -> &[PathBuf] {
        &self.repaired
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The automerge actor of this opening of the store: every document the store
    /// loads or creates edits as this actor. Fresh at each [`Store::open`]; rebound
    /// by [`Store::set_actor`].
    pub fn actor(&self) -> ActorId {
        self.authoring().actor.clone()
    }

    /// Reads a metadata value stored by [`Store::put_meta`].
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self.db.get(keys::meta(key))?.map(|value| value.to_vec()))
    }

    /// Stores an opaque metadata value for the layers above (e.g. the device
    /// identity); durable when this returns.
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), WriteError> {
        let mut batch = Batch::default();
        batch.insert(keys::meta(key), value);
        self.write_batch(batch)
    }

    /// Reads the sync layer's opaque state for a peer.
    pub fn peer_state(&self, peer: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self.db.get(keys::peer(peer))?.map(|value| value.to_vec()))
    }

    /// Stores the sync layer's opaque state for a peer; durable when this returns.
    pub fn put_peer_state(&self, peer: &[u8], state: &[u8]) -> Result<(), WriteError> {
        let mut batch = Batch::default();
        batch.insert(keys::peer(peer), state);
        self.write_batch(batch)
    }

    /// Forgets a peer's state; durable when this returns.
    pub fn remove_peer_state(&self, peer: &[u8]) -> Result<(), WriteError> {
        let mut batch = Batch::default();
        batch.remove(keys::peer(peer));
        self.write_batch(batch)
    }

    /// How many households (documents) the store holds.
    pub fn len(&self) -> Result<u64, ReadError> {
        Ok(self.totals()?.households)
    }

    /// Whether the store holds no household.
    pub fn is_empty(&self) -> Result<bool, ReadError> {
        Ok(self.len()? == 0)
    }

    /// Households, members and visits in the store, from counters kept by every write.
    pub fn totals(&self) -> Result<Totals, ReadError> {
        match self.db.get(keys::TOTALS)? {
            Some(bytes) => decode_totals(keys::TOTALS, &bytes),
            None => Err(ReadError::corrupt_record(keys::TOTALS, "missing")),
        }
    }

    /// The free space of the disk the store lives on, and whether the reserve that
    /// lets it open on a full disk is in place.
    pub fn space(&self) -> std::io::Result<Space> {
        self.space.space()
    }

    /// Bytes the store's files take on disk.
    pub fn size_on_disk(&self) -> Result<u64, ReadError> {
        Ok(self.db.size_on_disk()?)
    }

    /// The storage engine this build uses: `sled`, or `redb` with the `engine-redb` feature.
    pub fn engine(&self) -> &'static str {
        crate::engine::engine_name()
    }

    /// Takes the store-wide write lock. A writer that panicked leaves nothing half
    /// written (every write is one atomic batch), so a poisoned lock is still usable.
    pub(crate) fn lock_writes(&self) -> MutexGuard<'_, ()> {
        self.write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies one batch atomically and flushes it.
    /// Refuses it, writing nothing, when the disk is nearly full (see [`crate::space`]).
    pub(crate) fn write_batch(&self, batch: Batch) -> Result<(), WriteError> {
        self.space
            .check()
            .map_err(|(free, margin)| WriteError::DiskFull { free, margin })?;
        self.db.apply(batch)
    }
}

/// Written (durably) once a store is initialised. sled recovers a log it cannot
/// read as an empty database (and redb a file it cannot read could look new), so without this file a damaged store would silently
/// open as a new, empty one; with it, a store that lost its records is `Corrupt`.
const MARKER_FILE: &str = "kafo-store";

fn write_marker(dir: &Path, marker: &Path) -> std::io::Result<()> {
    let mut file = File::create(marker)?;
    file.write_all(b"kafo store: the database in this directory holds Kafo's documents\n")?;
    file.sync_all()?;
    // Make the new directory entry durable too.
    File::open(dir)?.sync_all()
}

/// Opens the engine; on a full disk, releases the store's reserve and tries once more.
fn open_on_full_disk(dir: &Path, repaired: &mut Vec<PathBuf>) -> Result<Db, OpenStoreError> {
    match Db::open(dir) {
        Err(OpenStoreError::DiskFull { .. }) if space::release_reserve(dir) => {
            // The failed open may have left a snapshot it could not finish.
            let removed =
                recovery::remove_interrupted_files(dir).map_err(|source| OpenStoreError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            repaired.extend(removed);
            Db::open(dir)
        }
        other => other,
    }
}
