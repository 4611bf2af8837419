//! Stories on a virtual calendar: the report is run day after day over the same
//! households, and each list changes on exactly the day its rule says.

mod common;

use common::{child, household, report, visit};
use jiff::civil::{Date, date};
use kafo_health::age::add_days;
use kafo_health::growth::MuacClass;
use serde_json::json;

/// The days from `first` to `last`, inclusive.
fn calendar(first: Date, last: Date) -> impl Iterator<Item = Date> {
    first
        .series(jiff::Span::new().days(1))
        .take_while(move |day| *day <= last)
}

fn overdue(households: &[kafo_model::Household], as_of: Date, antigen: &str) -> Option<i64> {
    report(households, as_of)
        .overdue_vaccines
        .into_iter()
        .find(|row| row.antigen == antigen)
        .map(|row| row.days_overdue)
}

#[test]
fn a_child_who_missed_penta2_is_listed_on_exactly_the_right_day() {
    // Moussa, born 2026-01-01, had his birth doses and the day-42 doses, then missed
    // the day-70 visit: Penta2 fell due on 2026-03-12 and is overdue 28 days later.
    let day_42 = json!({"vaccines": ["Penta1", "OPV1", "PCV1", "Rota1"]});
    let mut visits = vec![
        visit(
            "v1",
            "h1.p1",
            "2026-01-03",
            "routine",
            json!({"vaccines": ["BCG", "OPV0"]}),
        ),
        visit("v2", "h1.p1", "2026-02-12", "routine", day_42),
    ];
    let home = household(
        "h1",
        json!([child("h1.p1", "male", "2026-01-01")]),
        json!(visits),
    );
    let mut first_listed = None;
    for day in calendar(date(2026, 3, 1), date(2026, 5, 1)) {
        if let Some(days) = overdue(std::slice::from_ref(&home), day, "Penta2") {
            first_listed.get_or_insert((day, days));
        }
    }
    assert_eq!(first_listed, Some((date(2026, 4, 9), 28)));
    assert_eq!(
        overdue(std::slice::from_ref(&home), date(2026, 4, 8), "Penta2"),
        None
    );
    // The CHW catches him up on 2026-04-20: listed the day before, not from that day on.
    visits.push(visit(
        "v3",
        "h1.p1",
        "2026-04-20",
        "routine",
        json!({"vaccines": ["Penta2"]}),
    ));
    let caught_up = household(
        "h1",
        json!([child("h1.p1", "male", "2026-01-01")]),
        json!(visits),
    );
    assert_eq!(
        overdue(
            std::slice::from_ref(&caught_up),
            date(2026, 4, 19),
            "Penta2"
        ),
        Some(38)
    );
    assert_eq!(
        overdue(
            std::slice::from_ref(&caught_up),
            date(2026, 4, 20),
            "Penta2"
        ),
        None
    );
    // The row names the household, the area and the CHW.
    let row = report(&[home], date(2026, 4, 9))
        .overdue_vaccines
        .into_iter()
        .find(|row| row.antigen == "Penta2")
        .expect("listed");
    assert_eq!(row.due_date, date(2026, 3, 12));
    assert_eq!(
        (
            row.subject.household_id.as_str(),
            row.subject.person_id.as_str(),
            row.subject.area.as_str(),
            row.subject.chw.as_str()
        ),
        ("h1", "h1.p1", "sikoro", "chw-07")
    );
}

#[test]
fn a_month_only_birth_date_counts_from_the_15th_and_a_year_only_one_is_unknown() {
    let homes = [
        household(
            "h1",
            json!([child("h1.p1", "female", "2026-01")]),
            json!([]),
        ),
        household("h2", json!([child("h2.p1", "male", "2025")]), json!([])),
    ];
    // Born "2026-01" counts as 2026-01-15: BCG is overdue from 2026-02-12.
    assert_eq!(overdue(&homes, date(2026, 2, 11), "BCG"), None);
    assert_eq!(overdue(&homes, date(2026, 2, 12), "BCG"), Some(28));
    let report = report(&homes, date(2026, 6, 1));
    assert!(
        report
            .overdue_vaccines
            .iter()
            .all(|row| row.subject.person_id.as_str() == "h1.p1")
    );
    assert_eq!(report.birth_date_unknown.len(), 1);
    assert_eq!(report.birth_date_unknown[0].birth_date.to_string(), "2025");
}

#[test]
fn a_child_leaves_the_lists_at_five() {
    let home = household(
        "h1",
        json!([child("h1.p1", "male", "2021-03-01")]),
        json!([]),
    );
    let last_day = add_days(date(2021, 3, 1), 1825).expect("in range");
    assert!(overdue(std::slice::from_ref(&home), last_day, "MR2").is_some());
    let fifth_birthday = add_days(last_day, 1).expect("in range");
    assert!(report(&[home], fifth_birthday).overdue_vaccines.is_empty());
}

