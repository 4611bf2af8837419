//! Encryption at rest: a store opened with a key holds every value sealed with
//! XChaCha20-Poly1305, so a lost phone's files reveal nothing but ids.
//!
//! What is sealed, and how:
//! - every value of the store's one map (documents, change chunks, views, index
//!   entries, attestations, owner records, peer state, the layers' metadata such as
//!   the device and program keys, the totals and the schema version) is written as
//!   `tag || nonce (24 bytes) || ciphertext+tag (16 bytes)`, with the record's key as
//!   associated data, so a value moved under another key fails to open;
//! - values of 64 bytes or more are compressed with zstd before sealing (sled's own
//!   page compression cannot shrink ciphertext), and the tag byte says which;
//! - keys stay in the clear: they name only ids (household, area, CHW, change hash,
//!   actor, peer), never a name or a note (`crate::keys`);
//! - nonces are a random 16-byte prefix drawn at each opening and a 64-bit counter,
//!   so no nonce repeats under one key.
//!
//! The key comes from the app (32 bytes, for example from the Android Keystore:
//! [`StoreKey::from_bytes`]) or from a passphrase ([`StoreKey::passphrase`]), derived
//! with Argon2id and a random salt kept in the store's one clear record,
//! [`HEADER_KEY`], beside a key check that tells a wrong key from damage.

use std::sync::atomic::{AtomicU64, Ordering};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// The key of the store's one value kept in the clear: how the store is sealed.
pub(crate) const HEADER_KEY: &[u8] = b"s/sealing";

/// A store key: 32 bytes from the app, or a passphrase to derive them from.
#[derive(Clone)]
pub struct StoreKey(Secret);

#[derive(Clone)]
enum Secret {
    Bytes(Zeroizing<[u8; 32]>),
    Passphrase(Zeroizing<String>),
}

impl StoreKey {
    /// A 32-byte key the app keeps (for example in the Android Keystore or the iOS
    /// Keychain). Use the same key every time the store is opened.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(Secret::Bytes(Zeroizing::new(key)))
    }

    /// A passphrase: the key is derived from it with Argon2id and the store's salt.
    pub fn passphrase(passphrase: impl Into<String>) -> Self {
        Self(Secret::Passphrase(Zeroizing::new(passphrase.into())))
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Secret::Bytes(_) => f.write_str("StoreKey(bytes, redacted)"),
            Secret::Passphrase(_) => f.write_str("StoreKey(passphrase, redacted)"),
        }
    }
}

/// How to open a store: in the clear, with a key, or with a key asked for only when
/// the store turns out to be encrypted.
#[derive(Clone)]
pub enum Unlock<'a> {
    /// A plain store; an encrypted one is refused with
    /// [`OpenStoreError::NeedsKey`](crate::OpenStoreError::NeedsKey) and left unchanged.
    Plain,
    /// An encrypted store: created encrypted with this key when new, opened with it
    /// otherwise. A plain store that already holds data is refused with
    /// [`OpenStoreError::NotEncrypted`](crate::OpenStoreError::NotEncrypted).
    Key(StoreKey),
    /// Whatever the store is: the closure is called for the key only if the store
    /// is encrypted (a new store is created plain). Its error is reported as
    /// [`OpenStoreError::KeyUnavailable`](crate::OpenStoreError::KeyUnavailable).
    AskIfEncrypted(&'a dyn Fn() -> Result<StoreKey, String>),
    /// The same sealing as an open store (salvage builds its new store with it).
    Like(&'a Sealing),
}

impl std::fmt::Debug for Unlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain => f.write_str("Plain"),
            Self::Key(key) => write!(f, "Key({key:?})"),
            Self::AskIfEncrypted(_) => f.write_str("AskIfEncrypted"),
            Self::Like(_) => f.write_str("Like"),
        }
    }
}

/// Argon2id's cost, kept in the header so it can be raised for new stores without
/// locking out old ones: 19 MiB and 2 passes, the OWASP baseline, about 50 ms on a
/// laptop and well under a second on a cheap phone.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

const HEADER_FORMAT: u8 = 1;
const KDF_NONE: u8 = 0;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const AEAD_TAG_LEN: usize = 16;
/// What the key check seals: a wrong key fails to open it.
const KEY_CHECK: &[u8] = b"kafo store key check";

const VALUE_SEALED: u8 = 1;
const VALUE_SEALED_ZSTD: u8 = 2;
/// Values shorter than this are sealed without trying to compress them.
const COMPRESS_FROM: usize = 64;

