//! Documents from a peer may be anything: reading them gives a typed error, never a panic.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ScalarValue};
use kafo_model::document::{self, DocumentError};
use kafo_model::ids::IdError;
use kafo_model::{Problem, parse};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

const LINE: &str = r#"{"area":"sikoro","chw":"chw-01","id":"h1","location":{"lat":12.6,"lon":-8.0},"members":[{"birth_date":"1990","family_name":"Keita","given_name":"Awa","id":"p1","relationship":"head","sex":"female"}],"name":"Famille Keita","visits":[{"chw":"chw-01","danger_signs":["fever"],"date":"2025-01-10","id":"v1","kind":"growth","muac_mm":140,"person_id":"p1","referral":{"reason":"fever","to":"cscom","urgent":true},"weight_kg":8.2}]}"#;

/// A valid document of [`LINE`].
fn valid() -> AutoCommit {
    let mut doc = AutoCommit::new();
    let household = parse::parse_line(LINE).expect("valid line");
    document::apply_household(&mut doc, &household).expect("apply");
    doc
}

fn object(doc: &AutoCommit, path: &[&str]) -> ObjId {
    use automerge::ReadDoc;
    let mut obj = ROOT;
    for key in path {
        obj = match doc.get(&obj, *key).expect("get") {
            Some((automerge::Value::Object(_), id)) => id,
            other => panic!("no object at {key}: {other:?}"),
        };
    }
    obj
}

/// The valid document with `key` of the object at `path` set to `value`.
fn with(path: &[&str], key: &str, value: impl Into<ScalarValue>) -> AutoCommit {
    let mut doc = valid();
    let obj = object(&doc, path);
    doc.put(&obj, key, value).expect("put");
    doc
}

fn without(path: &[&str], key: &str) -> AutoCommit {
    let mut doc = valid();
    let obj = object(&doc, path);
    doc.delete(&obj, key).expect("delete");
    doc
}

fn read_error(doc: &AutoCommit) -> DocumentError {
    // Whatever is wrong, listing conflicts and summarising must not panic either.
    let _ = document::conflicts(doc);
    let _ = document::summary(doc);
    document::read_household(doc).expect_err("the document is malformed")
}

fn wrong_type(field: &str) -> DocumentError {
    DocumentError::WrongType {
        field: field.into(),
    }
}

fn missing(field: &str) -> DocumentError {
    DocumentError::Missing {
        field: field.into(),
    }
}

#[test]
fn the_valid_document_reads() {
    let doc = valid();
    assert_eq!(
        document::read_household(&doc),
        Ok(parse::parse_line(LINE).expect("valid"))
    );
}

#[test]
fn an_empty_document_is_not_a_household() {
    assert_eq!(read_error(&AutoCommit::new()), missing("layout"));
}

#[test]
fn layout_problems() {
    assert_eq!(read_error(&with(&[], "layout", "1")), wrong_type("layout"));
    assert_eq!(
        read_error(&with(&[], "layout", 2u64)),
        DocumentError::UnsupportedLayout { found: 2 }
    );
    let mut doc = valid();
    doc.put(ROOT, "layout", 7u64).expect("put");
    let household = parse::parse_line(LINE).expect("valid");
    assert_eq!(
        document::apply_household(&mut doc, &household),
        Err(DocumentError::UnsupportedLayout { found: 7 }),
        "a newer layout is never written over"
    );
}

#[test]
fn missing_fields() {
    assert_eq!(read_error(&without(&[], "id")), missing("id"));
    assert_eq!(read_error(&without(&[], "name")), missing("name"));
    assert_eq!(
        read_error(&without(&["location"], "lon")),
        missing("location.lon")
    );
    assert_eq!(
        read_error(&without(&["members", "p1"], "sex")),
        missing("members.p1.sex")
    );
    assert_eq!(
        read_error(&without(&["visits", "v1"], "date")),
        missing("visits.v1.date")
    );
    assert_eq!(
        read_error(&without(&["visits", "v1", "referral"], "urgent")),
        missing("visits.v1.referral.urgent")
    );
}

