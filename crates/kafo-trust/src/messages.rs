//! What travels in sessions: credentials in Hello, the Disclose frame body,
//! change attestations and signed envelopes around automerge bytes.

use libp2p_identity::ed25519::Keypair;

use crate::DeviceKey;
use crate::chain::Chain;
use crate::keys::sign64;
use crate::revocation::Revocation;
use crate::settlement::Settlement;
use crate::wire::{DecodeError, DecodeErrorKind, Reader, put_bytes, put_varint};

const CREDENTIALS_VERSION: u8 = 1;
const DISCLOSURE_VERSION: u8 = 1;
/// A disclosure that also carries settlements (a peer that predates them reads
/// version 1, which is what is sent whenever there is no settlement to disclose).
const DISCLOSURE_WITH_SETTLEMENTS: u8 = 2;
const ENVELOPE_VERSION: u8 = 1;
const CHANGE_TAG: &[u8] = b"kafo/change/v1";

/// At most this many revocations in one [`Disclosure`].
pub const MAX_DISCLOSED_REVOCATIONS: usize = 4096;
/// The largest body of a [`SignedEnvelope`].
pub const MAX_ENVELOPE_BODY: usize = 1024 * 1024;
/// At most this many signatures in a [`SignedEnvelope`].
pub const MAX_ENVELOPE_SIGNATURES: usize = 65_536;
/// At most this many chains in a [`SignedEnvelope`].
pub const MAX_ENVELOPE_CHAINS: usize = 256;
/// The longest encoded chain or revocation inside another message.
const MAX_NESTED_LEN: usize = 128 * 1024;
/// The smallest encoded chain or revocation.
const MIN_NESTED_LEN: usize = 100;

/// `Hello.credentials`: a device's chain, or none if it is not enrolled.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Credentials {
    /// The chain; `None` for an unenrolled device.
    pub chain: Option<Chain>,
}

impl Credentials {
    /// Empty for no chain; else version byte 1 and the chain's binary form.
    pub fn encode(&self) -> Vec<u8> {
        match &self.chain {
            None => Vec::new(),
            Some(chain) => {
                let mut out = vec![CREDENTIALS_VERSION];
                out.extend_from_slice(&chain.encode());
                out
            }
        }
    }

    /// Decodes credentials (structure only).
    pub fn decode(bytes: &[u8]) -> Result<Credentials, DecodeError> {
        if bytes.is_empty() {
            return Ok(Credentials { chain: None });
        }
        let mut reader = Reader::new(bytes);
        reader.version("credentials.version", CREDENTIALS_VERSION)?;
        let chain = Chain::decode_from(&mut reader)?;
        reader.finish("credentials")?;
        Ok(Credentials { chain: Some(chain) })
    }
}

/// The body of a `Disclose` frame: revocations and settlements the sender knows.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Disclosure {
    /// At most [`MAX_DISCLOSED_REVOCATIONS`].
    pub revocations: Vec<Revocation>,
    /// Settlements of held-back households; at most [`MAX_DISCLOSED_REVOCATIONS`].
    pub settlements: Vec<Settlement>,
}

impl Disclosure {
    /// Version byte, count, then each revocation length-prefixed; with version 2,
    /// then a count and each settlement length-prefixed.
    pub fn encode(&self) -> Vec<u8> {
        let version = if self.settlements.is_empty() {
            DISCLOSURE_VERSION
        } else {
            DISCLOSURE_WITH_SETTLEMENTS
        };
        let mut out = vec![version];
        put_varint(&mut out, self.revocations.len() as u64);
        for revocation in &self.revocations {
            put_bytes(&mut out, &revocation.encode());
        }
        if !self.settlements.is_empty() {
            put_varint(&mut out, self.settlements.len() as u64);
            for settlement in &self.settlements {
                put_bytes(&mut out, &settlement.encode());
            }
        }
        out
    }

    /// Decodes a disclosure (structure only: verify each revocation and settlement).
    pub fn decode(bytes: &[u8]) -> Result<Disclosure, DecodeError> {
        let mut reader = Reader::new(bytes);
        let version = reader.u8("disclosure.version")?;
        if version != DISCLOSURE_VERSION && version != DISCLOSURE_WITH_SETTLEMENTS {
            return Err(DecodeError::new(
                "disclosure.version",
                0,
                DecodeErrorKind::UnknownTag(version),
            ));
        }
        let count = reader.count(
            "disclosure.count",
            MAX_DISCLOSED_REVOCATIONS,
            MIN_NESTED_LEN,
        )?;
        let mut revocations = Vec::with_capacity(count);
        for _ in 0..count {
            let entry = reader.bytes("disclosure.revocation", MAX_NESTED_LEN)?;
            let base = reader.offset() - entry.len();
            revocations.push(Revocation::decode(entry).map_err(|e| e.shifted(base))?);
        }
        let mut settlements = Vec::new();
        if version == DISCLOSURE_WITH_SETTLEMENTS {
            let count = reader.count(
                "disclosure.settlements",
                MAX_DISCLOSED_REVOCATIONS,
                MIN_NESTED_LEN,
            )?;
            for _ in 0..count {
                let entry = reader.bytes("disclosure.settlement", MAX_NESTED_LEN)?;
                let base = reader.offset() - entry.len();
                settlements.push(Settlement::decode(entry).map_err(|e| e.shifted(base))?);
            }
        }
        reader.finish("disclosure")?;
        Ok(Disclosure {
            revocations,
            settlements,
        })
    }
}

