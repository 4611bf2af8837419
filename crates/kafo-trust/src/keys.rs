//! Keys: the program's root key ([`ProgramKey`], public half [`ProgramId`])
//! and devices' public keys ([`DeviceKey`], the same ed25519 key as their
//! libp2p identity).

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use libp2p_identity::PeerId;
use libp2p_identity::ed25519::{Keypair, PublicKey, SecretKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::KeyError;

/// A program: its root public key. Displayed as `KP` + base32 (uppercase, no padding).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProgramId([u8; 32]);

impl ProgramId {
    /// The public key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From public key bytes (not checked here; a chain naming a program whose key
    /// is not a valid point simply never verifies).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The program key as an ed25519 public key, if the bytes are one.
    pub(crate) fn public_key(&self) -> Option<PublicKey> {
        PublicKey::try_from_bytes(&self.0).ok()
    }

    /// A short form for logs: the last six characters.
    pub fn redacted(&self) -> String {
        let text = self.to_string();
        let tail = text.get(text.len().saturating_sub(6)..).unwrap_or_default();
        format!("KP…{tail}")
    }
}

impl fmt::Display for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KP{}", BASE32_NOPAD.encode(&self.0))
    }
}

impl fmt::Debug for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgramId({})", self.redacted())
    }
}

impl FromStr for ProgramId {
    type Err = KeyError;

    /// `KP` + base32 of the key, case-insensitive, surrounding whitespace ignored.
    fn from_str(text: &str) -> Result<Self, KeyError> {
        let text = text.trim().to_ascii_uppercase();
        let body = text.strip_prefix("KP").ok_or(KeyError::NotAProgramId)?;
        let bytes = BASE32_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| KeyError::NotAProgramId)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::NotAProgramId)?;
        Ok(Self(bytes))
    }
}

impl Serialize for ProgramId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProgramId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The program's root key pair (held by the administrator's device only).
#[derive(Clone)]
pub struct ProgramKey {
    pub(crate) keypair: Keypair,
}

impl ProgramKey {
    /// A new random program key.
    pub fn generate() -> Self {
        Self {
            keypair: Keypair::generate(),
        }
    }

    /// The program id (public key).
    pub fn id(&self) -> ProgramId {
        ProgramId(self.keypair.public().to_bytes())
    }

    /// The 32 secret bytes, for storing on the administrator's device.
    pub fn to_secret_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.keypair.secret().as_ref());
        out
    }

    /// The key pair from its 32 secret bytes.
    pub fn from_secret_bytes(mut bytes: [u8; 32]) -> Self {
        // Any 32 bytes are a valid ed25519 secret key: this cannot fail, and a silent
        // fallback would make a new program root.
        let secret =
            SecretKey::try_from_bytes(&mut bytes).expect("any 32 bytes are an ed25519 secret key");
        Self {
            keypair: Keypair::from(secret),
        }
    }
}

impl fmt::Debug for ProgramKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgramKey({})", self.id().redacted())
    }
}

/// A device's ed25519 public key (its libp2p identity). Displayed as its peer id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceKey([u8; 32]);

/// Bytes of an ed25519 peer id before the key: identity multihash (0x00, length 36)
/// of the protobuf `{ type: Ed25519 (1), data: 32 bytes }`.
const PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

impl DeviceKey {
    /// From a libp2p ed25519 public key.
    pub fn from_public(key: &PublicKey) -> Self {
        Self(key.to_bytes())
    }

    /// From a peer id; `None` unless it is an (inline) ed25519 identity.
    pub fn from_peer_id(peer: &PeerId) -> Option<Self> {
        let bytes = peer.to_bytes();
        let key = bytes.strip_prefix(&PEER_ID_PREFIX[..])?;
        let key: [u8; 32] = key.try_into().ok()?;
        Self::from_bytes(key).ok()
    }

    /// The device's peer id.
    pub fn peer_id(&self) -> PeerId {
        PeerId::from_public_key(&libp2p_identity::PublicKey::from(self.public_key()))
    }

    /// The public key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From public key bytes, checking they are a valid ed25519 point.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        PublicKey::try_from_bytes(&bytes).map_err(|_| KeyError::InvalidPoint)?;
        Ok(Self(bytes))
    }

    /// The libp2p public key (always valid: checked on construction).
    pub fn public_key(&self) -> PublicKey {
        // Every DeviceKey was checked by from_bytes or came from a PublicKey.
        PublicKey::try_from_bytes(&self.0).expect("a DeviceKey is checked on construction")
    }

    /// Verifies an ed25519 signature by this device.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        PublicKey::try_from_bytes(&self.0).is_ok_and(|key| key.verify(message, signature))
    }

    /// The peer id redacted for logs: `…` and its last six characters.
    pub fn redacted(&self) -> String {
        let text = self.to_string();
        let tail: String = text
            .chars()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.peer_id())
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({})", self.redacted())
    }
}

impl FromStr for DeviceKey {
    type Err = KeyError;

    /// Parses a peer id (`12D3KooW…`) of an ed25519 identity.
    fn from_str(text: &str) -> Result<Self, KeyError> {
        let peer: PeerId = text.trim().parse().map_err(|_| KeyError::NotAPeerId)?;
        Self::from_peer_id(&peer).ok_or(KeyError::NotEd25519)
    }
}

impl Serialize for DeviceKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Whether `keypair` is the key pair of `device`.
pub(crate) fn is_key_of(keypair: &Keypair, device: &DeviceKey) -> bool {
    keypair.public().to_bytes() == device.0
}

/// A 64-byte signature as an array (ed25519 signatures are always 64 bytes).
pub(crate) fn sign64(keypair: &Keypair, message: &[u8]) -> [u8; 64] {
    <[u8; 64]>::try_from(keypair.sign(message).as_slice()).expect("ed25519 signatures are 64 bytes")
}
