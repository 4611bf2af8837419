//! The code systems, identifier systems and codes of the FHIR export: Kafo's own URLs
//! (one base, [`KAFO_FHIR_BASE`]), LOINC for measurements with UCUM units, CVX for the
//! antigens that have a code (`data/cvx.toml`), SNOMED CT for a referral.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use uuid::Uuid;

/// The base of every URL Kafo defines for FHIR (identifier systems, code systems,
/// extensions). Changing it changes every resource id ([`resource_id`]).
pub const KAFO_FHIR_BASE: &str = "https://kafo.ml/fhir";

/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// UCUM units.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// CDC's CVX vaccine codes.
pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";
/// HL7 v3 ActCode (the Encounter's class).
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// HL7's observation categories.
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// LOINC body weight.
pub const LOINC_WEIGHT: (&str, &str) = ("29463-7", "Body weight");
/// LOINC body length, lying (under 731 days).
pub const LOINC_LENGTH: (&str, &str) = ("8306-3", "Body height --lying");
/// LOINC body height (from 731 days, or at an unknown age).
pub const LOINC_HEIGHT: (&str, &str) = ("8302-2", "Body height");
/// LOINC mid-upper arm circumference.
pub const LOINC_MUAC: (&str, &str) = ("56072-2", "Mid upper arm circumference");
/// SNOMED CT "Patient referral".
pub const SNOMED_REFERRAL: (&str, &str) = ("3457005", "Patient referral");

/// The URL of Kafo's identifier system or code system `name`, e.g. `id/person`.
pub fn kafo_url(name: &str) -> String {
    format!("{KAFO_FHIR_BASE}/{name}")
}

/// The namespace of resource ids: UUID v5 of [`KAFO_FHIR_BASE`] in the URL namespace.
pub fn id_namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, KAFO_FHIR_BASE.as_bytes())
}

/// A resource's id: UUID v5, in [`id_namespace`], of `Type/kafo-key` (e.g.
/// `Patient/sikoro-chw-07-h0001.p2`, `Observation/v12/weight`): stable, so that a
/// bundle sent twice updates the same resources.
pub fn resource_id(namespace: &Uuid, resource_type: &str, kafo_key: &str) -> Uuid {
    Uuid::new_v5(namespace, format!("{resource_type}/{kafo_key}").as_bytes())
}

/// A CVX code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CvxCode {
    /// The code, e.g. `198`.
    pub cvx: String,
    /// CDC's short description.
    pub display: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CvxFile {
    antigens: BTreeMap<String, CvxCode>,
}

const CVX_FILE: &str = include_str!("../../data/cvx.toml");

/// The CVX code of a dose code's antigen (`Penta1` → 198), if it has one.
pub fn cvx_of(dose_code: &str) -> Option<&'static CvxCode> {
    static TABLE: OnceLock<BTreeMap<String, CvxCode>> = OnceLock::new();
    // The file is part of the crate and a test parses it.
    let table = TABLE.get_or_init(|| {
        toml::from_str::<CvxFile>(CVX_FILE)
            .expect("data/cvx.toml is valid")
            .antigens
    });
    table.get(split_dose(dose_code).0)
}

/// A dose code's antigen and dose number: `Penta1` → (`Penta`, Some(1)), `BCG` →
/// (`BCG`, None).
pub fn split_dose(code: &str) -> (&str, Option<u32>) {
    let antigen = code.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = code[antigen.len()..].parse().ok();
    if antigen.is_empty() {
        return (code, None);
    }
    (antigen, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_namespace_never_changes() {
        // Changing it would give every resource a new id on the receiving server.
        assert_eq!(
            id_namespace().to_string(),
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://kafo.ml/fhir").to_string()
        );
        let namespace = id_namespace();
        assert_eq!(
            resource_id(&namespace, "Patient", "h1.p1"),
            resource_id(&namespace, "Patient", "h1.p1")
        );
        assert_ne!(
            resource_id(&namespace, "Patient", "h1.p1"),
            resource_id(&namespace, "Group", "h1.p1")
        );
    }

    #[test]
    fn every_mali_antigen_but_mena_has_a_cvx_code() {
        let schedule = kafo_health::Schedule::mali_epi();
        let missing: Vec<&str> = schedule
            .doses
            .iter()
            .map(|dose| dose.code.as_str())
            .filter(|code| cvx_of(code).is_none())
            .collect();
        assert_eq!(missing, ["MenA"]);
        assert_eq!(cvx_of("Penta2").map(|code| code.cvx.as_str()), Some("198"));
        assert_eq!(cvx_of("OPV0").map(|code| code.cvx.as_str()), Some("178"));
    }

    #[test]
    fn dose_codes_split_into_antigen_and_number() {
        assert_eq!(split_dose("Penta1"), ("Penta", Some(1)));
        assert_eq!(split_dose("OPV0"), ("OPV", Some(0)));
        assert_eq!(split_dose("BCG"), ("BCG", None));
        assert_eq!(split_dose("123"), ("123", None));
    }
}
