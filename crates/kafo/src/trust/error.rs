//! The typed errors of the trust operations.

use kafo_model::HouseholdId;
use kafo_model::document::DocumentError;
use kafo_store::{ReadError, UpdateError, WriteError};
use kafo_trust::{AdmitError, ChainError, DecodeError, IssueError, ProgramId, RevocationError};

use crate::identity::DeviceId;
use crate::trust::state::{RecordRevocationError, TrustStateError};

/// Why a trust operation ([`Node::create_program`](crate::Node::create_program),
/// [`Node::enrol`](crate::Node::enrol), [`Node::join`](crate::Node::join),
/// [`Node::revoke`](crate::Node::revoke), [`Node::devices`](crate::Node::devices))
/// failed. Nothing is changed when it fails, except where a variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The program name is empty or too long.
    #[error("the program name must be 1 to {max} bytes long, got {len}")]
    BadProgramName {
        /// Its length in bytes.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// The validity asked for is not 1 to 3650 days.
    #[error("the validity must be 1 to {max} days, got {days}")]
    BadValidity {
        /// Days asked for.
        days: u64,
        /// The most allowed.
        max: u64,
    },
    /// This device already belongs to a program.
    #[error("this device is already enrolled in program {program}")]
    AlreadyEnrolled {
        /// The program it belongs to.
        program: ProgramId,
    },
    /// This device has not joined any program.
    #[error("this device is not enrolled in any program (kafo program create, or kafo join)")]
    NotEnrolled,
    /// The device id given is not an ed25519 device id.
    #[error("{device} is not an ed25519 device id")]
    NotADeviceKey {
        /// The id.
        device: DeviceId,
    },
    /// This device's own key cannot sign (not an ed25519 key).
    #[error("this device's key is not an ed25519 key: it cannot sign")]
    CannotSign,
    /// The certificate (or revocation) could not be issued: it would widen what the
    /// issuer holds, or the issuer may not issue it.
    #[error("cannot issue: {0}")]
    Issue(#[from] IssueError),
    /// The certificate text does not decode.
    #[error("the certificate does not decode: {0}")]
    BadCertificate(#[source] DecodeError),
    /// The certificate is for another device.
    #[error("the certificate is for device {subject}, not this device")]
    NotThisDevice {
        /// Whom it names.
        subject: DeviceId,
    },
    /// The certificate is of another program than the one this device is pinned to.
    #[error("the certificate is for program {found}, this device belongs to program {pinned}")]
    OtherProgram {
        /// The pinned program.
        pinned: ProgramId,
        /// The certificate's program.
        found: ProgramId,
    },
    /// The certificate chain does not verify.
    #[error("the certificate does not verify: {0}")]
    InvalidChain(#[from] ChainError),
    /// The certificate is refused (expired, not yet valid, revoked).
    #[error("the certificate is refused: {0}")]
    Refused(#[from] AdmitError),
    /// The revocation is refused (a supervisor's, of a device outside her scopes).
    #[error("the revocation is refused: {0}")]
    Revocation(#[from] RevocationError),
    /// The household is not held back on this device (nothing to settle).
    #[error("household {id} is not held back on this device: nothing to settle")]
    NotHeldBack {
        /// The household.
        id: HouseholdId,
    },
    /// A device cannot revoke itself.
    #[error("a device cannot revoke itself")]
    RevokeSelf,
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// The store could not be written.
    #[error("writing the store: {0}")]
    Write(#[from] WriteError),
    /// The stored trust state is damaged.
    #[error(transparent)]
    State(#[from] TrustStateError),
    /// Signing the changes already in the store failed for a household; the
    /// enrolment itself is saved, and joining again resumes the signing.
    #[error("signing the changes of household {id}: {detail}")]
    Adopt {
        /// The household.
        id: HouseholdId,
        /// What went wrong.
        detail: String,
    },
}

impl<E: std::fmt::Display> From<(HouseholdId, UpdateError<E>)> for TrustError {
    fn from((id, error): (HouseholdId, UpdateError<E>)) -> Self {
        match error {
            UpdateError::Write(error) => Self::Write(error),
            other => Self::Adopt {
                id,
                detail: other.to_string(),
            },
        }
    }
}

impl From<RecordRevocationError> for TrustError {
    fn from(error: RecordRevocationError) -> Self {
        match error {
            RecordRevocationError::Refused(error) => Self::Revocation(error),
            RecordRevocationError::Write(error) => Self::Write(error),
        }
    }
}

/// Why [`Node::household_history`](crate::Node::household_history) failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No household with that id is stored.
    #[error("no household {0} in the store")]
    NoSuchHousehold(HouseholdId),
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// The stored document is damaged.
    #[error("household {id}: {source}")]
    Document {
        /// The household.
        id: HouseholdId,
        /// What is wrong.
        source: DocumentError,
    },
}
