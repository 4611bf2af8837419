//! Exporting every household in canonical format v1, sorted by id.

use std::io::Write;

use kafo_model::HouseholdId;
use kafo_model::canonical::CanonicalError;
use kafo_model::document::DocumentError;
use kafo_store::{HouseholdLineError, HouseholdReadError, ReadError};

use crate::node::Node;

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// Households written.
    pub households: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// A stored document is not a valid household.
    #[error("household {id}: {source}")]
    Document {
        /// The household.
        id: HouseholdId,
        /// What is wrong with its document.
        source: DocumentError,
    },
    /// A household could not be written as JSON.
    #[error("household {id}: {source}")]
    Canonical {
        /// The household.
        id: HouseholdId,
        /// What went wrong.
        source: CanonicalError,
    },
    /// The output could not be written.
    #[error("writing the export: {0}")]
    Write(#[source] std::io::Error),
}

impl From<HouseholdLineError> for ExportError {
    fn from(error: HouseholdLineError) -> Self {
        match error {
            HouseholdLineError::Household(HouseholdReadError::Read(error)) => Self::Read(error),
            HouseholdLineError::Household(HouseholdReadError::Document { id, source }) => {
                Self::Document { id, source }
            }
            HouseholdLineError::Canonical { id, source } => Self::Canonical { id, source },
        }
    }
}

impl Node {
    /// Writes every household, one canonical line each, sorted by id (from the
    /// store's views, without decoding the documents).
    pub fn export(&self, mut writer: impl Write) -> Result<ExportSummary, ExportError> {
        let mut summary = ExportSummary::default();
        for id in self.store.ids() {
            let id = id?;
            let Some(mut line) = self.store.household_line(&id)? else {
                continue;
            };
            line.push('\n');
            writer
                .write_all(line.as_bytes())
                .map_err(ExportError::Write)?;
            summary.households += 1;
            summary.bytes += line.len() as u64;
        }
        writer.flush().map_err(ExportError::Write)?;
        Ok(summary)
    }
}
