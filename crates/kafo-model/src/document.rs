//! One household as one automerge document.
//!
//! # Layout (document layout version 1)
//!
//! The root map holds:
//! - `layout`: uint, the document layout version ([`LAYOUT_VERSION`]);
//! - `id`, `area`, `chw`, `name`, `status`: string scalars (scalars, not text, so that
//!   a field edited on two devices keeps one value deterministically and the other
//!   stays visible as a conflict, see [`conflicts`]);
//! - `location`: map `{lat, lon}` of f64, absent when unknown;
//! - `members`: map from person id to a map of that person's fields;
//! - `visits`: map from visit id to a map of that visit's fields.
//!
//! Members and visits are keyed by id, so two devices that add different visits keep
//! both. Field names inside a member or visit map are the format v1 field names
//! (without `id`, which is the key), and nested records (`pregnancy`, `referral`) are
//! maps of their own. Values: strings for text, ids, words of the closed vocabularies
//! and dates (`YYYY-MM-DD`, or `YYYY` / `YYYY-MM` for a partial birth date); f64 for
//! `lat`, `lon`, `weight_kg`, `height_cm`; uint for `muac_mm`; bool for
//! `birth_date_estimated` and `urgent`. A field absent from a map holds its format
//! default (absent option, `false`, empty list, `active`).
//!
//! `danger_signs` and `vaccines` are each one string scalar holding a compact JSON
//! array of strings (`["fever","lethargy"]`), not an automerge list. A visit's list
//! is written by one CHW at one moment and means one thing as a whole: as a scalar,
//! two devices that change it concurrently give one deterministic winner and the
//! other value stays visible in [`conflicts`], like every other field; as a list,
//! automerge would interleave both edits into a list neither device wrote
//! (duplicates included). It is also one operation instead of one per element, and
//! round trips exactly, order included.
//!
//! # The first change
//!
//! A document's first change is always the same for the same household: the layout
//! version, the household id and the empty `members` and `visits` maps, written by the
//! fixed actor [`GENESIS_ACTOR`] with time 0. Two devices that create the document of
//! one household independently (e.g. both import the same file) therefore share its
//! first change, and the `members` and `visits` maps are the same objects on both:
//! they never conflict and no member or visit is hidden by a merge.
//!
//! A member or visit created on two devices independently is still two maps under one
//! key. Reading treats them as one map, each field's value being the one written last
//! (in automerge's operation order), so nothing written on either device is hidden
//! (see `view.rs`).
//!
//! # Operations
//!
//! - [`apply_household`] merges a record in by the import rule of format v1, writing
//!   only what differs; [`put_visit`] adds or updates one visit;
//! - [`read_household`] reads the current winning values back, fully checked;
//! - [`conflicts`] lists every field holding concurrent values;
//! - [`summary`] reads what the store indexes without reading the whole record.
//!
//! Writes are left in the document's open transaction (except the first change,
//! committed at once); the caller commits, or saving does.

mod conflicts;
mod read;
mod view;
mod write;

use automerge::{ObjType, ROOT, ReadDoc, ScalarValue, Value};

use crate::ids::{AreaId, ChwId, HouseholdId, IdError};
use crate::scope::HouseholdScope;
use crate::validate::{FieldError, Problem};

pub use conflicts::{FieldConflict, conflicts};
pub use read::read_household;
pub use write::{ApplyOutcome, GENESIS_ACTOR, apply_household, put_visit};

/// The document layout version this crate writes and reads.
pub const LAYOUT_VERSION: u64 = 1;

/// Root key of the layout version.
pub const KEY_LAYOUT: &str = "layout";
/// Root key of the household id.
pub const KEY_ID: &str = "id";
/// Root key of the area.
pub const KEY_AREA: &str = "area";
/// Root key of the CHW.
pub const KEY_CHW: &str = "chw";
/// Root key of the household name.
pub const KEY_NAME: &str = "name";
/// Root key of the household status.
pub const KEY_STATUS: &str = "status";
/// Root key of the location map.
pub const KEY_LOCATION: &str = "location";
/// Root key of the members map.
pub const KEY_MEMBERS: &str = "members";
/// Root key of the visits map.
pub const KEY_VISITS: &str = "visits";

