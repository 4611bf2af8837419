//! One test per referral rule, and the danger-sign window.

mod common;

use common::{child, household, report, visit};
use jiff::civil::date;
use serde_json::json;

fn referral(urgent: bool) -> serde_json::Value {
    json!({"referral": {"to": "cscom-sikoro", "reason": "convulsions", "urgent": urgent}})
}

#[test]
fn an_urgent_referral_is_listed_once_open_3_days() {
    let home = household(
        "h1",
        json!([child("h1.p1", "male", "2025-01-01")]),
        json!([visit(
            "v1",
            "h1.p1",
            "2026-11-10",
            "sick-child",
            referral(true)
        )]),
    );
    assert!(
        report(std::slice::from_ref(&home), date(2026, 11, 12))
            .open_referrals
            .is_empty()
    );
    let rows = report(&[home], date(2026, 11, 13)).open_referrals;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].days_open, rows[0].to.as_str(), rows[0].urgent),
        (3, "cscom-sikoro", true)
    );
    assert_eq!(rows[0].visit_id.as_str(), "v1");
}

#[test]
fn a_non_urgent_referral_is_never_listed() {
    let home = household(
        "h1",
        json!([child("h1.p1", "male", "2025-01-01")]),
        json!([visit(
            "v1",
            "h1.p1",
            "2026-10-01",
            "sick-child",
            referral(false)
        )]),
    );
    assert!(
        report(&[home], date(2026, 11, 30))
            .open_referrals
            .is_empty()
    );
}

#[test]
fn a_later_visit_to_the_same_person_closes_it() {
    let members = json!([
        child("h1.p1", "male", "2025-01-01"),
        child("h1.p2", "female", "2025-06-01")
    ]);
    // A visit the same day, or to someone else, does not close it.
    let open = household(
        "h1",
        members.clone(),
        json!([
            visit("v1", "h1.p1", "2026-11-10", "sick-child", referral(true)),
            visit("v2", "h1.p1", "2026-11-10", "routine", json!({})),
            visit("v3", "h1.p2", "2026-11-11", "routine", json!({})),
        ]),
    );
    assert_eq!(report(&[open], date(2026, 11, 20)).open_referrals.len(), 1);
    let closed = household(
        "h1",
        members,
        json!([
            visit("v1", "h1.p1", "2026-11-10", "sick-child", referral(true)),
            visit("v2", "h1.p1", "2026-11-11", "routine", json!({})),
        ]),
    );
    assert!(
        report(std::slice::from_ref(&closed), date(2026, 11, 20))
            .open_referrals
            .is_empty()
    );
    // The follow-up counts only once it is on or before as_of.
    assert_eq!(
        report(&[closed], date(2026, 11, 10)).open_referrals.len(),
        0,
        "0 days open"
    );
}

#[test]
fn a_follow_up_after_as_of_does_not_close_it() {
    let home = household(
        "h1",
        json!([child("h1.p1", "male", "2025-01-01")]),
        json!([
            visit("v1", "h1.p1", "2026-11-10", "sick-child", referral(true)),
            visit("v2", "h1.p1", "2026-11-20", "routine", json!({})),
        ]),
    );
    let rows = report(&[home], date(2026, 11, 15)).open_referrals;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].days_open, 5);
}

#[test]
fn danger_signs_are_those_of_the_last_7_days() {
    let signs = json!({"danger_signs": ["fever", "unable-to-feed"]});
    let home = household(
        "h1",
        json!([child("h1.p1", "male", "2025-01-01")]),
        json!([
            visit("v1", "h1.p1", "2026-11-23", "sick-child", signs.clone()), // as_of − 7
            visit("v2", "h1.p1", "2026-11-24", "sick-child", signs.clone()), // as_of − 6
            visit("v3", "h1.p1", "2026-11-30", "sick-child", signs.clone()), // as_of
            visit("v4", "h1.p1", "2026-12-01", "sick-child", signs),         // after as_of
            visit("v5", "h1.p1", "2026-11-29", "routine", json!({})),        // no signs
        ]),
    );
    let rows = report(&[home], date(2026, 11, 30)).danger_signs;
    let ids: Vec<&str> = rows.iter().map(|row| row.visit_id.as_str()).collect();
    assert_eq!(ids, vec!["v3", "v2"]);
    assert_eq!(rows[0].signs, vec!["fever", "unable-to-feed"]);
}
