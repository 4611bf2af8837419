//! Finding, reading and editing households on one device.

use automerge::transaction::CommitOptions;
use kafo_model::document::{self, DocumentError, FieldConflict};
use kafo_model::parse::{self, FieldError};
use kafo_model::{AreaId, ChwId, Household, HouseholdId, HouseholdScope, Visit, VisitId};
use kafo_store::{
    HouseholdReadError, InvalidDocument, ListFilter, ReadError, UpdateError, WriteError,
};

use crate::node::Node;

/// One line of a household listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HouseholdListing {
    /// The household id.
    pub id: HouseholdId,
    /// Its area.
    pub area: AreaId,
    /// Its CHW.
    pub chw: ChwId,
    /// Its name.
    pub name: String,
    /// Number of members.
    pub members: usize,
    /// Number of visits.
    pub visits: usize,
}

/// A household as stored, with the fields edited concurrently on several devices.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HouseholdView {
    /// The current values (for each conflicting field, the deterministic winner).
    pub household: Household,
    /// Every field holding concurrent values, the winner first.
    pub conflicts: Vec<Conflict>,
}

/// A field edited concurrently on several devices: automerge keeps every value and
/// picks the same winner everywhere.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Conflict {
    /// The field, as a path from the household: `name`, `visits.<id>.weight_kg`.
    pub path: String,
    /// Every distinct value, the winner (what the household reads) first.
    pub values: Vec<serde_json::Value>,
}

impl From<FieldConflict> for Conflict {
    fn from(conflict: FieldConflict) -> Self {
        Self {
            path: conflict.path,
            values: conflict.values,
        }
    }
}

/// Why households could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadHouseholdError {
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// A stored document is not a valid household.
    #[error("household {id}: {source}")]
    Document {
        /// The household.
        id: HouseholdId,
        /// What is wrong with it.
        source: DocumentError,
    },
}

impl From<HouseholdReadError> for ReadHouseholdError {
    fn from(error: HouseholdReadError) -> Self {
        match error {
            HouseholdReadError::Read(error) => Self::Read(error),
            HouseholdReadError::Document { id, source } => Self::Document { id, source },
        }
    }
}

/// Why a visit could not be recorded. Nothing is written when it fails.
#[derive(Debug, thiserror::Error)]
pub enum AddVisitError {
    /// No household with that id is stored.
    #[error("no household {0} in the store")]
    NoSuchHousehold(HouseholdId),
    /// The visit breaks a rule of format v1.
    #[error("invalid visit: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// A visit with this id already exists.
    #[error("visit {0} already exists")]
    Exists(VisitId),
    /// The household is outside this enrolled device's write scopes.
    #[error(transparent)]
    OutsideScope(#[from] crate::trust::OutsideScope),
    /// The edited document would not be a valid household document.
    #[error("the edited household document is invalid: {0}")]
    InvalidDocument(#[source] InvalidDocument),
    /// The store could not be written.
    #[error("writing the store: {0}")]
    Write(#[source] WriteError),
    /// The stored document is not a valid household.
    #[error("household document: {0}")]
    Document(#[from] DocumentError),
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Node {
    /// Households in the store, of one area and/or CHW, in key order (`area/chw/id`).
    pub fn households(
        &self,
        area: Option<&AreaId>,
        chw: Option<&ChwId>,
    ) -> Result<Vec<HouseholdListing>, ReadHouseholdError> {
        let filter = ListFilter {
            area: area.cloned(),
            chw: chw.cloned(),
        };
        let mut listings = Vec::new();
        for item in self.store.list(&filter) {
            let id = item?.id;
            let Some(household) = self.store.household(&id)? else {
                continue;
            };
            listings.push(HouseholdListing {
                id,
                area: household.area,
                chw: household.chw,
                name: household.name,
                members: household.members.len(),
                visits: household.visits.len(),
            });
        }
        Ok(listings)
    }

    /// One household with its conflicts, or `None` if it is not stored.
    pub fn household(&self, id: &HouseholdId) -> Result<Option<HouseholdView>, ReadHouseholdError> {
        let Some(doc) = self.store.document(id)? else {
            return Ok(None);
        };
        let household =
            document::read_household(&doc).map_err(|source| ReadHouseholdError::Document {
                id: id.clone(),
                source,
            })?;
        Ok(Some(HouseholdView {
            household,
            conflicts: document::conflicts(&doc)
                .into_iter()
                .map(Conflict::from)
                .collect(),
        }))
    }

    /// The household's automerge document in `save()` form (for an app that reads it
    /// with automerge's own libraries), `None` if it is not stored.
    pub fn document_bytes(&self, id: &HouseholdId) -> Result<Option<Vec<u8>>, ReadError> {
        self.store.compacted_bytes(id)
    }

    /// Records a visit, checked by the same rules as an import; durable on return.
    pub fn add_visit(
        &self,
        household: &HouseholdId,
        visit: &Visit,
    ) -> Result<HouseholdScope, AddVisitError> {
        let result = self.store.update(household, |doc| {
            if doc.get_heads().is_empty() {
                return Err(AddVisitError::NoSuchHousehold(household.clone()));
            }
            let current = document::read_household(doc)?;
            self.check_write_scope(household, &current.scope())?;
            if current
                .visits
                .iter()
                .any(|existing| existing.id == visit.id)
            {
                return Err(AddVisitError::Exists(visit.id.clone()));
            }
            parse::check_visit(visit, &current).map_err(AddVisitError::Invalid)?;
            document::put_visit(doc, visit)?;
            doc.commit_with(
                CommitOptions::default()
                    .with_time(commit_time())
                    .with_message(format!("visit {} recorded", visit.id)),
            );
            Ok(current.scope())
        });
        match result {
            Ok((scope, _outcome)) => {
                self.note_change(vec![household.clone()]);
                Ok(scope)
            }
            Err(UpdateError::Edit { source, .. }) => Err(source),
            Err(UpdateError::Invalid { source, .. }) => Err(AddVisitError::InvalidDocument(source)),
            Err(UpdateError::Write(error)) => Err(AddVisitError::Write(error)),
        }
    }
}

/// The time of a change authored now: Unix seconds by this device's clock.
pub(crate) fn commit_time() -> i64 {
    i64::try_from(crate::trust::unix_now()).unwrap_or(i64::MAX)
}
