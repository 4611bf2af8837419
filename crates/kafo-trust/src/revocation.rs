//! Revocations: signed statements that a device is cut off, with the frontier
//! of its changes that stay accepted.

use std::collections::BTreeMap;
use std::fmt;

use libp2p_identity::ed25519::Keypair;

use crate::chain::Chain;
use crate::keys::{is_key_of, sign64};
use crate::wire::{DecodeError, DecodeErrorKind, Reader, put_bytes, put_varint};
use crate::{
    DeviceKey, Enrolment, IssueError, ProgramId, ProgramKey, RevocationError, Scopes, UnixTime,
};

/// For each actor (automerge actor id bytes) of the revoked device, the highest
/// sequence number of its changes that the issuer knew of; later ones are refused.
pub type Frontier = BTreeMap<Vec<u8>, u64>;

/// The longest revocation reason, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 200;
/// At most this many actors in a frontier.
pub const MAX_FRONTIER_ACTORS: usize = 4096;
/// The longest actor id in a frontier, in bytes.
pub const MAX_ACTOR_LEN: usize = 64;
/// The longest issuer chain inside a revocation, in bytes.
const MAX_ISSUER_CHAIN_LEN: usize = 128 * 1024;
const REVOCATION_VERSION: u8 = 1;
const REVOCATION_TAG: &[u8] = b"kafo/revocation/v1";

/// Who signed a revocation.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Issuer {
    /// The program key.
    Program,
    /// An enrolled admin or supervisor device, with its chain.
    Device(Chain),
}

/// A signed revocation of one device.
#[derive(Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The program.
    pub program: ProgramId,
    /// The revoked device.
    pub device: DeviceKey,
    /// Why (at most [`MAX_REASON_LEN`] bytes).
    pub reason: String,
    /// When it was issued (unix seconds).
    pub issued_at: UnixTime,
    /// The revoked device's changes that stay accepted.
    pub frontier: Frontier,
    issuer: Issuer,
    signature: [u8; 64],
}

impl Revocation {
    /// Issued by an enrolled device (admin, or supervisor: then valid only for
    /// devices whose scopes it covers).
    pub fn issue(
        issuer: &Enrolment,
        issuer_key: &Keypair,
        device: DeviceKey,
        reason: &str,
        issued_at: UnixTime,
        frontier: Frontier,
    ) -> Result<Revocation, IssueError> {
        if !is_key_of(issuer_key, &issuer.device) {
            return Err(IssueError::WrongKey);
        }
        if !issuer.role.can_revoke() {
            return Err(IssueError::CannotRevoke { role: issuer.role });
        }
        if issued_at < issuer.not_before || issued_at > issuer.not_after {
            return Err(IssueError::IssuerNotValid { at: issued_at });
        }
        let revocation = Revocation {
            program: issuer.program,
            device,
            reason: reason.to_owned(),
            issued_at,
            frontier,
            issuer: Issuer::Device(issuer.chain().clone()),
            signature: [0; 64],
        };
        revocation.signed_by(issuer_key)
    }

    fn signed_by(mut self, key: &Keypair) -> Result<Revocation, IssueError> {
        if self.reason.len() > MAX_REASON_LEN {
            return Err(IssueError::ReasonTooLong {
                len: self.reason.len(),
            });
        }
        if !self.frontier_in_bounds() {
            return Err(IssueError::FrontierTooLarge);
        }
        let message = self.signed_message();
        self.signature = sign64(key, &message);
        Ok(self)
    }

    fn frontier_in_bounds(&self) -> bool {
        self.frontier.len() <= MAX_FRONTIER_ACTORS
            && self
                .frontier
                .keys()
                .all(|actor| !actor.is_empty() && actor.len() <= MAX_ACTOR_LEN)
    }

    /// The device that signed it; `None` when signed by the program key.
    pub fn issuer_device(&self) -> Option<DeviceKey> {
        self.issuer_chain().map(Chain::subject)
    }

    /// The chain of the device that signed it; `None` when signed by the program key.
    pub fn issuer_chain(&self) -> Option<&Chain> {
        match &self.issuer {
            Issuer::Program => None,
            Issuer::Device(chain) => Some(chain),
        }
    }

    /// The issuer's scopes as its chain states them, unverified (`All` for the program key).
    pub(crate) fn claimed_issuer_scopes(&self) -> Scopes {
        match &self.issuer {
            Issuer::Program => Scopes::All,
            Issuer::Device(chain) => chain.leaf().scopes.clone(),
        }
    }

    /// Whether a change by the revoked device, `(actor, seq)`, is still accepted:
    /// only if the frontier names the actor with a sequence number at least `seq`.
    pub fn allows(&self, actor: &[u8], seq: u64) -> bool {
        self.frontier.get(actor).is_some_and(|max| seq <= *max)
    }

    /// Checks the signature and the issuer's chain (verified at `issued_at`, not
    /// now, so a revocation outlives its issuer's certificate). Returns the
    /// issuer's scopes (`All` for the program key).
    pub fn verify(&self, program: &ProgramId) -> Result<Scopes, RevocationError> {
        if self.program != *program {
            return Err(RevocationError::WrongProgram {
                expected: *program,
                found: self.program,
            });
        }
        if self.reason.len() > MAX_REASON_LEN {
            return Err(RevocationError::Malformed("reason too long"));
        }
        if !self.frontier_in_bounds() {
            return Err(RevocationError::Malformed("frontier too large"));
        }
        let message = self.signed_message();
        match &self.issuer {
            Issuer::Program => {
                let key = program.public_key().ok_or(RevocationError::BadSignature)?;
                if key.verify(&message, &self.signature) {
                    Ok(Scopes::All)
                } else {
                    Err(RevocationError::BadSignature)
                }
            }
            Issuer::Device(chain) => {
                let enrolment = chain
                    .verify(program, self.issued_at)
                    .map_err(RevocationError::IssuerChain)?;
                if !enrolment.role.can_revoke() {
                    return Err(RevocationError::IssuerCannotRevoke {
                        role: enrolment.role,
                    });
                }
                if enrolment.device.verify(&message, &self.signature) {
                    Ok(enrolment.scopes)
                } else {
                    Err(RevocationError::BadSignature)
                }
            }
        }
    }

