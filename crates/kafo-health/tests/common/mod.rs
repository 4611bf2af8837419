//! Households for the rule tests, written as format v1 JSON.

#![allow(dead_code)]

use jiff::civil::Date;
use kafo_health::{Period, Report, ReportParams, Reporter, Schedule};
use kafo_model::Household;
use serde_json::{Value, json};

/// A household of area `sikoro`, CHW `chw-07`, with `members` and `visits` (JSON arrays).
pub fn household(id: &str, members: Value, visits: Value) -> Household {
    serde_json::from_value(json!({
        "id": id,
        "area": "sikoro",
        "chw": "chw-07",
        "name": "Famille Traoré",
        "members": members,
        "visits": visits,
    }))
    .expect("a valid household")
}

/// A child member.
pub fn child(id: &str, sex: &str, birth_date: &str) -> Value {
    json!({"id": id, "given_name": "Awa", "family_name": "Traoré", "sex": sex,
           "birth_date": birth_date, "relationship": "child"})
}

/// A woman, pregnant when `pregnancy` is an object.
pub fn woman(id: &str, pregnancy: Value) -> Value {
    let mut person = json!({"id": id, "given_name": "Fatoumata", "family_name": "Diarra",
                            "sex": "female", "birth_date": "1998", "relationship": "mother"});
    if !pregnancy.is_null() {
        person["pregnancy"] = pregnancy;
    }
    person
}

/// A visit of `kind` to `person` on `date`, with `extra` fields merged in.
pub fn visit(id: &str, person: &str, date: &str, kind: &str, extra: Value) -> Value {
    let mut visit =
        json!({"id": id, "person_id": person, "date": date, "chw": "chw-07", "kind": kind});
    if let (Some(visit), Some(extra)) = (visit.as_object_mut(), extra.as_object()) {
        visit.extend(extra.clone());
    }
    visit
}

/// The report over `households` on `as_of`, with the built-in schedule.
pub fn report(households: &[Household], as_of: Date) -> Report {
    let params = ReportParams::new(as_of, Period::of(as_of), Schedule::mali_epi().clone());
    let mut reporter = Reporter::new(params);
    for household in households {
        reporter.add(household);
    }
    reporter.finish(|_| None)
}