/// How a store is sealed: its cipher and the clear header that describes it.
pub struct Sealing {
    cipher: XChaCha20Poly1305,
    header: Vec<u8>,
    nonce_prefix: [u8; 16],
    nonce_counter: AtomicU64,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealing(XChaCha20-Poly1305, key redacted)")
    }
}

/// Why the key does not open the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyMismatch {
    /// The key check did not open: another key, or another passphrase.
    WrongKey,
    /// A passphrase was given for a store sealed with an app's 32-byte key.
    PassphraseForAppKey,
    /// The header does not decode.
    BadHeader(&'static str),
}

impl Sealing {
    /// A new sealing for a new store, with a fresh salt when the key is a passphrase.
    pub(crate) fn create(key: &StoreKey) -> Result<Self, KeyMismatch> {
        let (kdf, salt, derived) = match &key.0 {
            Secret::Bytes(bytes) => (KDF_NONE, [0; SALT_LEN], bytes.clone()),
            Secret::Passphrase(passphrase) => {
                let salt: [u8; SALT_LEN] = rand::random();
                let params = (ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES);
                (KDF_ARGON2ID, salt, derive(passphrase, &salt, params)?)
            }
        };
        let cipher = XChaCha20Poly1305::new((&*derived).into());
        let mut header = vec![HEADER_FORMAT, kdf];
        header.extend_from_slice(&salt);
        for param in [ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES] {
            header.extend_from_slice(&param.to_be_bytes());
        }
        let mut sealing = Self::with_cipher(cipher, Vec::new());
        let check = sealing.seal_raw(HEADER_KEY, KEY_CHECK);
        header.extend_from_slice(&check);
        sealing.header = header;
        Ok(sealing)
    }

    /// The sealing a stored header describes, if `key` opens it.
    pub(crate) fn open(header: &[u8], key: &StoreKey) -> Result<Self, KeyMismatch> {
        let fixed = 2 + SALT_LEN + 12;
        if header.len() < fixed + NONCE_LEN + AEAD_TAG_LEN || header[0] != HEADER_FORMAT {
            return Err(KeyMismatch::BadHeader("unknown sealing header"));
        }
        let kdf = header[1];
        let mut salt = [0; SALT_LEN];
        salt.copy_from_slice(&header[2..2 + SALT_LEN]);
        let param = |at: usize| {
            let start = 2 + SALT_LEN + 4 * at;
            let mut bytes = [0; 4];
            bytes.copy_from_slice(&header[start..start + 4]);
            u32::from_be_bytes(bytes)
        };
        let derived = match (&key.0, kdf) {
            (Secret::Bytes(bytes), _) => bytes.clone(),
            (Secret::Passphrase(passphrase), KDF_ARGON2ID) => {
                derive(passphrase, &salt, (param(0), param(1), param(2)))?
            }
            (Secret::Passphrase(_), KDF_NONE) => return Err(KeyMismatch::PassphraseForAppKey),
            (Secret::Passphrase(_), _) => return Err(KeyMismatch::BadHeader("unknown kdf")),
        };
        let sealing =
            Self::with_cipher(XChaCha20Poly1305::new((&*derived).into()), header.to_vec());
        match sealing.open_raw(HEADER_KEY, &header[fixed..]) {
            Some(check) if check == KEY_CHECK => Ok(sealing),
            _ => Err(KeyMismatch::WrongKey),
        }
    }

    fn with_cipher(cipher: XChaCha20Poly1305, header: Vec<u8>) -> Self {
        Self {
            cipher,
            header,
            nonce_prefix: rand::random(),
            nonce_counter: AtomicU64::new(0),
        }
    }

    /// A copy for another store (salvage): the same key and header, fresh nonces.
    pub(crate) fn duplicate(&self) -> Self {
        Self::with_cipher(self.cipher.clone(), self.header.clone())
    }

    /// The clear header to store under [`HEADER_KEY`].
    pub(crate) fn header(&self) -> &[u8] {
        &self.header
    }

    /// Seals a value of the record `key`.
    pub(crate) fn seal(&self, key: &[u8], value: &[u8]) -> Vec<u8> {
        if value.len() >= COMPRESS_FROM
            && let Ok(compressed) = zstd::block::compress(value, 1)
            && compressed.len() + 4 < value.len()
        {
            let mut plain = Vec::with_capacity(compressed.len() + 4);
            plain.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
            plain.extend_from_slice(&compressed);
            return self.seal_tagged(VALUE_SEALED_ZSTD, key, &plain);
        }
        self.seal_tagged(VALUE_SEALED, key, value)
    }

