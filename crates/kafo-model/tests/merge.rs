//! Stories of documents on several devices: concurrent visits, concurrent edits of the
//! same field, re-imports, and two devices creating the same household independently.

use automerge::{ActorId, AutoCommit, ROOT, ReadDoc};
use kafo_model::document::{self, ApplyOutcome, DocumentError, FieldConflict};
use kafo_model::{Household, Problem, VisitId, parse};
use serde_json::json;

const BASE: &str = r#"{"area":"sikoro","chw":"chw-01","id":"h1","members":[{"birth_date":"1990","family_name":"Keita","given_name":"Awa","id":"h1.p1","relationship":"head","sex":"female"},{"birth_date":"2024-03-02","family_name":"Keita","given_name":"Bintou","id":"h1.p2","mother_id":"h1.p1","relationship":"child","sex":"female"}],"name":"Famille Keita","visits":[{"chw":"chw-01","date":"2025-01-10","id":"h1.v1","kind":"growth","muac_mm":140,"note":"RAS","person_id":"h1.p2","weight_kg":8.2}]}"#;

fn household(line: &str) -> Household {
    parse::parse_line(line).unwrap_or_else(|err| panic!("test line is valid: {err}"))
}

fn device(id: u8) -> AutoCommit {
    AutoCommit::new().with_actor(ActorId::from([id; 16]))
}

/// Alice's device with the base household, and Bob's device forked from it.
fn alice_and_bob() -> (AutoCommit, AutoCommit) {
    let mut alice = device(1);
    document::apply_household(&mut alice, &household(BASE)).expect("apply");
    let bob = alice.fork().with_actor(ActorId::from([2; 16]));
    (alice, bob)
}

fn visit(id: &str, weight: f64) -> kafo_model::Visit {
    let mut visit = household(BASE).visits[0].clone();
    visit.id = VisitId::parse(id).expect("valid id");
    visit.weight_kg = Some(weight);
    visit
}

fn visit_ids(doc: &AutoCommit) -> Vec<String> {
    let read = document::read_household(doc).expect("read");
    read.visits.iter().map(|v| v.id.to_string()).collect()
}

fn merge_both_ways(a: &mut AutoCommit, b: &mut AutoCommit) {
    a.merge(b).expect("merge into a");
    b.merge(a).expect("merge into b");
    assert_eq!(a.get_heads(), b.get_heads(), "both hold the same changes");
}

#[test]
fn visits_added_on_two_devices_are_both_kept() {
    let (mut alice, mut bob) = alice_and_bob();
    document::put_visit(&mut alice, &visit("h1.v2", 8.4)).expect("alice adds a visit");
    document::put_visit(&mut bob, &visit("h1.v3", 8.5)).expect("bob adds a visit");
    merge_both_ways(&mut alice, &mut bob);
    for doc in [&alice, &bob] {
        assert_eq!(visit_ids(doc), ["h1.v1", "h1.v2", "h1.v3"]);
        assert!(document::conflicts(doc).is_empty());
    }
}

#[test]
fn a_field_edited_on_two_devices_has_one_winner_and_shows_both_values() {
    let (mut alice, mut bob) = alice_and_bob();
    let mut by_alice = household(BASE);
    by_alice.name = "Famille Keita (Awa)".into();
    by_alice.visits[0].weight_kg = Some(8.3);
    let mut by_bob = household(BASE);
    by_bob.name = "Keita Awa".into();
    by_bob.visits[0].weight_kg = Some(8.1);
    document::apply_household(&mut alice, &by_alice).expect("alice edits");
    document::apply_household(&mut bob, &by_bob).expect("bob edits");
    merge_both_ways(&mut alice, &mut bob);

    let on_alice = document::read_household(&alice).expect("read");
    let on_bob = document::read_household(&bob).expect("read");
    assert_eq!(on_alice, on_bob, "one deterministic winner on both sides");
    assert!(["Famille Keita (Awa)", "Keita Awa"].contains(&on_alice.name.as_str()));

    // The winner is automerge's own `get` winner, listed first.
    let (winning_name, _) = alice.get(ROOT, "name").expect("get").expect("name is set");
    assert_eq!(winning_name.as_str(), Some(on_alice.name.as_str()));
    let conflicts = document::conflicts(&alice);
    assert_eq!(conflicts, document::conflicts(&bob));
    let weight = on_alice.visits[0].weight_kg.expect("weight is set");
    let other_weight = if weight == 8.3 { 8.1 } else { 8.3 };
    let other_name = if on_alice.name == "Keita Awa" {
        "Famille Keita (Awa)"
    } else {
        "Keita Awa"
    };
    assert_eq!(
        conflicts,
        vec![
            FieldConflict {
                path: "name".into(),
                values: vec![json!(on_alice.name), json!(other_name)],
            },
            FieldConflict {
                path: "visits.h1.v1.weight_kg".into(),
                values: vec![json!(weight), json!(other_weight)],
            },
        ]
    );
}

