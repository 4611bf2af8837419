//! Kafo's trust layer: who may sync what with whom, checked by every device
//! itself, offline. Pure: no IO, no clock (times are passed in as unix
//! seconds), no async.
//!
//! # The model
//!
//! - A **program** is an ed25519 root key ([`ProgramKey`]) made on the
//!   administrator's device; its public half is the [`ProgramId`] every device
//!   of the program pins.
//! - A **device** is its libp2p ed25519 identity ([`DeviceKey`], displayed as
//!   its peer id). The Noise handshake proves possession of that key.
//! - A **certificate** binds a device to a [`Role`], [`Scopes`] (`area` or
//!   `area/chw` prefixes, or every scope) and a validity period. A **chain**
//!   ([`Chain`]) is root first: certificate 0 is signed by the program key,
//!   certificate `i` by the subject of certificate `i - 1`. A chain can only
//!   narrow: each certificate's scopes are within its issuer's, its validity
//!   within its issuer's, and its role one the issuer may grant (an admin any
//!   role; a supervisor chw, relay or supervisor; chw and relay nothing). The
//!   rules are enforced when issuing ([`IssueError`]) and when verifying
//!   ([`ChainError`]). [`Chain::verify`] yields an [`Enrolment`].
//! - Every signature is domain-separated: a certificate's covers
//!   `kafo/cert/v1`, the program id, the issuer's public key and every field;
//!   a revocation's `kafo/revocation/v1` and every field; a change attestation
//!   `kafo/change/v1` and the change hash.
//! - A **revocation** ([`Revocation`]) names a device, a reason, its issue time
//!   and a [`Frontier`]: the revoked device's changes the issuer knew of, which
//!   stay accepted ([`Revocation::allows`]). It is signed by the program key or
//!   by an admin or supervisor device (whose chain it carries, verified at the
//!   issue time so a revocation outlives its issuer's certificate). A
//!   revocation by a device counts only for devices within the issuer's scopes.
//! - A **trust book** ([`TrustBook`]) is what a device knows: the pinned
//!   program, the chains it has seen and the revocations it has learnt.
//!   [`TrustBook::admit`] is the handshake check. A chain is refused if its
//!   subject **or any device that issued one of its certificates** is revoked:
//!   revoking a supervisor cuts off the devices it enrolled until they are
//!   re-enrolled by someone else (a thief holding the supervisor's key could
//!   have enrolled devices of its own, indistinguishable from legitimate ones).
//!   Revocations are not transitive beyond the chain: a revoked device's own
//!   revocations of others stay valid.
//! - Certificates expire (default [`DEFAULT_VALIDITY_DAYS`]), so a device that
//!   never hears of its revocation is still cut off when its chain lapses.
//!
//! # Wire forms
//!
//! Compact binary forms, each starting with a version byte, varint (minimal
//! LEB128) times and lengths, and one canonical encoding per value (decoding
//! then encoding gives back the same bytes). Decoders check every bound before
//! allocating, never panic, and report the field and byte offset of what is
//! wrong ([`DecodeError`]). A chain's text form, for QR codes and copy-paste,
//! is `KAFO1:` and the base32 of its binary form; a chain of three
//! certificates (an admin with every scope, a supervisor and a CHW with one
//! scope each) is 381 bytes, 616 characters.
//!
//! In sessions: [`Credentials`] go in `Hello`, a [`Disclosure`] of revocations
//! in the `Disclose` frame before any data, and automerge bytes travel in a
//! [`SignedEnvelope`] with an [`Attestation`] per change and its authors' chains.

mod book;
mod chain;
mod enrolment;
mod errors;
pub mod fuzz;
mod keys;
mod messages;
mod revocation;
mod role;
mod scopes;
mod settlement;
mod wire;

pub use book::TrustBook;
pub use chain::{Certificate, Chain, MAX_CHAIN_LEN, TEXT_PREFIX};
pub use enrolment::Enrolment;
pub use errors::{AdmitError, ChainError, IssueError, KeyError, RevocationError, SettlementError};
pub use keys::{DeviceKey, ProgramId, ProgramKey};
pub use messages::{
    Attestation, Credentials, Disclosure, MAX_DISCLOSED_REVOCATIONS, MAX_ENVELOPE_BODY,
    MAX_ENVELOPE_CHAINS, MAX_ENVELOPE_SIGNATURES, SignedEnvelope,
};
pub use revocation::{Frontier, MAX_ACTOR_LEN, MAX_FRONTIER_ACTORS, MAX_REASON_LEN, Revocation};
pub use role::{Role, UnknownRole};
pub use scopes::{MAX_SCOPES, Scopes};
pub use settlement::{MAX_SETTLED_CHANGES, Settlement};
pub use wire::{DecodeError, DecodeErrorKind};

/// Unix time in seconds.
pub type UnixTime = u64;

/// How long a certificate is valid unless asked otherwise.
pub const DEFAULT_VALIDITY_DAYS: u64 = 90;

/// Seconds in a day, for validity periods.
pub const SECONDS_PER_DAY: u64 = 86_400;
