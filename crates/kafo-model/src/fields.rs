//! The field names of format v1, one list per object: what the parser accepts and
//! what a household document's maps may hold.
//!
//! Members and visits are keyed by their `id` in a household document, so their maps
//! hold these lists without the `id`, which comes first ([`without_id`]).

/// Fields of a location.
pub(crate) const LOCATION: &[&str] = &["lat", "lon"];
/// Fields of a person; `id` first.
pub(crate) const PERSON: &[&str] = &[
    "id",
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "birth_date_estimated",
    "relationship",
    "mother_id",
    "phone",
    "pregnancy",
];
/// Fields of a pregnancy.
pub(crate) const PREGNANCY: &[&str] = &["lmp", "edd"];
/// Fields of a visit; `id` first.
pub(crate) const VISIT: &[&str] = &[
    "id",
    "person_id",
    "date",
    "chw",
    "kind",
    "weight_kg",
    "height_cm",
    "muac_mm",
    "danger_signs",
    "vaccines",
    "referral",
    "note",
];
/// Fields of a referral.
pub(crate) const REFERRAL: &[&str] = &["to", "reason", "urgent"];

/// The fields of a person or visit map in a document: the list without its `id`.
pub(crate) fn without_id(fields: &'static [&'static str]) -> &'static [&'static str] {
    match fields.split_first() {
        Some((&"id", rest)) => rest,
        _ => fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_objects_list_their_id_first() {
        assert_eq!(without_id(PERSON).len(), PERSON.len() - 1);
        assert_eq!(without_id(VISIT).len(), VISIT.len() - 1);
        assert!(!without_id(VISIT).contains(&"id"));
        assert_eq!(without_id(LOCATION), LOCATION);
    }
}
