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
