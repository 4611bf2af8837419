//! Household records of Kafo: identifiers, scopes, the typed records of interchange
//! format v1, their validation, and their automerge documents.
//!
//! What it does:
//! - [`ids`] and [`scope`]: checked identifiers and `area/chw` scopes;
//! - [`record`]: the household record of format v1 as typed values;
//! - [`parse`]: reading format v1 lines and files, with every rule of the format
//!   checked and every problem named by line and field; [`validate`]: the same value
//!   rules for records built elsewhere ([`check_visit`] for `kafo visit add`);
//! - [`canonical`]: writing a household as its canonical v1 line (`kafo export`);
//! - [`document`]: one household as one automerge document: merging a record in by
//!   the import rule ([`apply_household`]), reading it back checked
//!   ([`read_household`]), listing concurrent values ([`conflicts`]);
//! - [`digest`]: the items and fingerprints that set reconciliation compares.
//!
//! What it does not do: storage, sync, networking or any IO beyond the reader it is
//! handed. It never logs record contents.
//!
//! How to drive it: an import reads a file with [`parse_reader`] (or line by line with
//! [`HouseholdLines`]), and, only if every line is good, applies each household to its
//! document with [`apply_household`] (a new [`automerge::AutoCommit`] for a new
//! household). An export reads each document with [`read_household`] and writes
//! [`canonical::to_line`]. An export imported into an empty store and exported again
//! is byte-identical.

pub mod canonical;
pub mod digest;
pub mod document;
mod fields;
pub mod ids;
pub mod parse;
pub mod record;
pub mod scope;
pub mod terms;
pub mod validate;

pub use digest::{Fingerprint, HeadsHash, ItemKey};
pub use document::{
    ApplyOutcome, DocumentError, DocumentSummary, FieldConflict, apply_household, conflicts,
    put_visit, read_household,
};
pub use ids::{AreaId, ChwId, HouseholdId, IdError, PersonId, VisitId};
pub use parse::{
    BadLine, HouseholdLines, InvalidFile, LineErrors, ParseFileError, ParsedLine, ReadLineError,
    parse_line, parse_reader,
};
pub use record::{
    Household, HouseholdStatus, Location, PartialDate, Person, Pregnancy, Referral, Relationship,
    Sex, Visit, VisitKind,
};
pub use scope::{HouseholdScope, Scope, ScopeError};
pub use validate::{FieldError, Problem, check_household, check_visit};
