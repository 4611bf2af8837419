//! Importing a caseload in format v1: every line checked first, then written in
//! durable batches.
//!
//! All or nothing for the input: a file with any bad line writes nothing and
//! reports every bad line (up to a bound). A valid file is written in batches;
//! each batch is one atomic, flushed store commit, and is reported through
//! [`ImportEvent::Committed`] only once it is durable, so a crash mid-import
//! keeps every household reported as committed (and the rest can be re-imported:
//! importing is a merge, so repeating it is harmless).

use std::collections::BTreeMap;
use std::io::BufRead;

use automerge::transaction::CommitOptions;
use kafo_model::document::{self, ApplyOutcome, DocumentError};
use kafo_model::parse::{self, ParseFileError};
use kafo_model::{Household, HouseholdId};
use kafo_store::{CommitError, InvalidDocument, PendingDocument, ReadError};
use tracing::{debug, info};

use crate::node::Node;
use crate::records::commit_time;

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The most bad lines reported in detail.
    pub max_errors: usize,
    /// Households per durable batch.
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_errors: 100,
            batch_size: 256,
        }
    }
}

/// Progress of an import, reported as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ImportEvent {
    /// Every line was checked and is valid; writing starts.
    Validated {
        /// Households (lines) to write.
        households: usize,
    },
    /// The first `committed` households of the input are durable in the store.
    Committed {
        /// Households of the input durable so far, in input order.
        committed: usize,
        /// Households in the input.
        total: usize,
    },
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Lines (households) read.
    pub households: usize,
    /// Households that were new to the store.
    pub created: usize,
    /// Households merged into what was stored, with changes.
    pub merged: usize,
    /// Households already stored exactly as imported.
    pub unchanged: usize,
}

/// Why an import failed. Nothing of a batch that failed is written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Writing stopped partway (a full disk, a failing store): the first `written`
    /// households of the input are durable, the others were not written. Importing
    /// the same input again finishes the job (an import is a merge).
    #[error(
        "{} of {} households were written; {}: {source}",
        thousands(*written),
        thousands(*total),
        if source.is_disk_full() { "free space and import again to finish" } else { "import again to finish" }
    )]
    Interrupted {
        /// Households of the input durable in the store, in input order.
        written: usize,
        /// Households in the input.
        total: usize,
        /// Why writing stopped.
        source: Box<ImportError>,
    },
    /// An enrolled device was given a household outside its write scopes (at input
    /// `line`): it could never share it, so nothing is imported.
    #[error("line {line}: {refused}")]
    OutsideScope {
        /// The input line (from 1).
        line: u64,
        /// The household and the scopes.
        refused: crate::trust::OutsideScope,
    },
    /// The input is not valid format v1 (every bad line is listed), or could not be read.
    #[error(transparent)]
    Input(#[from] ParseFileError),
    /// A stored document could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// A batch could not be committed.
    #[error("writing the store: {0}")]
    Commit(#[from] CommitError),
    /// A built document is not a valid household document.
    #[error("household {id}: {source}")]
    Invalid {
        /// The household.
        id: HouseholdId,
        /// What is wrong with it.
        source: InvalidDocument,
    },
    /// A stored document could not take the record.
    #[error("household {id}: {source}")]
    Document {
        /// The household.
        id: HouseholdId,
        /// What went wrong.
        source: DocumentError,
    },
}

impl ImportError {
    /// Whether the import failed because the disk is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Interrupted { source, .. } => source.is_disk_full(),
            Self::Commit(CommitError::Write(error)) => error.is_disk_full(),
            Self::Read(error) => error.is_disk_full(),
            _ => false,
        }
    }
}