#[test]
fn wrong_types() {
    assert_eq!(read_error(&with(&[], "name", 5i64)), wrong_type("name"));
    assert_eq!(
        read_error(&with(&[], "id", ScalarValue::Null)),
        wrong_type("id")
    );
    assert_eq!(
        read_error(&with(&[], "members", "p1")),
        wrong_type("members")
    );
    assert_eq!(
        read_error(&with(&["location"], "lat", "12.6")),
        wrong_type("location.lat")
    );
    assert_eq!(
        read_error(&with(&["members"], "p1", true)),
        wrong_type("members.p1")
    );
    assert_eq!(
        read_error(&with(&["members", "p1"], "birth_date_estimated", "yes")),
        wrong_type("members.p1.birth_date_estimated")
    );
    assert_eq!(
        read_error(&with(&["visits", "v1"], "weight_kg", "8.2")),
        wrong_type("visits.v1.weight_kg")
    );
    assert_eq!(
        read_error(&with(&["visits", "v1"], "muac_mm", 140.0)),
        wrong_type("visits.v1.muac_mm")
    );
    assert_eq!(
        read_error(&with(&["visits", "v1"], "danger_signs", "fever")),
        wrong_type("visits.v1.danger_signs")
    );
    assert_eq!(
        read_error(&with(&["visits", "v1"], "vaccines", r#"["BCG",1]"#)),
        wrong_type("visits.v1.vaccines")
    );

    let mut doc = valid();
    doc.put_object(ROOT, "name", ObjType::Text).expect("text");
    assert_eq!(read_error(&doc), wrong_type("name"));
    let mut doc = valid();
    let visit = object(&doc, &["visits", "v1"]);
    let list = doc
        .put_object(&visit, "danger_signs", ObjType::List)
        .expect("list");
    doc.insert(&list, 0, "fever").expect("insert");
    assert_eq!(read_error(&doc), wrong_type("visits.v1.danger_signs"));
    let mut doc = valid();
    doc.put_object(ROOT, "visits", ObjType::List).expect("list");
    assert_eq!(read_error(&doc), wrong_type("visits"));
}

#[test]
fn unknown_fields() {
    assert_eq!(
        read_error(&with(&[], "colour", "blue")),
        DocumentError::UnknownField {
            field: "colour".into()
        }
    );
    assert_eq!(
        read_error(&with(&["visits", "v1"], "id", "v1")),
        DocumentError::UnknownField {
            field: "visits.v1.id".into()
        }
    );
}

#[test]
fn bad_ids() {
    assert_eq!(
        read_error(&with(&[], "id", "h 1")),
        DocumentError::BadId {
            field: "id".into(),
            source: IdError::BadCharacter {
                found: ' ',
                position: 1
            },
        }
    );
    assert_eq!(
        read_error(&with(&[], "chw", "")),
        DocumentError::BadId {
            field: "chw".into(),
            source: IdError::Empty
        }
    );
    let mut doc = valid();
    let visits = object(&doc, &["visits"]);
    let bad = doc.put_object(&visits, "v/2", ObjType::Map).expect("map");
    doc.put(&bad, "date", "2025-01-01").expect("put");
    assert!(
        matches!(read_error(&doc), DocumentError::BadId { field, .. } if field == "visits.v/2")
    );
    assert!(matches!(
        read_error(&with(&["visits", "v1"], "person_id", "p 1")),
        DocumentError::BadId { field, .. } if field == "visits.v1.person_id"
    ));
}

#[test]
fn values_that_break_the_rules() {
    let invalid = |doc: &AutoCommit| match read_error(doc) {
        DocumentError::Invalid { field, problem } => (field, problem),
        other => panic!("expected an invalid field, got {other:?}"),
    };
    assert_eq!(
        invalid(&with(&["visits", "v1"], "weight_kg", f64::NAN)),
        ("visits.v1.weight_kg".into(), Problem::NotFinite)
    );
    assert_eq!(
        invalid(&with(&["location"], "lat", f64::INFINITY)),
        ("location.lat".into(), Problem::NotFinite)
    );
    assert!(matches!(
        invalid(&with(&["visits", "v1"], "height_cm", 500.0)),
        (field, Problem::OutOfRange { .. }) if field == "visits.v1.height_cm"
    ));
    assert!(matches!(
        invalid(&with(&["visits", "v1"], "muac_mm", -3i64)),
        (field, Problem::OutOfRange { .. }) if field == "visits.v1.muac_mm"
    ));
    assert!(matches!(
        invalid(&with(&["visits", "v1"], "muac_mm", u64::MAX)),
        (field, Problem::OutOfRange { .. }) if field == "visits.v1.muac_mm"
    ));
    assert_eq!(
        invalid(&with(&["visits", "v1"], "date", "2025-02-30")),
        ("visits.v1.date".into(), Problem::NoSuchDate)
    );
    assert!(matches!(
        invalid(&with(&["visits", "v1"], "date", "2025")),
        (field, Problem::NotADate { .. }) if field == "visits.v1.date"
    ));
    assert!(matches!(
        invalid(&with(&["members", "p1"], "sex", "f")),
        (field, Problem::UnknownValue { .. }) if field == "members.p1.sex"
    ));
    assert_eq!(
        invalid(&with(&["visits", "v1"], "person_id", "p2")),
        ("visits.v1.person_id".into(), Problem::NotAMember)
    );
    assert!(matches!(
        invalid(&with(&["visits", "v1"], "note", "a".repeat(2001))),
        (field, Problem::TooLong { .. }) if field == "visits.v1.note"
    ));
}

/// One random operation on a random object of the document.
#[derive(Debug, Clone)]
enum Op {
    Put {
        target: usize,
        key: usize,
        value: Value,
    },
    Map {
        target: usize,
        key: usize,
    },
    List {
        target: usize,
        key: usize,
    },
    Delete {
        target: usize,
        key: usize,
    },
}

#[derive(Debug, Clone)]
enum Value {
    Str(usize),
    Int(i64),
    Uint(u64),
    F64(f64),
    Bool(bool),
    Null,
}

const KEYS: &[&str] = &[
    "layout",
    "id",
    "area",
    "chw",
    "name",
    "status",
    "location",
    "lat",
    "lon",
    "members",
    "visits",
    "p1",
    "v1",
    "sex",
    "birth_date",
    "relationship",
    "person_id",
    "date",
    "kind",
    "weight_kg",
    "muac_mm",
    "danger_signs",
    "referral",
    "urgent",
    "pregnancy",
    "lmp",
];
const STRINGS: &[&str] = &[
    "1",
    "h1",
    "p1",
    "v1",
    "",
    "p 1",
    "female",
    "head",
    "growth",
    "2025-01-10",
    "2025-02-30",
    "2025",
    "[\"fever\"]",
    "[",
    "sikoro",
    "chw-01",
];

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0..STRINGS.len()).prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![Just(1u64), Just(2u64), any::<u64>()].prop_map(Value::Uint),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(8.2), any::<f64>()]
            .prop_map(Value::F64),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let target = 0..16usize;
    let key = 0..KEYS.len();
    prop_oneof![
        4 => (target.clone(), key.clone(), value()).prop_map(|(target, key, value)| Op::Put { target, key, value }),
        2 => (target.clone(), key.clone()).prop_map(|(target, key)| Op::Map { target, key }),
        1 => (target.clone(), key.clone()).prop_map(|(target, key)| Op::List { target, key }),
        1 => (target, key).prop_map(|(target, key)| Op::Delete { target, key }),
    ]
}

