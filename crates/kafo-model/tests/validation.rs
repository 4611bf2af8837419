//! Each rule of format v1 rejects its bad input and names the field.

use kafo_model::ids::IdError;
use kafo_model::{FieldError, Household, PersonId, Problem, check_visit, parse};
use serde_json::{Value, json};

/// A valid line using every field of the format.
fn base() -> Value {
    json!({
        "id": "h1", "area": "sikoro", "chw": "chw-01", "name": "Famille Keita",
        "location": {"lat": 12.65, "lon": -7.98},
        "status": "closed",
        "members": [
            {"id": "h1.p1", "given_name": "Awa", "family_name": "Keita", "sex": "female",
             "birth_date": "1990", "birth_date_estimated": true, "relationship": "mother",
             "phone": "+223 70 00 00 00", "pregnancy": {"lmp": "2025-04-01", "edd": "2026-01-06"}},
            {"id": "h1.p2", "given_name": "Bintou", "family_name": "Keita", "sex": "female",
             "birth_date": "2024-03", "relationship": "child", "mother_id": "h1.p1"}
        ],
        "visits": [
            {"id": "h1.v1", "person_id": "h1.p2", "date": "2025-01-10", "chw": "chw-02",
             "kind": "sick-child", "weight_kg": 8.2, "height_cm": 71.5, "muac_mm": 140,
             "danger_signs": ["fever"], "vaccines": ["Penta1", "OPV1"],
             "referral": {"to": "cscom-sikoro", "reason": "fever", "urgent": true},
             "note": "RAS"}
        ]
    })
}

/// The base line with the value at `pointer` replaced (or removed when `None`).
fn with(pointer: &str, value: Option<Value>) -> String {
    let mut line = base();
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = line.pointer_mut(parent).expect("parent exists");
    match (parent, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(key.to_owned(), value);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(value)) => {
            let index: usize = key.parse().expect("array index");
            items[index] = value;
        }
        _ => panic!("bad test pointer {pointer}"),
    }
    line.to_string()
}

fn errors_of(line: &str) -> Vec<FieldError> {
    match parse::parse_line(line) {
        Ok(_) => panic!("expected {line} to be rejected"),
        Err(errors) => errors.errors,
    }
}

/// The line is rejected with exactly one problem, in `field`, matching `problem`.
fn rejects(line: &str, field: &str, problem: impl Fn(&Problem) -> bool) {
    let errors = errors_of(line);
    assert_eq!(errors.len(), 1, "{line}\n{errors:#?}");
    assert_eq!(errors[0].field, field, "{line}");
    assert!(
        problem(&errors[0].problem),
        "{line}: {:?}",
        errors[0].problem
    );
}

fn out_of_range(problem: &Problem) -> bool {
    matches!(problem, Problem::OutOfRange { .. })
}

fn wrong_type(problem: &Problem) -> bool {
    matches!(problem, Problem::WrongType { .. })
}

#[test]
fn the_base_line_is_valid_and_round_trips() {
    let line = base().to_string();
    let household = parse::parse_line(&line).expect("valid");
    assert_eq!(
        kafo_model::canonical::to_line(&household).expect("canonical"),
        line
    );
}

