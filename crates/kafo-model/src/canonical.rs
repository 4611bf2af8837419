//! The canonical JSON form of format v1, as `kafo export` writes it.
//!
//! Object keys in lexicographic order, no whitespace, UTF-8 unescaped, numbers in
//! their shortest round-trip form, members and visits sorted by id, and only the
//! fields that are set. An export imported into an empty store and exported again
//! is byte-identical.

use crate::record::Household;

/// Why a household could not be written in canonical form.
#[derive(Debug, thiserror::Error)]
#[error("household cannot be written as JSON: {0}")]
pub struct CanonicalError(#[from] serde_json::Error);

/// Writes one household as one canonical line, without the trailing newline.
///
/// Fails only on a value JSON cannot hold (a non-finite number), which parsing
/// and document reading reject, so a checked household always succeeds.
pub fn to_line(household: &Household) -> Result<String, CanonicalError> {
    let mut sorted = household.clone();
    sorted.members.sort_by(|a, b| a.id.cmp(&b.id));
    sorted.visits.sort_by(|a, b| a.id.cmp(&b.id));
    // serde_json's map is ordered by key (no `preserve_order` feature), which makes
    // the output canonical; its f64 output is the shortest round-trip form.
    Ok(serde_json::to_value(&sorted)?.to_string())
}

/// Why a line does not read back as a household.
#[derive(Debug, thiserror::Error)]
#[error("canonical line does not read back as a household: {0}")]
pub struct CanonicalReadError(#[from] serde_json::Error);

/// Reads back a line that [`to_line`] wrote: the same household, members and visits
/// in id order (the order a document reads them in).
///
/// For lines Kafo wrote itself, such as the store's household views: it decodes the
/// types (ids, dates, vocabularies) but does not run the rules of
/// [`crate::parse`], which a line from a file or a user must go through.
pub fn from_line(line: &[u8]) -> Result<Household, CanonicalReadError> {
    Ok(serde_json::from_slice(line)?)
}