fn scalar(value: &Value) -> ScalarValue {
    match value {
        Value::Str(index) => ScalarValue::Str(STRINGS[*index].into()),
        Value::Int(n) => ScalarValue::Int(*n),
        Value::Uint(n) => ScalarValue::Uint(*n),
        Value::F64(n) => ScalarValue::F64(*n),
        Value::Bool(b) => ScalarValue::Boolean(*b),
        Value::Null => ScalarValue::Null,
    }
}

/// Applies random operations to a document (valid or empty), on two forks that are
/// then merged, so conflicts of every kind appear.
fn scramble(start_valid: bool, left: &[Op], right: &[Op]) -> AutoCommit {
    let mut doc = if start_valid {
        valid()
    } else {
        AutoCommit::new()
    };
    let mut other = doc.fork();
    for (doc, ops) in [(&mut doc, left), (&mut other, right)] {
        let mut maps = vec![ROOT];
        for op in ops {
            let target = maps[match op {
                Op::Put { target, .. }
                | Op::Map { target, .. }
                | Op::List { target, .. }
                | Op::Delete { target, .. } => *target % maps.len(),
            }]
            .clone();
            let key = |k: &usize| KEYS[*k];
            // Failures (e.g. deleting a missing key) are part of the game.
            match op {
                Op::Put { key: k, value, .. } => {
                    let _ = doc.put(&target, key(k), scalar(value));
                }
                Op::Map { key: k, .. } => {
                    if let Ok(map) = doc.put_object(&target, key(k), ObjType::Map) {
                        maps.push(map);
                    }
                }
                Op::List { key: k, .. } => {
                    if let Ok(list) = doc.put_object(&target, key(k), ObjType::List) {
                        let _ = doc.insert(&list, 0, "fever");
                    }
                }
                Op::Delete { key: k, .. } => {
                    let _ = doc.delete(&target, key(k));
                }
            }
        }
    }
    let _ = doc.merge(&mut other);
    doc
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        rng_seed: RngSeed::Fixed(0x6d61_6c66),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_document_makes_reading_panic(
        start_valid in any::<bool>(),
        left in proptest::collection::vec(op(), 0..30),
        right in proptest::collection::vec(op(), 0..30),
    ) {
        let doc = scramble(start_valid, &left, &right);
        let _ = document::summary(&doc);
        let _ = document::conflicts(&doc);
        if let Ok(household) = document::read_household(&doc) {
            // Whatever reads back is a valid household that writes and reads again.
            let line = kafo_model::canonical::to_line(&household).expect("canonical");
            prop_assert_eq!(parse::parse_line(&line).expect("valid"), household.clone());
            let mut copy = doc.clone();
            let _ = document::apply_household(&mut copy, &household);
        }
    }
}
