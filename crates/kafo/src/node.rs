//! [`Node`]: one device's Kafo: its store and identity, and the operations a
//! client app or the CLI performs on its caseload.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kafo_model::HouseholdId;
use kafo_store::{OpenStoreError, ReadError, Store, StoreKey, Unlock, WriteError};
use tokio::sync::watch;
use tracing::info;

use crate::changes::{Change, ChangeFeed};
use crate::identity::{DeviceId, DeviceIdentity, IdentityDecodeError, META_DEVICE_KEY};
use crate::trust::state::{TrustState, TrustStateError};

/// A device's Kafo: a durable store of household documents and the device identity.
///
/// Opening creates the store and identity if they do not exist (so `open` is also
/// `init`, and is idempotent). Only one process may hold a store at a time.
#[derive(Debug)]
pub struct Node {
    pub(crate) store: Store,
    identity: DeviceIdentity,
    data_dir: PathBuf,
    /// Bumped after every durable write through this node (see [`Node::changes`]).
    changes: watch::Sender<u64>,
    /// Subscribers to the households each write changed (see [`Node::subscribe`]).
    pub(crate) feed: ChangeFeed,
    /// Serialises the read-modify-write of the persisted peer records.
    pub(crate) peer_records: Mutex<()>,
    /// The program this device belongs to and what it knows of it.
    pub(crate) trust: TrustState,
}

/// Why a device's store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store itself could not be opened (in use, corrupt, newer version, I/O).
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// The device identity could not be read from the store.
    #[error("reading the device identity: {0}")]
    ReadIdentity(#[source] ReadError),
    /// A new device identity could not be saved.
    #[error("saving the device identity: {0}")]
    SaveIdentity(#[source] WriteError),
    /// The stored device identity is damaged.
    #[error(transparent)]
    Identity(#[from] IdentityDecodeError),
    /// The stored trust state (program, certificates, revocations) is damaged.
    #[error(transparent)]
    Trust(#[from] TrustStateError),
}

/// What a device's store holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// This device's id.
    pub device_id: String,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// Households in the store.
    pub households: u64,
    /// People across all households.
    pub people: u64,
    /// Visits across all households.
    pub visits: u64,
    /// Bytes the store takes on disk.
    pub size_on_disk: u64,
    /// Bytes free on the disk the store lives on (`None` when it cannot be read).
    pub free_space: Option<u64>,
    /// Free space is running low: writes stop when the disk is nearly full (reading
    /// always works), so the user should free some space.
    pub low_space: bool,
    /// The store is encrypted at rest (opened with [`Node::open_encrypted`]).
    pub encrypted: bool,
}

impl Node {
    /// Opens the device's store in `dir`, creating it and the device identity if needed.
    ///
    /// When the device is enrolled in a program, every change it authors from then on
    /// is signed with its device key (see [`crate::trust`]).
    ///
    /// An encrypted store is refused ([`OpenStoreError::NeedsKey`]): open it with
    /// [`Node::open_encrypted`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_unlocking(dir, Unlock::Plain)
    }

    /// Opens the encrypted store in `dir` with its key, or creates a new encrypted
    /// store and device identity there. Every value the store writes is sealed
    /// (XChaCha20-Poly1305), the device and program keys included; see
    /// [`kafo_store::sealing`]. A wrong key ([`OpenStoreError::WrongKey`]) or a plain
    /// store that holds data ([`OpenStoreError::NotEncrypted`]) is refused, and
    /// nothing is changed.
    pub fn open_encrypted(dir: impl AsRef<Path>, key: StoreKey) -> Result<Self, OpenError> {
        Self::open_unlocking(dir, Unlock::Key(key))
    }

    /// Opens the store in `dir` as `unlock` says ([`Unlock::AskIfEncrypted`] asks
    /// for the key only when the store turns out to be encrypted).
    pub fn open_unlocking(dir: impl AsRef<Path>, unlock: Unlock<'_>) -> Result<Self, OpenError> {
        let data_dir = dir.as_ref().to_path_buf();
        let store = Store::open_unlocking(&data_dir, unlock)?;
        let identity = match store
            .meta(META_DEVICE_KEY)
            .map_err(OpenError::ReadIdentity)?
        {
            Some(bytes) => DeviceIdentity::decode(&bytes)?,
            None => {
                let identity = DeviceIdentity::generate();
                store
                    .put_meta(META_DEVICE_KEY, &identity.encode()?)
                    .map_err(OpenError::SaveIdentity)?;
                info!(device = %identity.id().redacted(), "created device identity");
                identity
            }
        };
        let trust = TrustState::load(&store, &identity)?;
        Ok(Self {
            store,
            identity,
            data_dir,
            changes: watch::Sender::new(0),
            feed: ChangeFeed::default(),
            peer_records: Mutex::new(()),
            trust,
        })
    }

    /// Whether the store is encrypted at rest.
    pub fn is_encrypted(&self) -> bool {
        self.store.is_encrypted()
    }

    /// A counter bumped after every durable write through this node: local edits
    /// ([`Node::add_visit`]), imports, and documents received from peers. A running
    /// node ([`Node::serve`]) watches it to sync again with its peers; an app can
    /// watch it to refresh its screens. Only the latest value is kept.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The current value of the [`Node::changes`] counter.
    pub fn change_count(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Records that the store changed (after the write is durable): these households
    /// were written.
    pub(crate) fn note_change(&self, households: Vec<HouseholdId>) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
        if !households.is_empty() {
            self.feed.publish(Change::Households(households));
        }
    }

    /// This device's id.
    pub fn device_id(&self) -> DeviceId {
        self.identity.id()
    }

    /// This device's identity, for the networking layer.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// The directory of the store.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The underlying store, for the sync layer and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the store holds.
    pub fn status(&self) -> Result<Status, ReadError> {
        let totals = self.store.totals()?;
        let space = self.store.space().ok();
        Ok(Status {
            device_id: self.device_id().to_string(),
            data_dir: self.data_dir.clone(),
            households: totals.households,
            people: totals.members,
            visits: totals.visits,
            size_on_disk: self.store.size_on_disk()?,
            free_space: space.as_ref().map(|space| space.free),
            low_space: space.is_some_and(|space| space.is_low()),
            encrypted: self.store.is_encrypted(),
        })
    }
}