#[test]
fn malnutrition_follows_the_latest_muac_and_the_latest_whz() {
    // Aminata, born 2025-01-01 (girl). MUAC normal in September, 118 mm (MAM) in
    // October; then a visit with only weight and height that puts her WHZ < −3.
    let child = json!([child("h1.p1", "female", "2025-01-01")]);
    let muac = |id, date, mm| visit(id, "h1.p1", date, "growth", json!({"muac_mm": mm}));
    let mut visits = vec![muac("v1", "2025-09-01", 135), muac("v2", "2025-10-01", 118)];
    let home = household("h1", child.clone(), json!(visits));
    assert!(
        report(std::slice::from_ref(&home), date(2025, 9, 30))
            .malnutrition
            .is_empty()
    );
    let rows = report(&[home], date(2025, 10, 1)).malnutrition;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].muac_mm, rows[0].muac_class, rows[0].severe),
        (Some(118), Some(MuacClass::Mam), false)
    );
    visits.push(visit(
        "v3",
        "h1.p1",
        "2025-11-01",
        "growth",
        json!({"weight_kg": 5.9, "height_cm": 75.0}),
    ));
    let home = household("h1", child.clone(), json!(visits));
    let report_nov = report(&[home], date(2025, 11, 1));
    let row = &report_nov.malnutrition[0];
    assert!(row.whz.is_some_and(|whz| whz < -3.0), "{row:?}");
    assert!(row.severe);
    assert_eq!(row.date, date(2025, 11, 1));
    // Her growth row is the latest measurement, with its z-scores.
    let growth = &report_nov.growth[0];
    assert_eq!(
        (growth.date, growth.age_days, growth.muac_mm),
        (date(2025, 11, 1), 304, None)
    );
    assert!(growth.waz.is_some() && growth.haz.is_some() && growth.whz == row.whz);
    // A later normal MUAC does not clear the latest WHZ.
    visits.push(muac("v4", "2025-11-15", 130));
    let home = household("h1", child, json!(visits));
    let rows = report(&[home], date(2025, 11, 15)).malnutrition;
    assert_eq!(rows[0].muac_class, Some(MuacClass::Normal));
    assert!(rows[0].severe, "WHZ < −3 still");
}

#[test]
fn chw_activity_counts_households_visits_and_silences() {
    let kid = |id: &str| json!([child(id, "male", "2025-01-01")]);
    let homes = [
        // Visited 10 days ago, and twice in the period.
        household(
            "h1",
            kid("h1.p1"),
            json!([
                visit("v1", "h1.p1", "2026-11-05", "routine", json!({})),
                visit("v2", "h1.p1", "2026-11-20", "routine", json!({})),
                visit("v3", "h1.p1", "2026-12-05", "routine", json!({})), // after as_of
            ]),
        ),
        // Visited 45 days ago.
        household(
            "h2",
            kid("h2.p1"),
            json!([visit("v4", "h2.p1", "2026-10-16", "routine", json!({}))]),
        ),
        // Never visited.
        household("h3", kid("h3.p1"), json!([])),
    ];
    let mut closed = household("h4", kid("h4.p1"), json!([]));
    closed.status = kafo_model::HouseholdStatus::Closed;
    let mut all = homes.to_vec();
    all.push(closed);
    let report = report(&all, date(2026, 11, 30));
    assert_eq!(report.chws.len(), 1);
    let row = &report.chws[0];
    assert_eq!(row.households, 3, "the closed household is left out");
    assert_eq!(row.visits_in_period, 2);
    assert_eq!((row.not_visited_30d, row.not_visited_60d), (2, 1));
    assert_eq!(row.last_visit, Some(date(2026, 11, 20)));
    assert_eq!(row.last_sync, None);
    assert_eq!(
        report
            .charts
            .visits_per_week
            .values()
            .map(|weeks| weeks.values().sum::<u64>())
            .sum::<u64>(),
        2
    );
}

#[test]
fn coverage_counts_the_children_a_dose_is_due_for() {
    let homes = [
        household(
            "h1",
            json!([child("h1.p1", "male", "2026-01-01")]),
            json!([visit(
                "v1",
                "h1.p1",
                "2026-01-02",
                "routine",
                json!({"vaccines": ["BCG"]})
            )]),
        ),
        household(
            "h2",
            json!([child("h2.p1", "male", "2026-03-01")]),
            json!([]),
        ),
    ];
    let report = report(&homes, date(2026, 3, 1));
    let bcg = report
        .epi_coverage
        .iter()
        .find(|row| row.antigen == "BCG")
        .expect("BCG");
    assert_eq!((bcg.due, bcg.given), (2, 1));
    let penta2 = report
        .epi_coverage
        .iter()
        .find(|row| row.antigen == "Penta2")
        .expect("Penta2");
    assert_eq!(
        (penta2.due, penta2.given),
        (0, 0),
        "due on 2026-03-12 for the elder"
    );
}
