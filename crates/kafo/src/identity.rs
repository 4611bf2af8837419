//! The device's identity: an ed25519 key pair, created once per store and kept in it.
//!
//! The public half is the device id (a libp2p peer id, `12D3KooW...`), which the
//! networking layer uses as its libp2p identity and the trust layer as the subject
//! of certificates.

use std::fmt;
use std::str::FromStr;

use kafo_trust::DeviceKey;
use libp2p_identity::{Keypair, PeerId, ed25519};

/// The key under which the store keeps the device key pair.
pub(crate) const META_DEVICE_KEY: &str = "device.keypair";

/// A device's public identity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(PeerId);

impl DeviceId {
    /// The libp2p peer id of the device.
    pub fn peer_id(&self) -> PeerId {
        self.0
    }

    /// The id redacted for logs: its last six characters.
    pub fn redacted(&self) -> String {
        let text = self.0.to_string();
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

impl DeviceId {
    /// The device's public key, as certificates name it (`None` for a peer id that is
    /// not an ed25519 identity, which Kafo never creates).
    pub fn key(&self) -> Option<DeviceKey> {
        DeviceKey::from_peer_id(&self.0)
    }
}

impl From<DeviceKey> for DeviceId {
    fn from(key: DeviceKey) -> Self {
        Self(key.peer_id())
    }
}

impl From<PeerId> for DeviceId {
    fn from(peer: PeerId) -> Self {
        Self(peer)
    }
}

/// Why a text is not a device id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDeviceIdError {
    /// The text is not a libp2p peer id.
    #[error("not a device id (a libp2p peer id, 12D3KooW...)")]
    NotAPeerId,
    /// The peer id is not of an ed25519 key, as every Kafo device's is.
    #[error("the peer id is not of an ed25519 key, as Kafo device ids are")]
    NotEd25519,
}

impl FromStr for DeviceId {
    type Err = ParseDeviceIdError;

    /// Parses a device id (`12D3KooW...`); only ed25519 identities are device ids.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let peer: PeerId = text
            .trim()
            .parse()
            .map_err(|_| ParseDeviceIdError::NotAPeerId)?;
        DeviceKey::from_peer_id(&peer).ok_or(ParseDeviceIdError::NotEd25519)?;
        Ok(Self(peer))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.redacted())
    }
}

/// The device's key pair. Never leaves the store except to drive networking.
#[derive(Clone)]
pub struct DeviceIdentity {
    keypair: Keypair,
}

impl fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl DeviceIdentity {
    /// A new random identity.
    pub(crate) fn generate() -> Self {
        Self {
            keypair: Keypair::generate_ed25519(),
        }
    }

    /// Decodes a stored identity.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, IdentityDecodeError> {
        Keypair::from_protobuf_encoding(bytes)
            .map(|keypair| Self { keypair })
            .map_err(|_| IdentityDecodeError)
    }

    /// Encodes the identity for the store.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, IdentityDecodeError> {
        self.keypair
            .to_protobuf_encoding()
            .map_err(|_| IdentityDecodeError)
    }

    /// The device id.
    pub fn id(&self) -> DeviceId {
        DeviceId(self.keypair.public().to_peer_id())
    }

    /// The libp2p key pair, for the networking layer.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The ed25519 key pair that signs certificates, revocations and changes (`None`
    /// only for a store holding another kind of key, which Kafo never creates).
    pub fn ed25519(&self) -> Option<ed25519::Keypair> {
        self.keypair.clone().try_into_ed25519().ok()
    }

    /// The device's public key, as certificates name it.
    pub fn device_key(&self) -> Option<DeviceKey> {
        self.id().key()
    }
}

/// The stored device key is not a valid key pair.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the device key stored in the store cannot be decoded")]
pub struct IdentityDecodeError;