    /// [`Revocation::verify`], and that the revoked device's `chain` (if known)
    /// is within the issuer's scopes.
    pub fn verify_for(
        &self,
        program: &ProgramId,
        chain: Option<&Chain>,
    ) -> Result<Scopes, RevocationError> {
        let scopes = self.verify(program)?;
        match chain {
            Some(chain)
                if chain.subject() == self.device && !scopes.covers_all(&chain.leaf().scopes) =>
            {
                Err(RevocationError::OutsideIssuerScope)
            }
            _ => Ok(scopes),
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(REVOCATION_VERSION);
        out.extend_from_slice(self.program.as_bytes());
        out.extend_from_slice(self.device.as_bytes());
        put_bytes(out, self.reason.as_bytes());
        put_varint(out, self.issued_at);
        put_varint(out, self.frontier.len() as u64);
        for (actor, seq) in &self.frontier {
            put_bytes(out, actor);
            put_varint(out, *seq);
        }
        match &self.issuer {
            Issuer::Program => out.push(0),
            Issuer::Device(chain) => {
                out.push(1);
                put_bytes(out, &chain.encode());
            }
        }
    }

    /// What the issuer signs: the domain tag and every field (all bytes before the signature).
    fn signed_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(REVOCATION_TAG);
        self.encode_body(&mut out);
        out
    }

    /// The binary form: version, program, device, reason, issued_at, frontier,
    /// issuer (0 = program key, 1 = device chain), signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_body(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes the binary form (structure only: the signature is checked by [`Revocation::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Revocation, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.version("revocation.version", REVOCATION_VERSION)?;
        let program = ProgramId::from_bytes(reader.array("revocation.program")?);
        let at = reader.offset();
        let device = DeviceKey::from_bytes(reader.array("revocation.device")?)
            .map_err(|_| DecodeError::new("revocation.device", at, DecodeErrorKind::BadKey))?;
        let reason = reader
            .string("revocation.reason", MAX_REASON_LEN)?
            .to_owned();
        let issued_at = reader.varint("revocation.issued_at")?;
        let count = reader.count("revocation.frontier", MAX_FRONTIER_ACTORS, 3)?;
        let mut frontier = Frontier::new();
        for _ in 0..count {
            let at = reader.offset();
            let actor = reader.bytes("revocation.frontier.actor", MAX_ACTOR_LEN)?;
            if actor.is_empty() {
                return Err(DecodeError::new(
                    "revocation.frontier.actor",
                    at,
                    DecodeErrorKind::Invalid("empty actor id".into()),
                ));
            }
            if frontier
                .keys()
                .next_back()
                .is_some_and(|last| last.as_slice() >= actor)
            {
                return Err(DecodeError::new(
                    "revocation.frontier.actor",
                    at,
                    DecodeErrorKind::NotCanonical,
                ));
            }
            let seq = reader.varint("revocation.frontier.seq")?;
            frontier.insert(actor.to_vec(), seq);
        }
        let at = reader.offset();
        let issuer = match reader.u8("revocation.issuer")? {
            0 => Issuer::Program,
            1 => {
                let chain_bytes = reader.bytes("revocation.issuer.chain", MAX_ISSUER_CHAIN_LEN)?;
                let base = reader.offset() - chain_bytes.len();
                let chain = Chain::decode(chain_bytes).map_err(|e| e.shifted(base))?;
                if chain.program() != program {
                    return Err(DecodeError::new(
                        "revocation.issuer.chain",
                        base,
                        DecodeErrorKind::Invalid("the issuer's chain is of another program".into()),
                    ));
                }
                Issuer::Device(chain)
            }
            tag => {
                return Err(DecodeError::new(
                    "revocation.issuer",
                    at,
                    DecodeErrorKind::UnknownTag(tag),
                ));
            }
        };
        let signature = reader.array("revocation.signature")?;
        reader.finish("revocation")?;
        Ok(Revocation {
            program,
            device,
            reason,
            issued_at,
            frontier,
            issuer,
            signature,
        })
    }
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("program", &self.program)
            .field("device", &self.device)
            .field("reason_len", &self.reason.len())
            .field("issued_at", &self.issued_at)
            .field("frontier_actors", &self.frontier.len())
            .field("issuer", &self.issuer_device())
            .finish_non_exhaustive()
    }
}

impl ProgramKey {
    /// A revocation of `device` signed by the program key.
    pub fn revoke(
        &self,
        device: DeviceKey,
        reason: &str,
        issued_at: UnixTime,
        frontier: Frontier,
    ) -> Result<Revocation, IssueError> {
        Revocation {
            program: self.id(),
            device,
            reason: reason.to_owned(),
            issued_at,
            frontier,
            issuer: Issuer::Program,
            signature: [0; 64],
        }
        .signed_by(&self.keypair)
    }
}
