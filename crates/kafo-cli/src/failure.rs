//! Why a command failed, and the exit code each reason maps to (documented in
//! `--help` and the README: 1 failure, 65 bad input data, 74 I/O error).

use std::path::PathBuf;

use kafo::model::parse::ParseFileError;
use kafo::store::OpenStoreError;
use kafo::{AddVisitError, ExportError, ImportError, OpenError, ReadHouseholdError};

/// Exit code for bad input data (sysexits EX_DATAERR).
pub const EXIT_BAD_DATA: u8 = 65;
/// Exit code for I/O errors (sysexits EX_IOERR).
pub const EXIT_IO: u8 = 74;
/// Exit code for any other failure.
pub const EXIT_FAILURE: u8 = 1;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No platform data directory, and no `--data-dir`.
    #[error("no default data directory on this platform; pass --data-dir DIR")]
    NoDataDir,
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Open(#[from] OpenError),
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
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NoDataDir | Self::Json(_) | Self::NoSuchHousehold(_) => EXIT_FAILURE,
            Self::Open(OpenError::Store(error)) => match error {
                OpenStoreError::Locked { .. } | OpenStoreError::UnsupportedVersion { .. } => {
                    EXIT_FAILURE
                }
                _ => EXIT_IO,
            },
            Self::Open(_) => EXIT_IO,
            Self::ReadFile { .. } | Self::WriteFile { .. } | Self::Output(_) | Self::Status(_) => {
                EXIT_IO
            }
            Self::BadValue(_) => EXIT_BAD_DATA,
            Self::Import(ImportError::Input(ParseFileError::Invalid { .. })) => EXIT_BAD_DATA,
            Self::Import(_) | Self::Export(_) | Self::ReadHouseholds(_) => EXIT_IO,
            Self::AddVisit(AddVisitError::Invalid(_) | AddVisitError::Exists(_)) => EXIT_BAD_DATA,
            Self::AddVisit(AddVisitError::NoSuchHousehold(_)) => EXIT_FAILURE,
            Self::AddVisit(_) => EXIT_IO,
        }
    }
}
