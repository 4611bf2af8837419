//! One test per monthly indicator rule: the counts `kafo report` prints as
//! `monthly_indicators` and `kafo export dhis2` sends.

mod common;

use std::collections::BTreeMap;

use common::{child, household, report, visit, woman};
use jiff::civil::date;
use kafo_health::{MonthlyCounter, Period, Schedule, indicator_keys};
use kafo_model::Household;
use serde_json::json;

/// The counts of November 2026 for area `sikoro`.
fn november(households: &[Household]) -> BTreeMap<String, u64> {
    let period: Period = "2026-11".parse().expect("valid period");
    let mut counter = MonthlyCounter::for_month(period, Schedule::mali_epi());
    for household in households {
        counter.add(household);
    }
    let mut counts = counter.finish();
    counts
        .remove(&kafo_model::AreaId::parse("sikoro").expect("valid area"))
        .unwrap_or_default()
}

#[test]
fn every_key_is_counted_for_every_area_even_at_zero() {
    let keys = indicator_keys(Schedule::mali_epi());
    assert_eq!(keys.len(), 11 + 18);
    assert!(keys.contains(&"doses_Penta1".to_owned()));
    let counts = november(&[household("h1", json!([]), json!([]))]);
    assert_eq!(counts.keys().cloned().collect::<Vec<_>>().len(), keys.len());
    assert!(counts.values().all(|count| *count == 0));
}

#[test]
fn visits_children_and_weights_count_only_in_the_month_and_under_five() {
    let home = household(
        "h1",
        json!([
            child("h1.p1", "male", "2025-01-01"),
            child("h1.p2", "female", "2021-11-10"),
            child("h1.p3", "female", "2020"),
        ]),
        json!([
            visit(
                "v1",
                "h1.p1",
                "2026-11-02",
                "growth",
                json!({"weight_kg": 9.5})
            ),
            visit("v2", "h1.p1", "2026-11-20", "routine", json!({})),
            visit(
                "v3",
                "h1.p1",
                "2026-10-31",
                "growth",
                json!({"weight_kg": 9.4})
            ),
            // Under five on the 9th (day 1,825), five years old on the 10th.
            visit("v4", "h1.p2", "2026-11-09", "routine", json!({})),
            visit(
                "v5",
                "h1.p2",
                "2026-11-10",
                "growth",
                json!({"weight_kg": 15.0})
            ),
            // Birth year only: never counted as a child.
            visit(
                "v6",
                "h1.p3",
                "2026-11-03",
                "growth",
                json!({"weight_kg": 12.0})
            ),
            visit(
                "v7",
                "h1.p1",
                "2026-12-01",
                "growth",
                json!({"weight_kg": 9.6})
            ),
        ]),
    );
    let counts = november(&[home]);
    assert_eq!(counts["home_visits"], 5);
    assert_eq!(counts["children_seen"], 2);
    assert_eq!(counts["children_weighed"], 1, "p2 was weighed only at five");
}

#[test]
fn sam_and_mam_follow_the_latest_muac_of_the_month() {
    let home = household(
        "h1",
        json!([
            child("h1.p1", "male", "2025-01-01"),
            child("h1.p2", "female", "2025-01-01"),
            child("h1.p3", "female", "2026-09-01"),
        ]),
        json!([
            visit(
                "v1",
                "h1.p1",
                "2026-11-02",
                "growth",
                json!({"muac_mm": 110})
            ),
            visit(
                "v2",
                "h1.p1",
                "2026-11-25",
                "growth",
                json!({"muac_mm": 120})
            ),
            visit(
                "v3",
                "h1.p2",
                "2026-11-02",
                "growth",
                json!({"muac_mm": 120})
            ),
            visit(
                "v4",
                "h1.p2",
                "2026-11-25",
                "growth",
                json!({"muac_mm": 130})
            ),
            // Under 183 days: MUAC does not classify.
            visit(
                "v5",
                "h1.p3",
                "2026-11-25",
                "growth",
                json!({"muac_mm": 100})
            ),
        ]),
    );
    let counts = november(&[home]);
    assert_eq!((counts["sam"], counts["mam"]), (0, 1));
}