#[test]
fn the_same_value_set_on_two_devices_is_not_a_conflict() {
    let (mut alice, mut bob) = alice_and_bob();
    let mut edited = household(BASE);
    edited.name = "Keita".into();
    document::apply_household(&mut alice, &edited).expect("alice edits");
    document::apply_household(&mut bob, &edited).expect("bob edits");
    merge_both_ways(&mut alice, &mut bob);
    assert!(document::conflicts(&alice).is_empty());
    assert_eq!(
        document::read_household(&alice).expect("read").name,
        "Keita"
    );
}

#[test]
fn re_applying_a_household_writes_nothing() {
    let (mut alice, _) = alice_and_bob();
    let heads = alice.get_heads();
    let outcome = document::apply_household(&mut alice, &household(BASE)).expect("re-apply");
    assert_eq!(outcome, ApplyOutcome::Unchanged);
    assert_eq!(alice.get_heads(), heads);
    document::put_visit(&mut alice, &household(BASE).visits[0]).expect("same visit again");
    assert_eq!(alice.get_heads(), heads);
}

#[test]
fn applying_a_household_with_one_more_visit_adds_exactly_that_visit() {
    let (mut alice, _) = alice_and_bob();
    let heads = alice.get_heads();
    let mut more = household(BASE);
    more.visits.push(visit("h1.v2", 8.6));
    let outcome = document::apply_household(&mut alice, &more).expect("apply");
    assert_eq!(outcome, ApplyOutcome::Updated);
    assert_eq!(visit_ids(&alice), ["h1.v1", "h1.v2"]);
    assert_eq!(document::read_household(&alice).expect("read"), more);

    // One change: the new visit map and its seven fields (person_id, date, chw, kind,
    // weight_kg, muac_mm, note), nothing else.
    let changes = alice.get_changes(&heads);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].len(), 1 + 7);
}

#[test]
fn an_edit_writes_only_the_fields_that_changed() {
    let (mut alice, _) = alice_and_bob();
    let heads = alice.get_heads();
    let mut edited = household(BASE);
    edited.visits[0].weight_kg = Some(8.25);
    edited.visits[0].note = None; // absent: left as it is
    edited.members[0].birth_date_estimated = true;
    let outcome = document::apply_household(&mut alice, &edited).expect("apply");
    assert_eq!(outcome, ApplyOutcome::Updated);
    let changes = alice.get_changes(&heads);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].len(), 2, "weight and birth_date_estimated only");

    let read = document::read_household(&alice).expect("read");
    assert_eq!(read.visits[0].weight_kg, Some(8.25));
    assert_eq!(read.visits[0].note.as_deref(), Some("RAS"));
    assert!(read.members[0].birth_date_estimated);

    // `birth_date_estimated` always has a value: its default is written back.
    edited.members[0].birth_date_estimated = false;
    document::apply_household(&mut alice, &edited).expect("apply");
    let mut expected = household(BASE);
    expected.visits[0].weight_kg = Some(8.25);
    assert_eq!(document::read_household(&alice).expect("read"), expected);
}

#[test]
fn an_import_removes_nothing() {
    let (mut alice, _) = alice_and_bob();
    let heads = alice.get_heads();
    let mut fewer = household(BASE);
    fewer.visits.clear();
    fewer.members.truncate(1);
    let outcome = document::apply_household(&mut alice, &fewer).expect("apply");
    assert_eq!(outcome, ApplyOutcome::Unchanged);
    assert_eq!(alice.get_heads(), heads);
    assert_eq!(
        document::read_household(&alice).expect("read"),
        household(BASE)
    );
}