    /// Opens a value of the record `key`; `None` when it was not sealed under this
    /// key and record (damage, tampering, or a value moved from another record).
    pub(crate) fn open_value(&self, key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (&tag, rest) = sealed.split_first()?;
        let plain = self.open_tagged(tag, key, rest)?;
        match tag {
            VALUE_SEALED => Some(plain),
            VALUE_SEALED_ZSTD => {
                let (len, compressed) = plain.split_at_checked(4)?;
                let len = u32::from_be_bytes(len.try_into().ok()?);
                zstd::block::decompress(compressed, usize::try_from(len).ok()?).ok()
            }
            _ => None,
        }
    }

    fn seal_tagged(&self, tag: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(key.len() + 1);
        aad.push(tag);
        aad.extend_from_slice(key);
        let mut out = vec![tag];
        out.extend_from_slice(&self.seal_raw(&aad, value));
        out
    }

    fn open_tagged(&self, tag: u8, key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let mut aad = Vec::with_capacity(key.len() + 1);
        aad.push(tag);
        aad.extend_from_slice(key);
        self.open_raw(&aad, sealed)
    }

    /// `nonce || ciphertext` of `value` with `aad`.
    fn seal_raw(&self, aad: &[u8], value: &[u8]) -> Vec<u8> {
        let counter = self.nonce_counter.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0; NONCE_LEN];
        nonce[..16].copy_from_slice(&self.nonce_prefix);
        nonce[16..].copy_from_slice(&counter.to_be_bytes());
        let nonce = XNonce::from(nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + value.len() + AEAD_TAG_LEN);
        out.extend_from_slice(&nonce);
        // Encryption fails only past the cipher's message limit (256 GiB): never here.
        if let Ok(ciphertext) = self.cipher.encrypt(&nonce, Payload { msg: value, aad }) {
            out.extend_from_slice(&ciphertext);
        }
        out
    }

    fn open_raw(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = XNonce::from_slice(nonce);
        self.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

/// Argon2id of `passphrase` with `salt`: the store's 32-byte key.
fn derive(
    passphrase: &str,
    salt: &[u8],
    (memory_kib, passes, lanes): (u32, u32, u32),
) -> Result<Zeroizing<[u8; 32]>, KeyMismatch> {
    let params = Params::new(memory_kib, passes, lanes, Some(32))
        .map_err(|_| KeyMismatch::BadHeader("bad argon2 parameters"))?;
    let mut key = Zeroizing::new([0; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut *key)
        .map_err(|_| KeyMismatch::BadHeader("argon2 failed"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_under_its_own_record_and_key() {
        let sealing = Sealing::create(&StoreKey::from_bytes([7; 32])).expect("creates");
        let long = b"Aminata Traore, a note about the visit ".repeat(4);
        for value in [&b"short"[..], &long[..]] {
            let sealed = sealing.seal(b"d/hh-1", value);
            assert!(
                !sealed.windows(5).any(|w| w == &value[..5]),
                "clear text leaked"
            );
            assert_eq!(
                sealing.open_value(b"d/hh-1", &sealed).as_deref(),
                Some(value)
            );
            assert_eq!(sealing.open_value(b"d/hh-2", &sealed), None);
            let mut tampered = sealed.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert_eq!(sealing.open_value(b"d/hh-1", &tampered), None);
        }
        let other = Sealing::create(&StoreKey::from_bytes([8; 32])).expect("creates");
        assert_eq!(
            other.open_value(b"d/hh-1", &sealing.seal(b"d/hh-1", b"x")),
            None
        );
    }

    #[test]
    fn the_header_tells_the_right_key_from_a_wrong_one() {
        let created = Sealing::create(&StoreKey::passphrase("correct horse")).expect("creates");
        let header = created.header().to_vec();
        let reopened = Sealing::open(&header, &StoreKey::passphrase("correct horse"))
            .expect("the same passphrase opens it");
        assert_eq!(
            reopened
                .open_value(b"k", &created.seal(b"k", b"value"))
                .as_deref(),
            Some(&b"value"[..])
        );
        assert_eq!(
            Sealing::open(&header, &StoreKey::passphrase("wrong horse")).err(),
            Some(KeyMismatch::WrongKey)
        );
        assert_eq!(
            Sealing::open(&header, &StoreKey::from_bytes([0; 32])).err(),
            Some(KeyMismatch::WrongKey)
        );
        let app = Sealing::create(&StoreKey::from_bytes([1; 32])).expect("creates");
        assert_eq!(
            Sealing::open(app.header(), &StoreKey::passphrase("p")).err(),
            Some(KeyMismatch::PassphraseForAppKey)
        );
        assert!(matches!(
            Sealing::open(&header[..10], &StoreKey::passphrase("correct horse")),
            Err(KeyMismatch::BadHeader(_))
        ));
    }
}