#[test]
fn json_that_is_not_a_household_object() {
    for line in [
        r#"{"id":"h1""#,
        "",
        "not json",
        r#"{"id":"h1"} {}"#,
        "NaN",
        r#"{"a":1e999}"#,
    ] {
        rejects(line, "", |p| matches!(p, Problem::InvalidJson { .. }));
    }
    rejects("[]", "", wrong_type);
    rejects(r#""household""#, "", wrong_type);
}

#[test]
fn repeated_keys() {
    let line =
        base()
            .to_string()
            .replacen(r#""name":"Famille Keita""#, r#""name":"A","name":"B""#, 1);
    rejects(&line, "name", |p| *p == Problem::DuplicateKey);
}

#[test]
fn unknown_fields() {
    let cases = [
        ("/nmae", "nmae"),
        ("/location/alt", "location.alt"),
        ("/members/0/age", "members[0].age"),
        ("/members/0/pregnancy/weeks", "members[0].pregnancy.weeks"),
        ("/visits/0/wieght_kg", "visits[0].wieght_kg"),
        ("/visits/0/referral/by", "visits[0].referral.by"),
    ];
    for (pointer, field) in cases {
        rejects(&with(pointer, Some(json!(1))), field, |p| {
            *p == Problem::UnknownField
        });
    }
}

#[test]
fn missing_required_fields() {
    let cases = [
        ("/id", "id"),
        ("/area", "area"),
        ("/chw", "chw"),
        ("/name", "name"),
        ("/location/lat", "location.lat"),
        ("/members/0/given_name", "members[0].given_name"),
        ("/members/0/family_name", "members[0].family_name"),
        ("/members/0/sex", "members[0].sex"),
        ("/members/0/birth_date", "members[0].birth_date"),
        ("/members/0/relationship", "members[0].relationship"),
        ("/visits/0/id", "visits[0].id"),
        ("/visits/0/person_id", "visits[0].person_id"),
        ("/visits/0/date", "visits[0].date"),
        ("/visits/0/chw", "visits[0].chw"),
        ("/visits/0/kind", "visits[0].kind"),
        ("/visits/0/referral/urgent", "visits[0].referral.urgent"),
    ];
    for (pointer, field) in cases {
        rejects(&with(pointer, None), field, |p| *p == Problem::Missing);
    }
}

#[test]
fn optional_fields_may_be_absent() {
    for pointer in [
        "/location",
        "/status",
        "/members/0/birth_date_estimated",
        "/members/0/phone",
        "/members/0/pregnancy",
        "/members/0/pregnancy/lmp",
        "/members/1/mother_id",
        "/visits/0/weight_kg",
        "/visits/0/height_cm",
        "/visits/0/muac_mm",
        "/visits/0/danger_signs",
        "/visits/0/vaccines",
        "/visits/0/referral",
        "/visits/0/note",
    ] {
        let line = with(pointer, None);
        assert!(parse::parse_line(&line).is_ok(), "{pointer} is optional");
    }
    let mut minimal = base();
    let object = minimal.as_object_mut().expect("object");
    object.remove("members");
    object.remove("visits");
    let household =
        parse::parse_line(&minimal.to_string()).expect("members and visits are optional");
    assert!(household.members.is_empty() && household.visits.is_empty());
}

#[test]
fn wrong_types() {
    let cases = [
        ("/name", json!(5), "name"),
        ("/id", json!(7), "id"),
        ("/location", json!([12.6, -7.9]), "location"),
        ("/location/lat", json!("12.6"), "location.lat"),
        ("/members", json!({}), "members"),
        ("/members/0", json!("h1.p1"), "members[0]"),
        (
            "/members/0/birth_date_estimated",
            json!("yes"),
            "members[0].birth_date_estimated",
        ),
        ("/members/0/phone", json!(null), "members[0].phone"),
        (
            "/members/0/birth_date",
            json!(1990),
            "members[0].birth_date",
        ),
        ("/visits/0/weight_kg", json!("8.2"), "visits[0].weight_kg"),
        ("/visits/0/muac_mm", json!(140.5), "visits[0].muac_mm"),
        (
            "/visits/0/danger_signs",
            json!("fever"),
            "visits[0].danger_signs",
        ),
        (
            "/visits/0/vaccines",
            json!(["BCG", 1]),
            "visits[0].vaccines[1]",
        ),
        (
            "/visits/0/referral/urgent",
            json!("yes"),
            "visits[0].referral.urgent",
        ),
        ("/visits/0/kind", json!(2), "visits[0].kind"),
    ];
    for (pointer, value, field) in cases {
        rejects(&with(pointer, Some(value)), field, wrong_type);
    }
}

#[test]
fn identifiers() {
    let bad_char = |found: char, position: usize| {
        move |p: &Problem| *p == Problem::BadId(IdError::BadCharacter { found, position })
    };
    rejects(&with("/id", Some(json!("h 1"))), "id", bad_char(' ', 1));
    rejects(
        &with("/area", Some(json!("sikoro/x"))),
        "area",
        bad_char('/', 6),
    );
    rejects(&with("/chw", Some(json!(""))), "chw", |p| {
        *p == Problem::BadId(IdError::Empty)
    });
    rejects(&with("/id", Some(json!("h".repeat(65)))), "id", |p| {
        *p == Problem::BadId(IdError::TooLong { len: 65 })
    });
    rejects(
        &with("/visits/0/chw", Some(json!("chw é"))),
        "visits[0].chw",
        |p| matches!(p, Problem::BadId(_)),
    );
    // A bad member id is reported once, and visits naming it are not also reported.
    let line = with("/members/1/id", Some(json!("h1 p2")))
        .replace(r#""person_id":"h1.p2""#, r#""person_id":"h1 p2""#);
    let errors = errors_of(&line);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["members[1].id", "visits[0].person_id"]);
    assert!(
        errors
            .iter()
            .all(|e| matches!(e.problem, Problem::BadId(_)))
    );
}

#[test]
fn ranges() {
    let cases = [
        ("/visits/0/weight_kg", json!(0.49), "visits[0].weight_kg"),
        ("/visits/0/weight_kg", json!(200.01), "visits[0].weight_kg"),
        ("/visits/0/weight_kg", json!(-3), "visits[0].weight_kg"),
        ("/visits/0/height_cm", json!(29.9), "visits[0].height_cm"),
        ("/visits/0/height_cm", json!(231), "visits[0].height_cm"),
        ("/visits/0/muac_mm", json!(49), "visits[0].muac_mm"),
        ("/visits/0/muac_mm", json!(401), "visits[0].muac_mm"),
        ("/visits/0/muac_mm", json!(-140), "visits[0].muac_mm"),
        ("/visits/0/muac_mm", json!(u64::MAX), "visits[0].muac_mm"),
        ("/location/lat", json!(90.5), "location.lat"),
        ("/location/lon", json!(-180.5), "location.lon"),
    ];
    for (pointer, value, field) in cases {
        rejects(&with(pointer, Some(value)), field, out_of_range);
    }
    let bounds = [
        ("/visits/0/weight_kg", json!(0.5)),
        ("/visits/0/weight_kg", json!(200)),
        ("/visits/0/height_cm", json!(30)),
        ("/visits/0/height_cm", json!(230.0)),
        ("/visits/0/muac_mm", json!(50)),
        ("/visits/0/muac_mm", json!(400.0)),
        ("/location/lat", json!(-90)),
        ("/location/lon", json!(180)),
    ];
    for (pointer, value) in bounds {
        let line = with(pointer, Some(value.clone()));
        assert!(
            parse::parse_line(&line).is_ok(),
            "{pointer} = {value} is allowed"
        );
    }
}

#[test]
fn note_length_is_counted_in_characters() {
    let longest = "é".repeat(2000);
    assert!(parse::parse_line(&with("/visits/0/note", Some(json!(longest)))).is_ok());
    rejects(
        &with("/visits/0/note", Some(json!("a".repeat(2001)))),
        "visits[0].note",
        |p| {
            *p == Problem::TooLong {
                len: 2001,
                max: 2000,
            }
        },
    );
}

#[test]
fn dates_must_exist() {
    let no_such_date = [
        ("/visits/0/date", "2025-02-29", "visits[0].date"),
        ("/visits/0/date", "2025-13-01", "visits[0].date"),
        ("/visits/0/date", "2025-04-31", "visits[0].date"),
        (
            "/members/0/birth_date",
            "2023-02-29",
            "members[0].birth_date",
        ),
        ("/members/0/birth_date", "2023-00", "members[0].birth_date"),
        (
            "/members/0/pregnancy/lmp",
            "2025-06-31",
            "members[0].pregnancy.lmp",
        ),
    ];
    for (pointer, date, field) in no_such_date {
        rejects(&with(pointer, Some(json!(date))), field, |p| {
            *p == Problem::NoSuchDate
        });
    }
    let not_a_date = [
        ("/visits/0/date", "2025-01", "visits[0].date"),
        ("/visits/0/date", "10/01/2025", "visits[0].date"),
        ("/members/0/birth_date", "2023-1", "members[0].birth_date"),
        (
            "/members/0/pregnancy/edd",
            "2026",
            "members[0].pregnancy.edd",
        ),
    ];
    for (pointer, date, field) in not_a_date {
        rejects(&with(pointer, Some(json!(date))), field, |p| {
            matches!(p, Problem::NotADate { .. })
        });
    }
    for partial in ["2024", "2024-02", "2024-02-29"] {
        assert!(parse::parse_line(&with("/members/0/birth_date", Some(json!(partial)))).is_ok());
    }
}

#[test]
fn closed_vocabularies() {
    let cases = [
        ("/status", "open", "status"),
        ("/members/0/sex", "f", "members[0].sex"),
        (
            "/members/0/relationship",
            "father",
            "members[0].relationship",
        ),
        ("/visits/0/kind", "sick_child", "visits[0].kind"),
        ("/visits/0/kind", "Routine", "visits[0].kind"),
    ];
    for (pointer, word, field) in cases {
        rejects(&with(pointer, Some(json!(word))), field, |p| {
            matches!(p, Problem::UnknownValue { .. })
        });
    }
}

#[test]
fn duplicate_members_and_visits() {
    let mut line = base();
    let members = line["members"].as_array_mut().expect("members");
    members.push(members[1].clone());
    rejects(&line.to_string(), "members[2].id", |p| {
        *p == Problem::Duplicate
    });

    let mut line = base();
    let visits = line["visits"].as_array_mut().expect("visits");
    visits.push(visits[0].clone());
    rejects(&line.to_string(), "visits[1].id", |p| {
        *p == Problem::Duplicate
    });
}

#[test]
fn people_must_be_members() {
    rejects(
        &with("/visits/0/person_id", Some(json!("h1.p9"))),
        "visits[0].person_id",
        |p| *p == Problem::NotAMember,
    );
    rejects(
        &with("/members/1/mother_id", Some(json!("h2.p1"))),
        "members[1].mother_id",
        |p| *p == Problem::NotAMember,
    );
    let mut line = base();
    line.as_object_mut().expect("object").remove("members");
    rejects(&line.to_string(), "visits[0].person_id", |p| {
        *p == Problem::NotAMember
    });
}

#[test]
fn every_problem_of_a_line_is_reported() {
    let mut line = base();
    line["nmae"] = json!("x");
    line["location"]["lat"] = json!(100);
    line["members"][0]["birth_date"] = json!("2023-02-30");
    line["visits"][0]["weight_kg"] = json!(250);
    line["visits"][0]["person_id"] = json!("h1.p7");
    line["visits"][0]["kind"] = json!("checkup");
    let errors = errors_of(&line.to_string());
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "location.lat",
            "members[0].birth_date",
            "nmae",
            "visits[0].kind",
            "visits[0].person_id",
            "visits[0].weight_kg"
        ]
    );
}

