//! Why a command failed, and the exit code each reason maps to (documented in
//! `--help` and the README: 1 failure, 65 bad input data, 69 peer unreachable,
//! 74 I/O error). A trust action this device may not take (enrolling outside its
//! scopes, revoking without the right) is a failure (1); a malformed certificate or
//! device id is bad input (65).

use std::path::PathBuf;

use kafo::doctor::DoctorError;
use kafo::model::parse::ParseFileError;
use kafo::net::{
    PeerRecordError, ServeError, SessionSetupError, SyncOutcome, SyncOverError, SyncWithError,
};
use kafo::store::OpenStoreError;
use kafo::trust::{HistoryError, TrustError};
use kafo::{AddVisitError, ExportError, ImportError, OpenError, ReadHouseholdError, ReportError};

/// Exit code for bad input data (sysexits EX_DATAERR).
pub const EXIT_BAD_DATA: u8 = 65;
/// Exit code for I/O errors (sysexits EX_IOERR).
pub const EXIT_IO: u8 = 74;
/// Exit code for a peer nobody answers for (sysexits EX_UNAVAILABLE).
pub const EXIT_UNREACHABLE: u8 = 69;
/// Exit code for any other failure.
pub const EXIT_FAILURE: u8 = 1;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The passphrase of an encrypted store could not be had.
    #[error("{0}")]
    Passphrase(String),
    /// No platform data directory, and no `--data-dir`.
    #[error("no default data directory on this platform; pass --data-dir DIR")]
    NoDataDir,
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Open(OpenError),
    /// Another process holds the store: most often a running `kafo serve`.
    #[error(
        "the store {} is in use by a running kafo (serve, or another command); stop it and try again",
        path.display()
    )]
    StoreInUse {
        /// The store directory.
        path: PathBuf,
    },
    /// The async runtime (threads, timers, sockets) could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// SIGINT/SIGTERM handlers could not be installed.
    #[error("cannot listen for signals: {0}")]
    Signals(#[source] std::io::Error),
    /// The node could not start serving.
    #[error("cannot serve: {0}")]
    Serve(#[from] ServeError),
    /// A sync with a peer at an address failed before reaching a result.
    #[error("sync failed: {0}")]
    SyncWith(Box<SyncWithError>),
    /// A sync over stdin/stdout failed before reaching a result.
    #[error("sync failed: {0}")]
    SyncOver(Box<SyncOverError>),
    /// The session ran but did not end in sync.
    #[error("the session did not reach sync: {0}")]
    NotInSync(SyncOutcome),
    /// The remembered peers could not be read.
    #[error("{0}")]
    Peers(#[from] PeerRecordError),
    /// An input file could not be opened.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An output file could not be created.
    #[error("cannot write {path}: {source}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write to stdout: {0}")]
    Output(#[source] std::io::Error),
    /// A result could not be encoded as JSON.
    #[error("cannot encode the result as JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// A flag value breaks format v1.
    #[error("{0}")]
    BadValue(String),
    /// The import failed.
    #[error("import failed: {0}")]
    Import(#[from] ImportError),
    /// The export failed.
    #[error("export failed: {0}")]
    Export(#[from] ExportError),
    /// Households could not be read.
    #[error("{0}")]
    ReadHouseholds(#[from] ReadHouseholdError),
    /// The visit could not be recorded.
    #[error("{0}")]
    AddVisit(#[from] AddVisitError),
    /// The status could not be read.
    #[error("cannot read the store: {0}")]
    Status(#[from] kafo::store::ReadError),
    /// No such household.
    #[error("no household {0} in the store")]
    NoSuchHousehold(String),
    /// A certificate's text does not decode (damaged, truncated, not a certificate).
    #[error("the certificate is malformed: {0}")]
    BadCertificate(String),
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    /// A trust action (program, enrolment, join, revocation, devices) failed.
    #[error("{0}")]
    Trust(#[from] TrustError),
    /// A household's history could not be read.
    #[error("{0}")]
    History(#[from] HistoryError),
    /// The report could not be computed.
    #[error("report failed: {0}")]
    Report(#[from] ReportError),
    /// `kafo doctor` could not check or salvage the store.
    #[error("{0}")]
    Doctor(#[from] kafo::doctor::DoctorError),
    /// `kafo doctor` found problems (already printed).
    #[error("{0}")]
    DoctorFound(String),
    /// A chart of the HTML report could not be drawn.
    #[error("cannot draw the chart {chart}: {message}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// What the plotting library said.
        message: String,
    },
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NoDataDir | Self::Json(_) | Self::NoSuchHousehold(_) => EXIT_FAILURE,
            Self::StoreInUse { .. } => EXIT_FAILURE,
            Self::Open(OpenError::Store(error)) => match error {
                OpenStoreError::Locked { .. }
                | OpenStoreError::UnsupportedVersion { .. }
                | OpenStoreError::NeedsKey { .. }
                | OpenStoreError::WrongKey { .. }
                | OpenStoreError::NotEncrypted { .. }
                | OpenStoreError::KeyUnavailable { .. } => EXIT_FAILURE,
                _ => EXIT_IO,
            },
            Self::Open(_) => EXIT_IO,
            Self::Runtime(_) | Self::Signals(_) | Self::Serve(ServeError::Network(_)) => {
                EXIT_FAILURE
            }
            Self::Serve(ServeError::InvalidConfig { .. }) => EXIT_FAILURE,
            Self::Serve(ServeError::PeerRecords(_)) | Self::Peers(_) => EXIT_IO,
            Self::SyncWith(error) if error.is_unreachable() => EXIT_UNREACHABLE,
            Self::SyncWith(error) => match &**error {
                SyncWithError::Setup(setup) => setup_exit_code(setup),
                SyncWithError::PeerRecord { .. } => EXIT_IO,
                _ => EXIT_FAILURE,
            },
            Self::SyncOver(error) => match &**error {
                SyncOverError::Setup(setup) => setup_exit_code(setup),
                SyncOverError::PeerRecord { .. } => EXIT_IO,
            },
            Self::NotInSync(_) => EXIT_FAILURE,
            Self::ReadFile { .. } | Self::WriteFile { .. } | Self::Output(_) | Self::Status(_) => {
                EXIT_IO
            }
            Self::BadValue(_) => EXIT_BAD_DATA,
            Self::Import(
                ImportError::Input(ParseFileError::Invalid { .. })
                | ImportError::OutsideScope { .. },
            ) => EXIT_BAD_DATA,
            Self::Import(_) | Self::Export(_) | Self::ReadHouseholds(_) => EXIT_IO,
            Self::AddVisit(
                AddVisitError::Invalid(_)
                | AddVisitError::Exists(_)
                | AddVisitError::OutsideScope(_),
            ) => EXIT_BAD_DATA,
            Self::AddVisit(AddVisitError::NoSuchHousehold(_)) => EXIT_FAILURE,
            Self::AddVisit(_) => EXIT_IO,
            Self::BadCertificate(_) => EXIT_BAD_DATA,
            Self::Input(_) => EXIT_IO,
            Self::Trust(error) => trust_exit_code(error),
            Self::History(error) => history_exit_code(error),
            Self::Report(_) => EXIT_IO,
            Self::Chart { .. } | Self::Passphrase(_) => EXIT_FAILURE,
            Self::Doctor(DoctorError::Open(
                OpenStoreError::Locked { .. }
                | OpenStoreError::NeedsKey { .. }
                | OpenStoreError::WrongKey { .. }
                | OpenStoreError::KeyUnavailable { .. },
            )) => EXIT_FAILURE,
            Self::Doctor(_) => EXIT_IO,
            Self::DoctorFound(_) => EXIT_FAILURE,
        }
    }
}

impl From<OpenError> for Failure {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Store(OpenStoreError::Locked { path }) => Self::StoreInUse { path },
            other => Self::Open(other),
        }
    }
}

impl From<SyncWithError> for Failure {
    fn from(error: SyncWithError) -> Self {
        Self::SyncWith(Box::new(error))
    }
}

impl From<SyncOverError> for Failure {
    fn from(error: SyncOverError) -> Self {
        Self::SyncOver(Box::new(error))
    }
}

fn setup_exit_code(error: &SessionSetupError) -> u8 {
    match error {
        SessionSetupError::Scopes(_) => EXIT_IO,
        SessionSetupError::DeviceId
        | SessionSetupError::Secure(_)
        | SessionSetupError::SecureTimedOut { .. } => EXIT_FAILURE,
    }
}

/// Bad flag values and certificates that do not decode or verify are bad input (65);
/// what this device may not do, or a certificate that is valid but not for here, is a
/// failure (1); the store is I/O (74).
fn trust_exit_code(error: &TrustError) -> u8 {
    match error {
        TrustError::BadProgramName { .. }
        | TrustError::BadValidity { .. }
        | TrustError::NotADeviceKey { .. }
        | TrustError::BadCertificate(_)
        | TrustError::InvalidChain(_) => EXIT_BAD_DATA,
        TrustError::AlreadyEnrolled { .. }
        | TrustError::NotEnrolled
        | TrustError::CannotSign
        | TrustError::Issue(_)
        | TrustError::NotThisDevice { .. }
        | TrustError::OtherProgram { .. }
        | TrustError::Refused(_)
        | TrustError::Revocation(_)
        | TrustError::RevokeSelf
        | TrustError::NotHeldBack { .. }
        | TrustError::Adopt { .. } => EXIT_FAILURE,
        TrustError::Read(_) | TrustError::Write(_) | TrustError::State(_) => EXIT_IO,
    }
}

fn history_exit_code(error: &HistoryError) -> u8 {
    match error {
        HistoryError::NoSuchHousehold(_) => EXIT_FAILURE,
        HistoryError::Read(_) | HistoryError::Document { .. } => EXIT_IO,
    }
}