#[test]
fn referrals_anc_danger_signs_and_doses() {
    let referral = |urgent: bool| {
        json!({"referral": {"to": "cscom-sikoro", "reason": "fever", "urgent": urgent},
               "danger_signs": ["fever"]})
    };
    let home = household(
        "h1",
        json!([
            child("h1.p1", "male", "2026-06-01"),
            woman("h1.p2", json!(null)),
        ]),
        json!([
            visit("v1", "h1.p1", "2026-11-02", "sick-child", referral(true)),
            visit("v2", "h1.p1", "2026-11-05", "sick-child", referral(false)),
            visit("v3", "h1.p2", "2026-11-05", "anc", referral(true)),
            visit("v4", "h1.p2", "2026-11-06", "anc", json!({})),
            visit(
                "v5",
                "h1.p1",
                "2026-11-07",
                "routine",
                json!({"vaccines": ["Penta2", "OPV2", "Penta2", "NotInSchedule"]})
            ),
            visit(
                "v6",
                "h1.p1",
                "2026-11-08",
                "routine",
                json!({"vaccines": ["Penta2"]})
            ),
        ]),
    );
    let counts = november(&[home]);
    assert_eq!(counts["children_referred"], 1);
    assert_eq!(counts["urgent_referrals"], 2);
    assert_eq!(counts["anc_contacts"], 2);
    assert_eq!(counts["danger_sign_cases"], 3);
    assert_eq!(counts["doses_Penta2"], 2, "once per visit");
    assert_eq!(counts["doses_OPV2"], 1);
    assert!(!counts.contains_key("doses_NotInSchedule"));
}

#[test]
fn pregnant_women_are_followed_while_their_pregnancy_spans_the_month() {
    let home = household(
        "h1",
        json!([
            woman("h1.p1", json!({"lmp": "2026-05-01"})),
            woman("h1.p2", json!({"edd": "2026-10-31"})),
            woman("h1.p3", json!({"lmp": "2026-12-01"})),
            woman("h1.p4", json!({"edd": "2026-11-01"})),
            woman("h1.p5", json!({"lmp": "2026-06-01"})),
        ]),
        json!([
            visit("v1", "h1.p1", "2026-11-03", "anc", json!({})),
            visit("v2", "h1.p2", "2026-11-03", "routine", json!({})),
            visit("v3", "h1.p3", "2026-11-03", "routine", json!({})),
            visit("v4", "h1.p4", "2026-11-03", "routine", json!({})),
        ]),
    );
    assert_eq!(november(&[home])["pregnant_women_followed"], 2, "p1 and p4");
}

#[test]
fn a_delivery_is_reported_in_the_month_of_her_first_postnatal_visit() {
    let home = household(
        "h1",
        json!([woman("h1.p1", json!(null)), woman("h1.p2", json!(null)),]),
        json!([
            visit("v1", "h1.p1", "2026-11-03", "postnatal", json!({})),
            visit("v2", "h1.p1", "2026-11-10", "postnatal", json!({})),
            visit("v3", "h1.p2", "2026-10-28", "postnatal", json!({})),
            visit("v4", "h1.p2", "2026-11-04", "postnatal", json!({})),
        ]),
    );
    assert_eq!(november(&[home])["deliveries_reported"], 1);
}

#[test]
fn closed_households_and_visits_after_as_of_are_left_out_of_the_report() {
    let visits = json!([
        visit("v1", "h1.p1", "2026-11-02", "routine", json!({})),
        visit("v2", "h1.p1", "2026-11-20", "routine", json!({})),
    ]);
    let open = household("h1", json!([child("h1.p1", "male", "2025-01-01")]), visits);
    let mut closed = open.clone();
    closed.id = kafo_model::HouseholdId::parse("h2").expect("valid id");
    closed.status = kafo_model::HouseholdStatus::Closed;
    let report = report(&[open, closed], date(2026, 11, 10));
    let sikoro = &report.monthly_indicators[&kafo_model::AreaId::parse("sikoro").expect("area")];
    assert_eq!(sikoro["home_visits"], 1);
    assert_eq!(report.monthly_indicators.len(), 1);
}