#[test]
fn a_visit_from_the_command_line_meets_the_same_rules() {
    let household: Household = parse::parse_line(&base().to_string()).expect("valid");
    let mut visit = household.visits[0].clone();
    assert_eq!(check_visit(&visit, &household), Ok(()));
    visit.weight_kg = Some(0.2);
    visit.height_cm = Some(f64::INFINITY);
    visit.muac_mm = Some(401);
    visit.note = Some("x".repeat(2001));
    visit.person_id = PersonId::parse("h1.p9").expect("valid id");
    let errors = check_visit(&visit, &household).expect_err("bad visit");
    let found: Vec<(&str, &Problem)> = errors
        .iter()
        .map(|e| (e.field.as_str(), &e.problem))
        .collect();
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(matches!(
        found[0],
        ("weight_kg", Problem::OutOfRange { .. })
    ));
    assert_eq!(found[1], ("height_cm", &Problem::NotFinite));
    assert!(matches!(found[2], ("muac_mm", Problem::OutOfRange { .. })));
    assert!(matches!(found[3], ("note", Problem::TooLong { .. })));
    assert_eq!(found[4], ("person_id", &Problem::NotAMember));
}

#[test]
fn errors_read_well() {
    let errors =
        parse::parse_line(&with("/visits/0/weight_kg", Some(json!(250)))).expect_err("bad");
    assert_eq!(
        errors.to_string(),
        "`visits[0].weight_kg`: 250 is out of range, allowed 0.5 to 200"
    );
}
