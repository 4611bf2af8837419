//! The one error type of the bindings: an exception with variants in Kotlin, Swift
//! and Python.

use kafo::model::parse::ParseFileError;
use kafo::net::{ServeError, SyncWithError};
use kafo::store::OpenStoreError;
use kafo::trust::TrustError;
use kafo::{AddVisitError, ExportError, ImportError, OpenError, ReadHouseholdError};

/// Why a call failed. Nothing is written when a call fails, unless its documentation
/// says otherwise.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KafoError {
    /// A record breaks format v1: the first bad `line` (from 1; 1 for a single
    /// record) and `field` (`visits[3].weight_kg`, empty for the whole line);
    /// `message` lists every problem found.
    #[error("line {line}, field {field:?}: {message}")]
    InvalidRecord {
        line: u64,
        field: String,
        message: String,
    },
    /// Another process (or another open `Node`) holds the store.
    #[error("{message}")]
    StoreLocked { message: String },
    /// The store is encrypted and was opened without its key, or with another key.
    /// Nothing was read or changed.
    #[error("{message}")]
    WrongKey { message: String },
    /// No household, visit or device with that id.
    #[error("{message}")]
    NotFound { message: String },
    /// An argument is not valid (an id, an address, a scope, a role).
    #[error("{message}")]
    InvalidArgument { message: String },
    /// A trust action this device may not take, or a certificate that does not hold.
    #[error("{message}")]
    Trust { message: String },
    /// The peer refused the session, or could not be reached.
    #[error("{message}")]
    Refused { message: String },
    /// The store or the network failed (I/O, damaged store, newer schema).
    #[error("{message}")]
    Io { message: String },
    /// A bug in Kafo (a panic caught before it reached the app).
    #[error("{message}")]
    Internal { message: String },
}

impl KafoError {
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            message: message.into(),
        }
    }

    fn io(error: impl std::fmt::Display) -> Self {
        Self::Io {
            message: error.to_string(),
        }
    }
}

impl From<OpenError> for KafoError {
    fn from(error: OpenError) -> Self {
        match &error {
            OpenError::Store(OpenStoreError::Locked { .. }) => Self::StoreLocked {
                message: error.to_string(),
            },
            OpenError::Store(
                OpenStoreError::NeedsKey { .. }
                | OpenStoreError::WrongKey { .. }
                | OpenStoreError::KeyUnavailable { .. },
            ) => Self::WrongKey {
                message: error.to_string(),
            },
            OpenError::Store(OpenStoreError::NotEncrypted { .. }) => {
                Self::invalid_argument(error.to_string())
            }
            _ => Self::io(error),
        }
    }
}

impl From<ImportError> for KafoError {
    fn from(error: ImportError) -> Self {
        match &error {
            ImportError::Input(ParseFileError::Invalid(file)) => match file.lines.first() {
                Some(bad) => Self::InvalidRecord {
                    line: bad.line,
                    field: bad
                        .errors
                        .errors
                        .first()
                        .map(|field| field.field.clone())
                        .unwrap_or_default(),
                    message: error.to_string(),
                },
                None => Self::io(error),
            },
            ImportError::OutsideScope { .. } => Self::Trust {
                message: error.to_string(),
            },
            _ => Self::io(error),
        }
    }
}

impl From<AddVisitError> for KafoError {
    fn from(error: AddVisitError) -> Self {
        match &error {
            AddVisitError::Invalid(fields) => Self::InvalidRecord {
                line: 1,
                field: fields
                    .first()
                    .map(|field| field.field.clone())
                    .unwrap_or_default(),
                message: error.to_string(),
            },
            AddVisitError::Exists(_) => Self::InvalidRecord {
                line: 1,
                field: "id".to_owned(),
                message: error.to_string(),
            },
            AddVisitError::NoSuchHousehold(_) => Self::NotFound {
                message: error.to_string(),
            },
            AddVisitError::OutsideScope(_) => Self::Trust {
                message: error.to_string(),
            },
            _ => Self::io(error),
        }
    }
}

impl From<ExportError> for KafoError {
    fn from(error: ExportError) -> Self {
        Self::io(error)
    }
}

impl From<ReadHouseholdError> for KafoError {
    fn from(error: ReadHouseholdError) -> Self {
        Self::io(error)
    }
}

impl From<kafo::ReportError> for KafoError {
    fn from(error: kafo::ReportError) -> Self {
        Self::io(error)
    }
}

impl From<kafo::store::ReadError> for KafoError {
    fn from(error: kafo::store::ReadError) -> Self {
        Self::io(error)
    }
}

impl From<TrustError> for KafoError {
    fn from(error: TrustError) -> Self {
        match &error {
            TrustError::Read(_) | TrustError::Write(_) | TrustError::State(_) => Self::io(error),
            _ => Self::Trust {
                message: error.to_string(),
            },
        }
    }
}

impl From<SyncWithError> for KafoError {
    fn from(error: SyncWithError) -> Self {
        match &error {
            SyncWithError::Unreachable { .. }
            | SyncWithError::OpenStream { .. }
            | SyncWithError::Setup(_) => Self::Refused {
                message: error.to_string(),
            },
            _ => Self::io(error),
        }
    }
}

impl From<ServeError> for KafoError {
    fn from(error: ServeError) -> Self {
        Self::io(error)
    }
}