/// Why a document is not a valid household document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    /// A required field is absent.
    #[error("household document has no `{field}`")]
    Missing {
        /// The missing field, as a path from the root (`visits.<id>.date`).
        field: String,
    },
    /// A field this layout does not define.
    #[error("household document has an unknown field `{field}`")]
    UnknownField {
        /// The field, as a path from the root.
        field: String,
    },
    /// A field holds a value of the wrong type.
    #[error("household document field `{field}` has the wrong type")]
    WrongType {
        /// The field, as a path from the root.
        field: String,
    },
    /// An id field holds a string that is not a valid identifier.
    #[error("household document field `{field}` is not a valid id: {source}")]
    BadId {
        /// The field, as a path from the root.
        field: String,
        /// What is wrong with it.
        source: IdError,
    },
    /// A field breaks a rule of format v1 (a range, a date, a word outside its
    /// vocabulary, membership, a length).
    #[error("household field `{field}` is invalid: {problem}")]
    Invalid {
        /// The field, as a path from the root (`visits.<id>.weight_kg`).
        field: String,
        /// What is wrong with it.
        problem: Problem,
    },
    /// The record is not the household of this document.
    #[error("household {record} cannot be written into the document of household {document}")]
    WrongHousehold {
        /// The household id the document holds.
        document: HouseholdId,
        /// The household id of the record.
        record: HouseholdId,
    },
    /// The document was written with a newer layout than this version of Kafo reads.
    #[error(
        "household document has layout version {found}, this Kafo reads up to {LAYOUT_VERSION}"
    )]
    UnsupportedLayout {
        /// The layout version found.
        found: u64,
    },
    /// Automerge refused an operation.
    #[error("automerge: {0}")]
    Automerge(String),
}

impl From<FieldError> for DocumentError {
    fn from(error: FieldError) -> Self {
        Self::Invalid {
            field: error.field,
            problem: error.problem,
        }
    }
}

/// What the store indexes about a document, read without hydrating the whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSummary {
    /// The household id.
    pub id: HouseholdId,
    /// Its scope (`area/chw`), current winning values.
    pub scope: HouseholdScope,
    /// Number of members.
    pub members: usize,
    /// Number of visits.
    pub visits: usize,
}

/// Reads the summary of a household document, checking the fields it uses.
pub fn summary(doc: &impl ReadDoc) -> Result<DocumentSummary, DocumentError> {
    if let Some(found) = root_uint(doc, KEY_LAYOUT)? {
        if found > LAYOUT_VERSION {
            return Err(DocumentError::UnsupportedLayout { found });
        }
    } else {
        return Err(DocumentError::Missing {
            field: KEY_LAYOUT.into(),
        });
    }
    let id = root_id(doc, KEY_ID, HouseholdId::parse)?;
    let area = root_id(doc, KEY_AREA, AreaId::parse)?;
    let chw = root_id(doc, KEY_CHW, ChwId::parse)?;
    Ok(DocumentSummary {
        id,
        scope: HouseholdScope { area, chw },
        members: map_len(doc, KEY_MEMBERS)?,
        visits: map_len(doc, KEY_VISITS)?,
    })
}

fn root_uint(doc: &impl ReadDoc, key: &'static str) -> Result<Option<u64>, DocumentError> {
    match doc.get(ROOT, key) {
        Ok(None) => Ok(None),
        Ok(Some((Value::Scalar(value), _))) => match value.as_ref() {
            ScalarValue::Uint(n) => Ok(Some(*n)),
            ScalarValue::Int(n) if *n >= 0 => Ok(Some(*n as u64)),
            _ => Err(DocumentError::WrongType { field: key.into() }),
        },
        Ok(Some(_)) => Err(DocumentError::WrongType { field: key.into() }),
        Err(err) => Err(DocumentError::Automerge(err.to_string())),
    }
}

fn root_id<T>(
    doc: &impl ReadDoc,
    key: &'static str,
    parse: impl FnOnce(String) -> Result<T, IdError>,
) -> Result<T, DocumentError> {
    match doc.get(ROOT, key) {
        Ok(None) => Err(DocumentError::Missing { field: key.into() }),
        Ok(Some((Value::Scalar(value), _))) => match value.as_ref() {
            ScalarValue::Str(text) => {
                parse(text.to_string()).map_err(|source| DocumentError::BadId {
                    field: key.into(),
                    source,
                })
            }
            _ => Err(DocumentError::WrongType { field: key.into() }),
        },
        Ok(Some(_)) => Err(DocumentError::WrongType { field: key.into() }),
        Err(err) => Err(DocumentError::Automerge(err.to_string())),
    }
}

fn map_len(doc: &impl ReadDoc, key: &'static str) -> Result<usize, DocumentError> {
    match doc.get(ROOT, key) {
        Ok(None) => Ok(0),
        Ok(Some((Value::Object(ObjType::Map), obj))) => Ok(doc.length(obj)),
        Ok(Some(_)) => Err(DocumentError::WrongType { field: key.into() }),
        Err(err) => Err(DocumentError::Automerge(err.to_string())),
    }
}
