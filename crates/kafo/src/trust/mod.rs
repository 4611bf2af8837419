//! Trust: which devices belong to the health program, what each may read and write,
//! who wrote what, and which devices are cut off.
//!
//! What it does: a device creates a program ([`Node::create_program`], it becomes
//! the program's first admin and keeps the program key), enrols others
//! ([`Node::enrol`], a certificate chain that only narrows), joins with the chain it
//! was given ([`Node::join`]), revokes lost devices ([`Node::revoke`]) and lists what
//! it knows ([`Node::devices`], [`Node::whoami`], [`Node::household_history`]).
//! Once enrolled, every change this device authors is signed with its device key,
//! sessions admit only devices of the same program whose chains are valid and not
//! revoked, share the intersection of both sides' read scopes, spread revocations
//! ahead of any data, and verify every received change before anything is written
//! ([`crate::sync::TrustedStorage`]).
//!
//! What it does not do: it never reads certificates from anywhere but the store and
//! the peers' handshakes, and never asks a server: every check is local and offline.
//! An unenrolled device syncs only with other unenrolled devices, as before trust
//! existed (development use).
//!
//! [`Node::create_program`]: crate::Node::create_program
//! [`Node::enrol`]: crate::Node::enrol
//! [`Node::join`]: crate::Node::join
//! [`Node::revoke`]: crate::Node::revoke
//! [`Node::devices`]: crate::Node::devices
//! [`Node::whoami`]: crate::Node::whoami
//! [`Node::household_history`]: crate::Node::household_history

mod admin;
pub(crate) mod admission;
mod adopt;
mod door;
mod error;
pub(crate) mod held_back;
mod history;
pub(crate) mod state;
pub(crate) mod verify;

use serde::Serialize;

pub use admin::{MAX_PROGRAM_NAME, MAX_VALID_DAYS};
pub use door::OutsideScope;
pub use error::{HistoryError, TrustError};
pub use held_back::HeldBackHousehold;
pub use kafo_trust::{
    Attestation, Certificate, Chain, Credentials, DEFAULT_VALIDITY_DAYS, DeviceKey, Disclosure,
    Enrolment, Frontier, ProgramId, ProgramKey, Revocation, Role, Scopes, Settlement,
    SignedEnvelope, TrustBook, UnixTime,
};
pub use state::TrustStateError;
pub use verify::Untrusted;

use crate::identity::DeviceId;

/// What [`Node::create_program`](crate::Node::create_program) made.
#[derive(Debug, Clone)]
pub struct ProgramInfo {
    /// The program's id (its public key).
    pub program: ProgramId,
    /// Its name, as given.
    pub name: String,
    /// This device's enrolment as the program's first admin.
    pub admin: Enrolment,
}

/// A device this device knows of (from its own enrolment, the certificates it issued,
/// and the chains peers presented).
#[derive(Debug, Clone, Serialize)]
pub struct KnownDevice {
    /// Its id.
    #[serde(serialize_with = "display")]
    pub device: DeviceId,
    /// Its role.
    pub role: Role,
    /// What it may read (and write, unless a relay).
    pub scopes: Scopes,
    /// When its certificate ends (unix seconds).
    pub not_after: u64,
    /// Whether and why it was revoked.
    pub revoked: Option<RevokedInfo>,
    /// Whether it is this device.
    pub this_device: bool,
}

/// The revocation of a known device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokedInfo {
    /// Why.
    pub reason: String,
    /// When it was issued (unix seconds).
    pub issued_at: u64,
}

/// This device: its id and, when enrolled, its program and enrolment.
#[derive(Debug, Clone)]
pub struct WhoAmI {
    /// This device's id (its libp2p peer id).
    pub device: DeviceId,
    /// The program it is pinned to.
    pub program: Option<ProgramId>,
    /// The program's name, on the device that created it.
    pub program_name: Option<String>,
    /// Its enrolment (possibly expired: compare `not_after` with the time).
    pub enrolment: Option<Enrolment>,
}

/// One change of a household's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The change hash (hex).
    pub hash: String,
    /// When it was made, by its author's clock (`None` when it carries no time).
    pub time: Option<jiff::Timestamp>,
    /// The device that signed it (`None` for the shared first change, or an unsigned one).
    pub author: Option<DeviceId>,
    /// The author's role, if its certificate is known here.
    pub role: Option<Role>,
    /// What changed, with ids only (never names or record contents).
    pub message: String,
    /// Whether its signature verifies (the shared first change: whether it is the
    /// exact first change every device derives for this household).
    pub verified: bool,
}

fn display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Unix seconds now, by this device's clock.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
