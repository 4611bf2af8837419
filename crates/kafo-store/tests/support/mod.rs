//! Household documents for the store's tests, built with automerge directly in the
//! layout of `kafo_model::document` (the store reads only its summary).

#![allow(dead_code, reason = "each test binary uses part of the support module")]

use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutomergeError, ObjType, ROOT, ReadDoc};
use kafo_model::HouseholdId;
use rand::Rng;

/// A household id from a test literal.
pub fn id(value: &str) -> HouseholdId {
    HouseholdId::parse(value).expect("test ids are valid")
}

/// Writes the root fields of a household document (creating `members` and `visits`
/// maps if absent) into `doc`.
pub fn put_household(
    doc: &mut AutoCommit,
    id: &str,
    area: &str,
    chw: &str,
    name: &str,
) -> Result<(), AutomergeError> {
    doc.put(ROOT, "layout", 1u64)?;
    doc.put(ROOT, "id", id)?;
    doc.put(ROOT, "area", area)?;
    doc.put(ROOT, "chw", chw)?;
    doc.put(ROOT, "name", name)?;
    for key in ["members", "visits"] {
        if doc.get(ROOT, key)?.is_none() {
            doc.put_object(ROOT, key, ObjType::Map)?;
        }
    }
    Ok(())
}

/// A new household document.
pub fn household(id: &str, area: &str, chw: &str) -> AutoCommit {
    let mut doc = AutoCommit::new();
    put_household(&mut doc, id, area, chw, "Famille Test")
        .expect("a fresh document takes the fields");
    doc
}

fn map_of(doc: &AutoCommit, key: &str) -> Result<automerge::ObjId, AutomergeError> {
    match doc.get(ROOT, key)? {
        Some((_, obj)) => Ok(obj),
        None => Err(AutomergeError::InvalidObjId(key.into())),
    }
}

/// Adds a member with a few fields.
pub fn add_member(doc: &mut AutoCommit, person: &str) -> Result<(), AutomergeError> {
    let members = map_of(doc, "members")?;
    let member = doc.put_object(&members, person, ObjType::Map)?;
    doc.put(&member, "id", person)?;
    doc.put(&member, "given_name", "Awa")?;
    doc.put(&member, "family_name", "Traoré")?;
    doc.put(&member, "sex", "female")?;
    doc.put(&member, "birth_date", "1990-04")?;
    doc.put(&member, "relationship", "head")?;
    Ok(())
}

/// Adds a visit with a few fields.
pub fn add_visit(doc: &mut AutoCommit, visit: &str, person: &str) -> Result<(), AutomergeError> {
    let visits = map_of(doc, "visits")?;
    let entry = doc.put_object(&visits, visit, ObjType::Map)?;
    doc.put(&entry, "id", visit)?;
    doc.put(&entry, "person_id", person)?;
    doc.put(&entry, "date", "2025-06-14")?;
    doc.put(&entry, "chw", "chw-01")?;
    doc.put(&entry, "kind", "routine")?;
    Ok(())
}

/// Moves a household to another scope.
pub fn move_to(doc: &mut AutoCommit, area: &str, chw: &str) -> Result<(), AutomergeError> {
    doc.put(ROOT, "area", area)?;
    doc.put(ROOT, "chw", chw)?;
    Ok(())
}

const GIVEN: [&str; 8] = [
    "Awa",
    "Moussa",
    "Kadiatou",
    "Drissa",
    "Fatoumata",
    "Bakary",
    "Mariam",
    "Seydou",
];
const FAMILY: [&str; 6] = ["Traoré", "Keita", "Diallo", "Coulibaly", "Samaké", "Diarra"];
const NOTES: [&str; 4] = [
    "Carnet de vaccination vérifié.",
    "Mère conseillée sur l'allaitement exclusif.",
    "Rappel du prochain rendez-vous de vaccination.",
    "Enfant orienté vers le CSCom pour fièvre persistante.",
];

/// Fills `doc` (an empty document) with a household of realistic size: 2 to 7
/// members with the fields of format v1, and 5 to 24 visits with measurements,
/// danger signs, vaccines and notes, in the layout of `kafo_model::document`.
pub fn fill_realistic(
    doc: &mut AutoCommit,
    rng: &mut impl Rng,
    id: &str,
    area: &str,
    chw: &str,
) -> Result<(), AutomergeError> {
    let family = FAMILY[rng.random_range(0..FAMILY.len())];
    put_household(doc, id, area, chw, &format!("Famille {family}"))?;
    doc.put(ROOT, "status", "active")?;
    let location = doc.put_object(ROOT, "location", ObjType::Map)?;
    doc.put(&location, "lat", 12.6 + rng.random_range(0.0..0.1))?;
    doc.put(&location, "lon", -8.0 + rng.random_range(0.0..0.1))?;

    let members = map_of(doc, "members")?;
    let people = rng.random_range(2..=7);
    for p in 1..=people {
        let person = format!("{id}.p{p}");
        let member = doc.put_object(&members, &person, ObjType::Map)?;
        doc.put(&member, "id", person.as_str())?;
        doc.put(
            &member,
            "given_name",
            GIVEN[rng.random_range(0..GIVEN.len())],
        )?;
        doc.put(&member, "family_name", family)?;
        doc.put(
            &member,
            "sex",
            if rng.random_bool(0.5) {
                "female"
            } else {
                "male"
            },
        )?;
        let year = rng.random_range(1960..2025);
        doc.put(
            &member,
            "birth_date",
            format!(
                "{year}-{:02}-{:02}",
                rng.random_range(1..13),
                rng.random_range(1..29)
            ),
        )?;
        doc.put(
            &member,
            "relationship",
            if p == 1 { "head" } else { "child" },
        )?;
        if rng.random_bool(0.3) {
            doc.put(
                &member,
                "phone",
                format!("+223 7{:07}", rng.random_range(0..10_000_000)),
            )?;
        }
    }

    let visits = map_of(doc, "visits")?;
    for v in 0..rng.random_range(5..=24) {
        let visit = format!("{id}.v{v:05}");
        let entry = doc.put_object(&visits, &visit, ObjType::Map)?;
        doc.put(&entry, "id", visit.as_str())?;
        doc.put(
            &entry,
            "person_id",
            format!("{id}.p{}", rng.random_range(1..=people)),
        )?;
        doc.put(
            &entry,
            "date",
            format!(
                "2025-{:02}-{:02}",
                rng.random_range(1..13),
                rng.random_range(1..29)
            ),
        )?;
        doc.put(&entry, "chw", chw)?;
        doc.put(
            &entry,
            "kind",
            ["routine", "growth", "anc", "postnatal", "sick-child"][rng.random_range(0..5)],
        )?;
        if rng.random_bool(0.5) {
            doc.put(
                &entry,
                "weight_kg",
                f64::from(rng.random_range(30..300u32)) / 10.0,
            )?;
            doc.put(&entry, "muac_mm", rng.random_range(100..200u64))?;
        }
        if rng.random_bool(0.2) {
            let signs = doc.put_object(&entry, "danger_signs", ObjType::List)?;
            doc.insert(&signs, 0, "fever")?;
        }
        if rng.random_bool(0.2) {
            let vaccines = doc.put_object(&entry, "vaccines", ObjType::List)?;
            doc.insert(&vaccines, 0, "Penta1")?;
        }
        if rng.random_bool(0.4) {
            doc.put(&entry, "note", NOTES[rng.random_range(0..NOTES.len())])?;
        }
    }
    Ok(())
}
