//! The trust state a device keeps in its store's metadata (the pinned program and
//! what it knows of it, its own chain, the program key on the admin device, the
//! program's name), loaded when the node opens, and the signing of every change the
//! device authors once it is enrolled.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use automerge::{ActorId, ChangeHash};
use kafo_store::{ChangeSigner, ReadError, Store, WriteError};
use kafo_trust::{
    Attestation, Chain, DeviceKey, Enrolment, ProgramKey, Revocation, RevocationError, TrustBook,
    UnixTime,
};
use libp2p_identity::ed25519;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::identity::DeviceIdentity;
use crate::trust::held_back::{HeldBack, META_HELD_BACK, Settlements, decode_held_back};

/// The pinned program and what this device knows of it ([`TrustBook::encode`]).
pub(crate) const META_BOOK: &str = "trust.book";
/// This device's own chain ([`Chain::encode`]).
pub(crate) const META_CHAIN: &str = "trust.chain";
/// The program key's 32 secret bytes, on the device that created the program only.
pub(crate) const META_PROGRAM_KEY: &str = "trust.program-key";
/// The program's name (UTF-8), on the device that created the program.
pub(crate) const META_PROGRAM_NAME: &str = "trust.program-name";

/// The domain tag of actor ids derived from a device key.
const ACTOR_TAG: &[u8] = b"kafo/actor/v1";