/// One change's signature by its author: 96 bytes encoded (key 32, signature 64).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Attestation {
    /// The author device.
    pub author: DeviceKey,
    /// ed25519 over `kafo/change/v1` and the change hash.
    pub signature: [u8; 64],
}

impl Attestation {
    /// The length of the encoded form.
    pub const LEN: usize = 96;

    /// Signs a change hash with a device key.
    pub fn sign(key: &Keypair, change_hash: &[u8; 32]) -> Attestation {
        Attestation {
            author: DeviceKey::from_public(&key.public()),
            signature: sign64(key, &change_message(change_hash)),
        }
    }

    /// Whether the signature is the author's over this change hash.
    pub fn verify(&self, change_hash: &[u8; 32]) -> bool {
        self.author
            .verify(&change_message(change_hash), &self.signature)
    }

    /// Key then signature.
    pub fn encode(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        out[..32].copy_from_slice(self.author.as_bytes());
        out[32..].copy_from_slice(&self.signature);
        out
    }

    /// Decodes exactly 96 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Attestation, DecodeError> {
        let mut reader = Reader::new(bytes);
        let attestation = Self::decode_from(&mut reader)?;
        reader.finish("attestation")?;
        Ok(attestation)
    }

    fn decode_from(reader: &mut Reader<'_>) -> Result<Attestation, DecodeError> {
        let at = reader.offset();
        let author = DeviceKey::from_bytes(reader.array("attestation.author")?)
            .map_err(|_| DecodeError::new("attestation.author", at, DecodeErrorKind::BadKey))?;
        let signature = reader.array("attestation.signature")?;
        Ok(Attestation { author, signature })
    }
}

fn change_message(change_hash: &[u8; 32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CHANGE_TAG.len() + 32);
    message.extend_from_slice(CHANGE_TAG);
    message.extend_from_slice(change_hash);
    message
}

/// Automerge bytes with the attestations of the changes inside (by change hash)
/// and the chains of their authors (deduplicated).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SignedEnvelope {
    /// The automerge bytes (at most [`MAX_ENVELOPE_BODY`]).
    pub body: Vec<u8>,
    /// Authors' chains (at most [`MAX_ENVELOPE_CHAINS`]).
    pub chains: Vec<Chain>,
    /// Change hash and its attestation (at most [`MAX_ENVELOPE_SIGNATURES`]).
    pub signatures: Vec<([u8; 32], Attestation)>,
}

impl SignedEnvelope {
    /// Version, body, chains (each length-prefixed), signatures (hash, key, signature).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.body.len() + self.signatures.len() * 128);
        out.push(ENVELOPE_VERSION);
        put_bytes(&mut out, &self.body);
        put_varint(&mut out, self.chains.len() as u64);
        for chain in &self.chains {
            put_bytes(&mut out, &chain.encode());
        }
        put_varint(&mut out, self.signatures.len() as u64);
        for (hash, attestation) in &self.signatures {
            out.extend_from_slice(hash);
            out.extend_from_slice(&attestation.encode());
        }
        out
    }

    /// Decodes an envelope (structure only: verify the chains and signatures).
    pub fn decode(bytes: &[u8]) -> Result<SignedEnvelope, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.version("envelope.version", ENVELOPE_VERSION)?;
        let body = reader.bytes("envelope.body", MAX_ENVELOPE_BODY)?.to_vec();
        let count = reader.count("envelope.chains", MAX_ENVELOPE_CHAINS, MIN_NESTED_LEN)?;
        let mut chains = Vec::with_capacity(count);
        for _ in 0..count {
            let entry = reader.bytes("envelope.chain", MAX_NESTED_LEN)?;
            let base = reader.offset() - entry.len();
            chains.push(Chain::decode(entry).map_err(|e| e.shifted(base))?);
        }
        let count = reader.count(
            "envelope.signatures",
            MAX_ENVELOPE_SIGNATURES,
            32 + Attestation::LEN,
        )?;
        let mut signatures = Vec::with_capacity(count);
        for _ in 0..count {
            let hash = reader.array("envelope.signature.hash")?;
            signatures.push((hash, Attestation::decode_from(&mut reader)?));
        }
        reader.finish("envelope")?;
        Ok(SignedEnvelope {
            body,
            chains,
            signatures,
        })
    }
}
