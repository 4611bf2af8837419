//! One test per pregnancy rule.

mod common;

use common::{household, report, visit, woman};
use jiff::civil::date;
use kafo_health::PregnancyRow;
use serde_json::{Value, json};

fn pregnancy_on(pregnancy: Value, visits: Value, as_of: jiff::civil::Date) -> PregnancyRow {
    let home = household("h1", json!([woman("h1.p1", pregnancy)]), visits);
    let mut rows = report(&[home], as_of).pregnancies;
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

#[test]
fn gestational_age_counts_whole_weeks_from_the_lmp() {
    let row = pregnancy_on(json!({"lmp": "2026-06-01"}), json!([]), date(2026, 8, 23));
    assert_eq!(row.gestational_weeks, Some(11)); // 83 days
    let row = pregnancy_on(json!({"lmp": "2026-06-01"}), json!([]), date(2026, 8, 24));
    assert_eq!(row.gestational_weeks, Some(12)); // 84 days
    assert_eq!(row.edd, Some(date(2027, 3, 8)), "edd = lmp + 280 days");
}

#[test]
fn without_an_lmp_it_counts_from_edd_minus_280_days_and_the_lmp_wins() {
    // edd 2027-03-08 means lmp 2026-06-01.
    let row = pregnancy_on(json!({"edd": "2027-03-08"}), json!([]), date(2026, 8, 24));
    assert_eq!(row.gestational_weeks, Some(12));
    // Both: the lmp wins (2026-06-08 gives 11 weeks), the edd is kept as recorded.
    let row = pregnancy_on(
        json!({"lmp": "2026-06-08", "edd": "2027-03-08"}),
        json!([]),
        date(2026, 8, 24),
    );
    assert_eq!(row.gestational_weeks, Some(11));
    assert_eq!(row.edd, Some(date(2027, 3, 8)));
}

#[test]
fn anc_contacts_are_her_anc_visits_since_the_lmp() {
    let visits = json!([
        visit("v1", "h1.p1", "2026-05-20", "anc", json!({})), // before the LMP
        visit("v2", "h1.p1", "2026-08-25", "anc", json!({})),
        visit("v3", "h1.p1", "2026-09-01", "routine", json!({})), // not ANC
        visit("v4", "h1.p1", "2026-10-20", "anc", json!({})),
        visit("v5", "h1.p1", "2026-12-20", "anc", json!({})), // after as_of
    ]);
    let row = pregnancy_on(json!({"lmp": "2026-06-01"}), visits, date(2026, 11, 1));
    assert_eq!(row.anc_contacts, 2);
}

#[test]
fn a_woman_first_seen_at_week_30_with_no_contact_is_overdue_for_week_12() {
    // LMP 2026-01-05; week 30 is 2026-08-03; week 12 was 2026-03-30.
    let row = pregnancy_on(json!({"lmp": "2026-01-05"}), json!([]), date(2026, 8, 3));
    assert_eq!(row.gestational_weeks, Some(30));
    assert_eq!(row.next_anc_due, Some(date(2026, 3, 30)));
    assert!(row.overdue);
}

#[test]
fn once_seen_at_week_30_her_next_contact_is_week_34() {
    let visits = json!([visit("v1", "h1.p1", "2026-08-03", "anc", json!({}))]);
    let row = pregnancy_on(json!({"lmp": "2026-01-05"}), visits, date(2026, 8, 3));
    assert_eq!(row.next_anc_due, Some(date(2026, 8, 31))); // lmp + 7 × 34
    assert!(!row.overdue);
}

#[test]
fn a_contact_is_overdue_only_once_more_than_14_days_past() {
    let visits = json!([visit("v1", "h1.p1", "2026-08-03", "anc", json!({}))]);
    // Next due 2026-08-31: 14 days past is not overdue, 15 is.
    let on_14 = pregnancy_on(
        json!({"lmp": "2026-01-05"}),
        visits.clone(),
        date(2026, 9, 14),
    );
    assert!(!on_14.overdue);
    let on_15 = pregnancy_on(json!({"lmp": "2026-01-05"}), visits, date(2026, 9, 15));
    assert!(on_15.overdue);
}

#[test]
fn next_anc_due_is_null_past_week_40() {
    let visits = json!([visit("v1", "h1.p1", "2026-10-12", "anc", json!({}))]); // week 40
    let row = pregnancy_on(json!({"lmp": "2026-01-05"}), visits, date(2026, 10, 13));
    assert_eq!(row.next_anc_due, None);
    assert!(!row.overdue);
}

#[test]
fn edd_passed_without_a_postnatal_visit_is_flagged_from_14_days() {
    // EDD 2026-10-12.
    let lmp = json!({"lmp": "2026-01-05"});
    assert!(!pregnancy_on(lmp.clone(), json!([]), date(2026, 10, 25)).edd_passed_no_postnatal);
    assert!(pregnancy_on(lmp.clone(), json!([]), date(2026, 10, 26)).edd_passed_no_postnatal);
    // A postnatal visit from edd − 28 days counts; one before does not.
    let early = json!([visit("v1", "h1.p1", "2026-09-13", "postnatal", json!({}))]);
    assert!(pregnancy_on(lmp.clone(), early, date(2026, 10, 26)).edd_passed_no_postnatal);
    let seen = json!([visit("v1", "h1.p1", "2026-09-14", "postnatal", json!({}))]);
    assert!(!pregnancy_on(lmp, seen, date(2026, 10, 26)).edd_passed_no_postnatal);
}