/// Why the stored trust state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustStateError {
    /// The store could not be read.
    #[error("reading the trust state: {0}")]
    Read(#[from] ReadError),
    /// A stored record does not decode.
    #[error("the stored {what} is damaged: {detail}")]
    Damaged {
        /// Which record.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The device is enrolled but its key is not an ed25519 key and cannot sign.
    #[error("this device's key is not an ed25519 key: it cannot sign changes")]
    NotEd25519,
}

/// Why a revocation this device issued was not recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordRevocationError {
    #[error(transparent)]
    Refused(#[from] RevocationError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What this device knows, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// The pinned program and known chains and revocations (`None`: not pinned).
    pub(crate) book: Option<TrustBook>,
    /// This device's chain and what it proves (structure verified, time ignored).
    pub(crate) own: Option<(Chain, Enrolment)>,
    /// The program key, on the device that created the program.
    pub(crate) program_key: Option<ProgramKey>,
    /// The program's name, on the device that created the program.
    pub(crate) program_name: Option<String>,
    /// Settlements of held-back households ([`crate::trust::held_back`]).
    pub(crate) settlements: Settlements,
    /// Households held back here, with their held-back change hashes.
    pub(crate) held_back: HeldBack,
}

impl Known {
    /// This device's enrolment, if it joined a program.
    pub(crate) fn enrolment(&self) -> Option<&Enrolment> {
        self.own.as_ref().map(|(_, enrolment)| enrolment)
    }
}

/// A device's trust state, shared by its sessions.
#[derive(Debug)]
pub(crate) struct TrustState {
    known: RwLock<Known>,
    /// Bumped whenever a revocation is learned: live sessions check their peer again.
    revocations: watch::Sender<u64>,
    /// This device's key pair, to sign (`None` only for a non-ed25519 identity).
    signing: Option<ed25519::Keypair>,
    /// This device's public key.
    device: Option<DeviceKey>,
}

impl TrustState {
    /// Loads the trust state kept in `store`; when the device is enrolled, binds the
    /// store's actor to the device key and signs every change it authors from now on.
    pub(crate) fn load(store: &Store, identity: &DeviceIdentity) -> Result<Self, TrustStateError> {
        let damaged =
            |what: &'static str, detail: String| TrustStateError::Damaged { what, detail };
        let book = match store.meta(META_BOOK)? {
            Some(bytes) => {
                Some(TrustBook::decode(&bytes).map_err(|e| damaged("trust book", e.to_string()))?)
            }
            None => None,
        };
        let chain = match store.meta(META_CHAIN)? {
            Some(bytes) => {
                Some(Chain::decode(&bytes).map_err(|e| damaged("own chain", e.to_string()))?)
            }
            None => None,
        };
        let program_key = match store.meta(META_PROGRAM_KEY)? {
            Some(bytes) => {
                let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    damaged("program key", format!("{} bytes, not 32", bytes.len()))
                })?;
                Some(ProgramKey::from_secret_bytes(secret))
            }
            None => None,
        };
        let program_name = match store.meta(META_PROGRAM_NAME)? {
            Some(bytes) => Some(
                String::from_utf8(bytes)
                    .map_err(|_| damaged("program name", "not UTF-8".into()))?,
            ),
            None => None,
        };
        let own = match (&chain, &book) {
            (Some(chain), Some(book)) => {
                let enrolment = chain
                    .verify_ignoring_time(&book.program())
                    .map_err(|e| damaged("own chain", e.to_string()))?;
                Some((chain.clone(), enrolment))
            }
            (Some(_), None) => {
                return Err(damaged(
                    "trust state",
                    "a chain without a pinned program".into(),
                ));
            }
            (None, _) => None,
        };
        let settlements = Settlements::load(store, book.as_ref().map(TrustBook::program))
            .map_err(|detail| damaged("settlements", detail))?;
        let held_back = match store.meta(META_HELD_BACK)? {
            Some(bytes) => {
                decode_held_back(&bytes).map_err(|detail| damaged("held-back record", detail))?
            }
            None => HeldBack::new(),
        };
        let state = Self {
            known: RwLock::new(Known {
                book,
                own,
                program_key,
                program_name,
                settlements,
                held_back,
            }),
            revocations: watch::Sender::new(0),
            signing: identity.ed25519(),
            device: identity.device_key(),
        };
        if state.is_enrolled() {
            state.start_signing(store)?;
        }
        Ok(state)
    }

    /// What this device knows, for reading.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Known> {
        self.known.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// What this device knows, for changing (persist what changes before releasing it).
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Known> {
        self.known.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this device joined a program.
    pub(crate) fn is_enrolled(&self) -> bool {
        self.read().own.is_some()
    }

    /// This device's key pair.
    pub(crate) fn signing_key(&self) -> Option<&ed25519::Keypair> {
        self.signing.as_ref()
    }

    /// This device's public key.
    pub(crate) fn device_key(&self) -> Option<DeviceKey> {
        self.device
    }

    /// A receiver told whenever a revocation is learned.
    pub(crate) fn revocation_changes(&self) -> watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// Whether `device` is revoked, as far as this device knows.
    pub(crate) fn is_revoked(&self, device: &DeviceKey) -> bool {
        self.read()
            .book
            .as_ref()
            .is_some_and(|book| book.revocation(device).is_some())
    }

    /// From now on, every change this store authors is authored by an actor bound to
    /// this device and signed with its key, in the same batch as the change.
    pub(crate) fn start_signing(&self, store: &Store) -> Result<(), TrustStateError> {
        let (Some(key), Some(device)) = (self.signing.clone(), self.device) else {
            return Err(TrustStateError::NotEd25519);
        };
        let signer: ChangeSigner =
            Arc::new(move |hash: &ChangeHash| Attestation::sign(&key, &hash.0).encode().to_vec());
        store.set_actor(device_actor(&device));
        store.set_actor_owner_record(device.as_bytes().to_vec());
        store.set_change_signer(signer);
        debug!("changes authored here are signed");
        Ok(())
    }

    /// Learns revocations (each verified; invalid ones are skipped with a warning),
    /// persists the book if any was new, and tells live sessions. Returns the
    /// devices newly revoked.
    pub(crate) fn learn_revocations(
        &self,
        store: &Store,
        revocations: Vec<Revocation>,
    ) -> Result<Vec<DeviceKey>, WriteError> {
        let mut known = self.write();
        let Some(book) = known.book.as_mut() else {
            return Ok(Vec::new());
        };
        let mut newly = Vec::new();
        let mut changed = false;
        for revocation in revocations {
            let device = revocation.device;
            let was_revoked = book.revocation(&device).is_some();
            match book.learn_revocation(revocation) {
                Ok(true) => {
                    changed = true;
                    if !was_revoked {
                        newly.push(device);
                    }
                }
                Ok(false) => {}
                Err(error) => warn!(%error, device = %device.redacted(), "revocation ignored"),
            }
        }
        if changed {
            store.put_meta(META_BOOK, &book.encode())?;
        }
        drop(known);
        if !newly.is_empty() {
            info!(devices = newly.len(), "learned revocations");
            self.revocations
                .send_modify(|count| *count = count.wrapping_add(1));
        }
        Ok(newly)
    }

    /// Records a revocation this device issued (verified like any other: a
    /// supervisor's revocation of a device outside her scopes is refused), persists
    /// it and tells live sessions.
    pub(crate) fn record_revocation(
        &self,
        store: &Store,
        revocation: Revocation,
    ) -> Result<(), RecordRevocationError> {
        {
            let mut known = self.write();
            let Some(book) = known.book.as_mut() else {
                return Ok(());
            };
            let mut updated = book.clone();
            updated.learn_revocation(revocation)?;
            store.put_meta(META_BOOK, &updated.encode())?;
            *book = updated;
        }
        self.revocations
            .send_modify(|count| *count = count.wrapping_add(1));
        Ok(())
    }

    /// Remembers the chains of authors (their structure verified; those already
    /// known with a later end kept) and persists the book if one was new. Chains of
    /// another program or that do not verify are ignored.
    pub(crate) fn learn_chains<'c>(
        &self,
        store: &Store,
        chains: impl IntoIterator<Item = &'c Chain>,
        now: UnixTime,
    ) -> Result<(), WriteError> {
        let mut known = self.write();
        let Some(book) = known.book.as_mut() else {
            return Ok(());
        };
        let mut changed = false;
        for chain in chains {
            let stored = book.chain(&chain.subject());
            if stored.is_some_and(|stored| stored.leaf().not_after >= chain.leaf().not_after) {
                continue;
            }
            // Verified within its own validity: an expired author's chain still
            // attributes the changes it made while valid.
            let at = now.min(chain.leaf().not_after).max(chain.leaf().not_before);
            if book.learn_chain(chain, at).is_ok() {
                changed = true;
            }
        }
        if changed {
            store.put_meta(META_BOOK, &book.encode())?;
        }
        Ok(())
    }
}

/// The actor this device's changes are authored as in one opening of its store: the
/// first 16 bytes of SHA-256("kafo/actor/v1" || device key), then 16 random bytes
/// (an actor's sequence numbers restart with each opening, so no two openings may
/// share one).
pub(crate) fn device_actor(device: &DeviceKey) -> ActorId {
    let digest = Sha256::new()
        .chain_update(ACTOR_TAG)
        .chain_update(device.as_bytes())
        .finalize();
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&digest[..16]);
    rand::rng().fill(&mut bytes[16..]);
    ActorId::from(bytes.as_slice())
}
