//! Exporting every household in canonical format v1, sorted by id.

use std::io::Write;

use kafo_model::HouseholdId;
use kafo_model::canonical::{self, CanonicalError};
use kafo_model::document::{self, DocumentError};
use kafo_store::ReadError;

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

impl Node {
    /// Writes every household, one canonical line each, sorted by id.
    pub fn export(&self, mut writer: impl Write) -> Result<ExportSummary, ExportError> {
        let mut summary = ExportSummary::default();
        for id in self.store.ids() {
            let id = id?;
            let Some(doc) = self.store.document(&id)? else {
                continue;
            };
            let household =
                document::read_household(&doc).map_err(|source| ExportError::Document {
                    id: id.clone(),
                    source,
                })?;
            let mut line = canonical::to_line(&household)
                .map_err(|source| ExportError::Canonical { id, source })?;
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