/// `3600` as `3,600`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl Node {
    /// Imports a caseload in format v1 from `reader`, reporting progress to `on_event`.
    pub fn import(
        &self,
        reader: impl BufRead,
        options: &ImportOptions,
        mut on_event: impl FnMut(ImportEvent),
    ) -> Result<ImportSummary, ImportError> {
        let numbered = parse::parse_reader_numbered(reader, options.max_errors)?;
        for (line, household) in &numbered {
            self.check_write_scope(&household.id, &household.scope())
                .map_err(|refused| ImportError::OutsideScope {
                    line: *line,
                    refused,
                })?;
        }
        let households: Vec<Household> = numbered
            .into_iter()
            .map(|(_, household)| household)
            .collect();
        let total = households.len();
        on_event(ImportEvent::Validated { households: total });
        info!(households = total, "import validated");

        let mut summary = ImportSummary {
            households: total,
            ..ImportSummary::default()
        };
        let mut committed = 0;
        for batch in households.chunks(options.batch_size.max(1)) {
            let outcomes = self
                .write_batch(batch)
                .map_err(|source| ImportError::Interrupted {
                    written: committed,
                    total,
                    source: Box::new(source),
                })?;
            let mut changed: Vec<HouseholdId> = Vec::new();
            for (household, outcome) in batch.iter().zip(outcomes) {
                match outcome {
                    ApplyOutcome::Created => summary.created += 1,
                    ApplyOutcome::Updated => summary.merged += 1,
                    ApplyOutcome::Unchanged => summary.unchanged += 1,
                }
                if outcome != ApplyOutcome::Unchanged && !changed.contains(&household.id) {
                    changed.push(household.id.clone());
                }
            }
            self.note_change(changed);
            committed += batch.len();
            debug!(committed, total, "import batch durable");
            on_event(ImportEvent::Committed { committed, total });
        }
        info!(
            created = summary.created,
            merged = summary.merged,
            unchanged = summary.unchanged,
            "import done"
        );
        Ok(summary)
    }

    /// Writes one batch atomically and durably; returns one outcome per household, in order.
    fn write_batch(&self, batch: &[Household]) -> Result<Vec<ApplyOutcome>, ImportError> {
        // The same household may appear more than once in a batch: its records are
        // applied in input order to one document.
        let mut by_id: BTreeMap<&HouseholdId, Vec<usize>> = BTreeMap::new();
        for (index, household) in batch.iter().enumerate() {
            by_id.entry(&household.id).or_default().push(index);
        }
        let mut work: Vec<(PendingDocument, Vec<usize>)> = Vec::with_capacity(by_id.len());
        for (id, indices) in by_id {
            work.push((self.store.load_for_update(id)?, indices));
        }

        let results = build_in_parallel(&mut work, batch);
        let mut outcomes = vec![ApplyOutcome::Unchanged; batch.len()];
        for result in results {
            for (index, outcome) in result? {
                outcomes[index] = outcome;
            }
        }
        let pending = work.into_iter().map(|(pending, _)| pending).collect();
        self.store.commit(pending)?;
        Ok(outcomes)
    }
}

type BuiltDocument = Result<Vec<(usize, ApplyOutcome)>, ImportError>;

/// Applies each document's records on every core (building automerge changes is the
/// CPU-heavy part of an import; the store commit stays on the caller's thread).
fn build_in_parallel(
    work: &mut [(PendingDocument, Vec<usize>)],
    batch: &[Household],
) -> Vec<BuiltDocument> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = work.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter_mut()
                        .map(|(pending, indices)| build_one(pending, indices, batch))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| match handle.join() {
                Ok(results) => results,
                // A panic in automerge is a bug, not bad input: let it surface as one.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

fn build_one(
    pending: &mut PendingDocument,
    indices: &[usize],
    batch: &[Household],
) -> BuiltDocument {
    let mut outcomes = Vec::with_capacity(indices.len());
    for &index in indices {
        let household = &batch[index];
        let outcome =
            document::apply_household(pending.doc_mut(), household).map_err(|source| {
                ImportError::Document {
                    id: household.id.clone(),
                    source,
                }
            })?;
        outcomes.push((index, outcome));
    }
    // One change per household and batch, with its time and what it was.
    pending.doc_mut().commit_with(
        CommitOptions::default()
            .with_time(commit_time())
            .with_message("import".to_owned()),
    );
    // Encode (and sign) on this worker thread, so the commit only writes.
    let id = pending.id().clone();
    pending
        .prepare()
        .map_err(|source| ImportError::Invalid { id, source })?;
    Ok(outcomes)
}
