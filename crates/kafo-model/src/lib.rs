//! Household records of Kafo: identifiers, scopes, the typed records of
//! interchange format v1, their validation, and their automerge documents.
//!
//! What it does:
//! - [`ids`] and [`scope`]: checked identifiers and `area/chw` scopes;
//! - [`record`]: the household record of format v1 as typed values.
//!
//! What it does not do: storage, sync, IO. It never logs record contents.

pub mod ids;
pub mod record;
pub mod scope;

pub use ids::{AreaId, ChwId, HouseholdId, IdError, PersonId, VisitId};
pub use record::{
    Household, HouseholdStatus, Location, PartialDate, Person, Pregnancy, Referral, Relationship,
    Sex, Visit, VisitKind,
};
pub use scope::{HouseholdScope, Scope, ScopeError};
pub mod canonical;
pub mod digest;
pub mod document;

pub use digest::{Fingerprint, HeadsHash, ItemKey};
pub use document::{DocumentError, DocumentSummary};
