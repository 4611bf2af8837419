//! One household as one automerge document.
//!
//! # Layout (document layout version 1)
//!
//! The root map holds:
//! - `layout`: uint, the document layout version ([`LAYOUT_VERSION`]);
//! - `id`, `area`, `chw`, `name`, `status`: string scalars (scalars, not text, so that
//!   a field edited on two devices keeps one value deterministically and the other
//!   stays visible as a conflict);
//! - `location`: map `{lat, lon}` of f64, absent when unknown;
//! - `members`: map from person id to a map of that person's fields;
//! - `visits`: map from visit id to a map of that visit's fields.
//!
//! Members and visits are keyed by id, so two devices that add different visits keep
//! both. Field names inside a member or visit map are the format v1 field names.

use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};

use crate::ids::{AreaId, ChwId, HouseholdId, IdError};
use crate::scope::HouseholdScope;

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
/// Root key of the members map.
pub const KEY_MEMBERS: &str = "members";
/// Root key of the visits map.
pub const KEY_VISITS: &str = "visits";

/// Why a document is not a valid household document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    /// A required root field is absent.
    #[error("household document has no `{field}`")]
    Missing {
        /// The missing field.
        field: &'static str,
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
    /// The document was written with a newer layout than this version of Kafo reads.
    #[error("household document has layout version {found}, this Kafo reads up to {LAYOUT_VERSION}")]
    UnsupportedLayout {
        /// The layout version found.
        found: u64,
    },
    /// Automerge refused an operation.
    #[error("automerge: {0}")]
    Automerge(String),
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
        return Err(DocumentError::Missing { field: KEY_LAYOUT });
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
        Ok(None) => Err(DocumentError::Missing { field: key }),
        Ok(Some((Value::Scalar(value), _))) => match value.as_ref() {
            ScalarValue::Str(text) => parse(text.to_string()).map_err(|source| {
                DocumentError::BadId {
                    field: key.into(),
                    source,
                }
            }),
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
