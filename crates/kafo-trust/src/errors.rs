//! The typed errors of each operation.

use crate::{ProgramId, Role, UnixTime};

/// Why bytes or a string are not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The 32 bytes are not a valid ed25519 point.
    #[error("not a valid ed25519 public key")]
    InvalidPoint,
    /// Not a libp2p peer id.
    #[error("not a peer id")]
    NotAPeerId,
    /// A peer id, but not of an ed25519 key.
    #[error("the peer id is not an ed25519 identity")]
    NotEd25519,
    /// Not `KP` followed by the base32 of 32 bytes.
    #[error("not a program id (KP followed by 52 base32 characters)")]
    NotAProgramId,
}

/// Why a chain does not verify. `index` is the certificate's position, root first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The chain belongs to another program.
    #[error("the chain belongs to program {found:?}, not {expected:?}")]
    WrongProgram {
        /// The pinned program.
        expected: ProgramId,
        /// The chain's program.
        found: ProgramId,
    },
    /// The program id is not a valid ed25519 key.
    #[error("the program id is not a valid ed25519 key")]
    BadProgramKey,
    /// A certificate's signature does not verify with its issuer's key.
    #[error("certificate {index}: the signature does not verify")]
    BadSignature {
        /// Which certificate.
        index: usize,
    },
    /// The issuer's role may not enrol this role.
    #[error("certificate {index}: a {issuer} may not enrol a {role}")]
    RoleNotAllowed {
        /// Which certificate.
        index: usize,
        /// The issuer's role.
        issuer: Role,
        /// The role the certificate grants.
        role: Role,
    },
    /// The scopes are not within the issuer's scopes.
    #[error("certificate {index}: its scopes are wider than its issuer's")]
    ScopesWiden {
        /// Which certificate.
        index: usize,
    },
    /// The validity period is not within the issuer's.
    #[error("certificate {index}: its validity period is wider than its issuer's")]
    ValidityWidens {
        /// Which certificate.
        index: usize,
    },
    /// `not_before` is after `not_after`.
    #[error("certificate {index}: not_before is after not_after")]
    InvalidValidity {
        /// Which certificate.
        index: usize,
    },
    /// The chain's validity ended before `now`.
    #[error("expired at {not_after}")]
    Expired {
        /// When it ended (unix seconds).
        not_after: UnixTime,
    },
    /// The chain's validity starts after `now`.
    #[error("not valid before {not_before}")]
    NotYetValid {
        /// When it starts (unix seconds).
        not_before: UnixTime,
    },
}

/// Why a certificate or revocation cannot be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// The key pair given is not the key of the enrolment's device.
    #[error("the signing key is not the issuing device's key")]
    WrongKey,
    /// The issuer's role may not enrol this role.
    #[error("a {issuer} may not enrol a {role}")]
    RoleNotAllowed {
        /// The issuer's role.
        issuer: Role,
        /// The role asked for.
        role: Role,
    },
    /// The issuer's role may not revoke.
    #[error("a {role} may not revoke devices")]
    CannotRevoke {
        /// The issuer's role.
        role: Role,
    },
    /// The scopes asked for are not within the issuer's.
    #[error("the scopes {asked} are not within the issuer's scopes {held}")]
    ScopesWiden {
        /// The scopes asked for.
        asked: String,
        /// The issuer's scopes.
        held: String,
    },
    /// The validity asked for is not within the issuer's.
    #[error(
        "validity {not_before}..{not_after} is not within the issuer's {held_not_before}..{held_not_after}"
    )]
    ValidityWidens {
        /// Start asked for.
        not_before: UnixTime,
        /// End asked for.
        not_after: UnixTime,
        /// The issuer's start.
        held_not_before: UnixTime,
        /// The issuer's end.
        held_not_after: UnixTime,
    },
    /// `not_before` is after `not_after`.
    #[error("not_before {not_before} is after not_after {not_after}")]
    InvalidValidity {
        /// Start asked for.
        not_before: UnixTime,
        /// End asked for.
        not_after: UnixTime,
    },
    /// The issuer's certificate is not valid at the revocation's issue time.
    #[error("the issuer's certificate is not valid at {at}")]
    IssuerNotValid {
        /// The issue time.
        at: UnixTime,
    },
    /// The chain would be longer than [`crate::MAX_CHAIN_LEN`].
    #[error("the chain would have more than {max} certificates", max = crate::MAX_CHAIN_LEN)]
    ChainTooLong,
    /// More than [`crate::MAX_SCOPES`] scopes.
    #[error("{count} scopes, at most {max} are allowed", max = crate::MAX_SCOPES)]
    TooManyScopes {
        /// How many were asked for.
        count: usize,
    },
    /// The reason is longer than [`crate::MAX_REASON_LEN`] bytes.
    #[error("the reason is {len} bytes long, at most {max} are allowed", max = crate::MAX_REASON_LEN)]
    ReasonTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The frontier is over its bounds.
    #[error("the frontier has too many actors or an actor id is too long")]
    FrontierTooLarge,
}

/// Why a revocation is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// It belongs to another program.
    #[error("the revocation belongs to program {found:?}, not {expected:?}")]
    WrongProgram {
        /// The pinned program.
        expected: ProgramId,
        /// The revocation's program.
        found: ProgramId,
    },
    /// Its signature does not verify.
    #[error("the revocation's signature does not verify")]
    BadSignature,
    /// The issuing device's chain does not verify at the issue time.
    #[error("the issuer's chain: {0}")]
    IssuerChain(ChainError),
    /// The issuing device's role may not revoke.
    #[error("a {role} may not revoke devices")]
    IssuerCannotRevoke {
        /// The issuer's role.
        role: Role,
    },
    /// The revoked device's scopes are not within the issuer's.
    #[error("the revoked device's scopes are outside the issuer's scopes")]
    OutsideIssuerScope,
    /// The revocation's fields are over their bounds.
    #[error("the revocation is malformed: {0}")]
    Malformed(&'static str),
}

/// Why a settlement does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    /// It belongs to another program.
    #[error("the settlement belongs to another program")]
    WrongProgram,
    /// Its signature does not verify.
    #[error("the settlement's signature does not verify")]
    BadSignature,
    /// The issuing device's chain does not verify at the issue time.
    #[error("the settlement issuer's chain: {0}")]
    IssuerChain(ChainError),
    /// The issuing device's role may not settle (only those that may revoke).
    #[error("a {role} may not settle held-back households")]
    IssuerCannotSettle {
        /// The issuer's role.
        role: Role,
    },
}

/// Why a peer's chain is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// The chain does not verify.
    #[error("invalid certificate chain: {0}")]
    Chain(ChainError),
    /// The chain belongs to another program.
    #[error("the chain belongs to another program")]
    WrongProgram,
    /// The chain has expired.
    #[error("the certificate expired at {not_after}")]
    Expired {
        /// When it ended (unix seconds).
        not_after: UnixTime,
    },
    /// The chain is not valid yet.
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid {
        /// When it starts (unix seconds).
        not_before: UnixTime,
    },
    /// The device, or a device that issued a certificate of its chain, is revoked.
    #[error("the device is revoked: {reason}")]
    Revoked {
        /// The revocation's reason.
        reason: String,
    },
}

impl From<ChainError> for AdmitError {
    fn from(error: ChainError) -> Self {
        match error {
            ChainError::WrongProgram { .. } => AdmitError::WrongProgram,
            ChainError::Expired { not_after } => AdmitError::Expired { not_after },
            ChainError::NotYetValid { not_before } => AdmitError::NotYetValid { not_before },
            other => AdmitError::Chain(other),
        }
    }
}