#[test]
fn an_invalid_record_is_refused_and_nothing_is_written() {
    let (mut alice, _) = alice_and_bob();
    let heads = alice.get_heads();
    let mut orphan_visit = household(BASE);
    orphan_visit.members.truncate(1);
    assert_eq!(
        document::apply_household(&mut alice, &orphan_visit),
        Err(DocumentError::Invalid {
            field: "visits.h1.v1.person_id".into(),
            problem: Problem::NotAMember,
        })
    );
    let mut duplicate = household(BASE);
    duplicate.visits.push(duplicate.visits[0].clone());
    assert_eq!(
        document::apply_household(&mut alice, &duplicate),
        Err(DocumentError::Invalid {
            field: "visits.h1.v1".into(),
            problem: Problem::Duplicate,
        })
    );
    assert_eq!(alice.get_heads(), heads);
    let mut fresh = AutoCommit::new();
    assert!(document::apply_household(&mut fresh, &orphan_visit).is_err());
    assert!(fresh.get_heads().is_empty(), "not even the first change");
}

#[test]
fn two_devices_that_import_the_same_household_independently_lose_nothing() {
    let mut alice = device(1);
    let mut bob = device(2);
    document::apply_household(&mut alice, &household(BASE)).expect("alice imports");
    document::apply_household(&mut bob, &household(BASE)).expect("bob imports");
    // Both documents start with the same first change.
    let first = |doc: &mut AutoCommit| doc.get_changes(&[])[0].hash();
    assert_eq!(first(&mut alice), first(&mut bob));

    // Bob corrects the weight and adds a visit, Alice edits the note, before any sync.
    let mut by_bob = household(BASE);
    by_bob.visits[0].weight_kg = Some(8.4);
    by_bob.visits.push(visit("h1.v2", 8.9));
    document::apply_household(&mut bob, &by_bob).expect("bob edits");
    let mut by_alice = household(BASE);
    by_alice.visits[0].note = Some("Pesée refaite".into());
    document::apply_household(&mut alice, &by_alice).expect("alice edits");
    merge_both_ways(&mut alice, &mut bob);

    let mut expected = by_bob.clone();
    expected.visits[0].note = Some("Pesée refaite".into());
    for doc in [&alice, &bob] {
        assert_eq!(document::read_household(doc).expect("read"), expected);
    }
    // Each edit supersedes the value its device had imported; the values imported by
    // the other device concurrently remain visible as conflicts.
    let paths: Vec<String> = document::conflicts(&alice)
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(paths, ["visits.h1.v1.note", "visits.h1.v1.weight_kg"]);

    // Writing into the merged visit goes to one map and wins.
    let mut again = expected.clone();
    again.visits[0].weight_kg = Some(8.45);
    document::apply_household(&mut alice, &again).expect("edit after merge");
    assert_eq!(document::read_household(&alice).expect("read"), again);
}

#[test]
fn a_record_is_only_written_into_its_own_document() {
    let (mut alice, _) = alice_and_bob();
    let other = household(&BASE.replace("\"id\":\"h1\"", "\"id\":\"h2\""));
    assert_eq!(
        document::apply_household(&mut alice, &other),
        Err(DocumentError::WrongHousehold {
            document: household(BASE).id,
            record: other.id.clone(),
        })
    );
}

#[test]
fn put_visit_refuses_values_out_of_range_and_documents_without_a_household() {
    let (mut alice, _) = alice_and_bob();
    let heads = alice.get_heads();
    assert!(matches!(
        document::put_visit(&mut alice, &visit("h1.v9", 500.0)),
        Err(DocumentError::Invalid { field, .. }) if field == "visits.h1.v9.weight_kg"
    ));
    assert!(matches!(
        document::put_visit(&mut alice, &visit("h1.v9", f64::NAN)),
        Err(DocumentError::Invalid { .. })
    ));
    assert_eq!(alice.get_heads(), heads);
    assert!(matches!(
        document::put_visit(&mut AutoCommit::new(), &visit("h1.v9", 8.0)),
        Err(DocumentError::Missing { field }) if field == "layout"
    ));
}
