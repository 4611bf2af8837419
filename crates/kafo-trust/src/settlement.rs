//! Settlements: a supervisor's or admin's signed acceptance of changes that a revoked
//! device made past its revocation's frontier, in one household.
//!
//! Such changes are held back by every device that knows the revocation (the
//! household stops syncing there). A settlement names the household and the hashes
//! of the held-back changes it accepts; it spreads ahead of data like a revocation,
//! and a device that knows it takes those changes (and only those) again. Nothing
//! already recorded is dropped: settling only lets more in.

use std::collections::BTreeSet;
use std::fmt;

use libp2p_identity::ed25519::Keypair;

use crate::chain::Chain;
use crate::keys::{is_key_of, sign64};
use crate::wire::{DecodeError, DecodeErrorKind, Reader, put_bytes, put_varint};
use crate::{DeviceKey, Enrolment, IssueError, ProgramId, Scopes, SettlementError, UnixTime};

/// The most change hashes one settlement accepts.
pub const MAX_SETTLED_CHANGES: usize = 4096;
/// The longest household id in a settlement, in bytes.
const MAX_HOUSEHOLD_LEN: usize = 256;
/// The longest issuer chain inside a settlement, in bytes.
const MAX_ISSUER_CHAIN_LEN: usize = 128 * 1024;
const SETTLEMENT_VERSION: u8 = 1;
const SETTLEMENT_TAG: &[u8] = b"kafo/settlement/v1";

/// A signed acceptance of held-back changes in one household.
#[derive(Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The program.
    pub program: ProgramId,
    /// The household's id.
    pub household: String,
    /// The hashes of the accepted changes.
    pub changes: BTreeSet<[u8; 32]>,
    /// When it was issued (unix seconds).
    pub issued_at: UnixTime,
    issuer: Chain,
    signature: [u8; 64],
}

impl Settlement {
    /// Issued by an enrolled supervisor or admin (a role that may revoke).
    pub fn issue(
        issuer: &Enrolment,
        issuer_key: &Keypair,
        household: &str,
        changes: BTreeSet<[u8; 32]>,
        issued_at: UnixTime,
    ) -> Result<Settlement, IssueError> {
        if !is_key_of(issuer_key, &issuer.device) {
            return Err(IssueError::WrongKey);
        }
        if !issuer.role.can_revoke() {
            return Err(IssueError::CannotRevoke { role: issuer.role });
        }
        if issued_at < issuer.not_before || issued_at > issuer.not_after {
            return Err(IssueError::IssuerNotValid { at: issued_at });
        }
        if changes.is_empty() || changes.len() > MAX_SETTLED_CHANGES {
            return Err(IssueError::FrontierTooLarge);
        }
        let mut settlement = Settlement {
            program: issuer.program,
            household: household.to_owned(),
            changes,
            issued_at,
            issuer: issuer.chain().clone(),
            signature: [0; 64],
        };
        settlement.signature = sign64(issuer_key, &settlement.signed_message());
        Ok(settlement)
    }

    /// The device that signed it.
    pub fn issuer_device(&self) -> DeviceKey {
        self.issuer.subject()
    }

    /// Whether it accepts the change `hash`.
    pub fn accepts(&self, hash: &[u8; 32]) -> bool {
        self.changes.contains(hash)
    }

    /// Checks the signature and the issuer's chain (verified at `issued_at`) and
    /// role. Returns the issuer's scopes: the settlement holds only for households
    /// within them.
    pub fn verify(&self, program: &ProgramId) -> Result<Scopes, SettlementError> {
        if self.program != *program {
            return Err(SettlementError::WrongProgram);
        }
        let enrolment = self
            .issuer
            .verify(program, self.issued_at)
            .map_err(SettlementError::IssuerChain)?;
        if !enrolment.role.can_revoke() {
            return Err(SettlementError::IssuerCannotSettle {
                role: enrolment.role,
            });
        }
        if enrolment
            .device
            .verify(&self.signed_message(), &self.signature)
        {
            Ok(enrolment.scopes)
        } else {
            Err(SettlementError::BadSignature)
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(SETTLEMENT_VERSION);
        out.extend_from_slice(self.program.as_bytes());
        put_bytes(out, self.household.as_bytes());
        put_varint(out, self.changes.len() as u64);
        for hash in &self.changes {
            out.extend_from_slice(hash);
        }
        put_varint(out, self.issued_at);
        put_bytes(out, &self.issuer.encode());
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(SETTLEMENT_TAG);
        self.encode_body(&mut out);
        out
    }

    /// The binary form: version, program, household, changes, issued_at, issuer
    /// chain, signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_body(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes the binary form (structure only: [`Settlement::verify`] checks it).
    pub fn decode(bytes: &[u8]) -> Result<Settlement, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.version("settlement.version", SETTLEMENT_VERSION)?;
        let program = ProgramId::from_bytes(reader.array("settlement.program")?);
        let household = reader
            .string("settlement.household", MAX_HOUSEHOLD_LEN)?
            .to_owned();
        let count = reader.count("settlement.changes", MAX_SETTLED_CHANGES, 32)?;
        let mut changes = BTreeSet::new();
        for _ in 0..count {
            let at = reader.offset();
            let hash: [u8; 32] = reader.array("settlement.change")?;
            if changes.last().is_some_and(|last| *last >= hash) {
                return Err(DecodeError::new(
                    "settlement.change",
                    at,
                    DecodeErrorKind::NotCanonical,
                ));
            }
            changes.insert(hash);
        }
        let issued_at = reader.varint("settlement.issued_at")?;
        let chain_bytes = reader.bytes("settlement.issuer", MAX_ISSUER_CHAIN_LEN)?;
        let base = reader.offset() - chain_bytes.len();
        let issuer = Chain::decode(chain_bytes).map_err(|e| e.shifted(base))?;
        let signature = reader.array("settlement.signature")?;
        reader.finish("settlement")?;
        Ok(Settlement {
            program,
            household,
            changes,
            issued_at,
            issuer,
            signature,
        })
    }
}

impl fmt::Debug for Settlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settlement")
            .field("program", &self.program)
            .field("changes", &self.changes.len())
            .field("issued_at", &self.issued_at)
            .field("issuer", &self.issuer_device())
            .finish_non_exhaustive()
    }
}
