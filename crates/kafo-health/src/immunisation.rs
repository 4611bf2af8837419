//! Immunisation: which doses of the schedule a child has had, and which are overdue.
//!
//! A dose counts as given when any visit to the child (dated on or before `as_of`)
//! lists its code in `vaccines`. Its due date is `birth_date + age_days`, and
//! `days_overdue = as_of − due_date`. It is overdue when it was not given,
//! `days_overdue ≥ overdue_after_days`, the child is younger than `until_age_days` on
//! `as_of`, and not older than the dose's `max_age_days` (OPV0, Rota). Birth dates
//! count as in [`crate::age::reference_birth_date`]; a child born in a known year only
//! gets no due dates.

use std::collections::BTreeSet;

use jiff::civil::Date;
use kafo_model::{PersonId, Visit};

use crate::age::{add_days, age_days, days_between};
use crate::schedule::{Dose, Schedule};

/// The codes listed at the visits to `person` dated on or before `as_of`.
pub fn given_codes<'v>(
    person: &PersonId,
    visits: impl IntoIterator<Item = &'v Visit>,
    as_of: Date,
) -> BTreeSet<&'v str> {
    visits
        .into_iter()
        .filter(|visit| &visit.person_id == person && visit.date <= as_of)
        .flat_map(|visit| visit.vaccines.iter().map(String::as_str))
        .collect()
}

/// Where one dose of the schedule stands for a child on `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseStatus<'s> {
    /// The dose.
    pub dose: &'s Dose,
    /// `birth_date + age_days`.
    pub due_date: Date,
    /// `as_of − due_date` (negative before it falls due).
    pub days_overdue: i64,
    /// Whether a visit listed it.
    pub given: bool,
    /// Whether it is reported overdue (the module's rule).
    pub overdue: bool,
    /// Whether it counts in coverage: due by `as_of` for a child still in the schedule's ages.
    pub due: bool,
}

/// The status of every dose of `schedule` for a child born on `birth`, on `as_of`.
/// Empty for a child not yet born or past the schedule's ages on `as_of`.
pub fn dose_statuses<'s>(
    schedule: &'s Schedule,
    birth: Date,
    given: &BTreeSet<&str>,
    as_of: Date,
) -> Vec<DoseStatus<'s>> {
    let age = age_days(birth, as_of);
    if !(0..schedule.until_age_days).contains(&age) {
        return Vec::new();
    }
    schedule
        .doses
        .iter()
        .filter_map(|dose| {
            let due_date = add_days(birth, dose.age_days)?;
            let days_overdue = days_between(due_date, as_of);
            let given = given.contains(dose.code.as_str());
            let still_given = dose.max_age_days.is_none_or(|max| age <= max);
            Some(DoseStatus {
                dose,
                due_date,
                days_overdue,
                given,
                overdue: !given && still_given && days_overdue >= schedule.overdue_after_days,
                due: days_overdue >= 0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn overdue_codes(birth: Date, given: &[&str], as_of: Date) -> Vec<String> {
        let given: BTreeSet<&str> = given.iter().copied().collect();
        dose_statuses(Schedule::mali_epi(), birth, &given, as_of)
            .into_iter()
            .filter(|status| status.overdue)
            .map(|status| status.dose.code.clone())
            .collect()
    }

    #[test]
    fn a_dose_is_overdue_28_days_after_it_falls_due() {
        let birth = date(2026, 1, 1);
        // BCG falls due at birth: overdue from day 28, not day 27.
        assert!(overdue_codes(birth, &[], date(2026, 1, 28)).is_empty());
        assert_eq!(overdue_codes(birth, &[], date(2026, 1, 29)), vec!["BCG"]);
        assert!(overdue_codes(birth, &["BCG"], date(2026, 1, 29)).is_empty());
    }

    #[test]
    fn opv0_is_never_overdue() {
        let birth = date(2026, 1, 1);
        for as_of in [date(2026, 1, 29), date(2026, 6, 1), date(2028, 1, 1)] {
            assert!(!overdue_codes(birth, &[], as_of).contains(&"OPV0".to_owned()));
        }
    }

    #[test]
    fn rota_is_not_listed_after_730_days() {
        let birth = date(2024, 1, 1);
        let day_730 = add_days(birth, 730).expect("in range");
        assert!(overdue_codes(birth, &[], day_730).contains(&"Rota2".to_owned()));
        let day_731 = add_days(birth, 731).expect("in range");
        let overdue = overdue_codes(birth, &[], day_731);
        assert!(
            !overdue.iter().any(|code| code.starts_with("Rota")),
            "{overdue:?}"
        );
        assert!(overdue.contains(&"Penta1".to_owned()));
    }

    #[test]
    fn nothing_is_listed_from_five_years_of_age() {
        let birth = date(2020, 1, 1);
        let last = add_days(birth, 1825).expect("in range");
        assert!(overdue_codes(birth, &[], last).contains(&"MR2".to_owned()));
        let five = add_days(birth, 1826).expect("in range");
        assert!(overdue_codes(birth, &[], five).is_empty());
    }

    #[test]
    fn any_visit_to_the_child_up_to_as_of_counts() {
        let visits: Vec<Visit> = serde_json::from_str(
            r#"[{"id":"v1","person_id":"p1","date":"2026-02-01","chw":"c","kind":"routine","vaccines":["BCG"]},
                {"id":"v2","person_id":"p2","date":"2026-02-01","chw":"c","kind":"routine","vaccines":["Penta1"]},
                {"id":"v3","person_id":"p1","date":"2026-03-01","chw":"c","kind":"routine","vaccines":["MR1"]}]"#,
        )
        .expect("valid visits");
        let person = PersonId::parse("p1").expect("valid id");
        let given = given_codes(&person, &visits, date(2026, 2, 15));
        assert_eq!(given.into_iter().collect::<Vec<_>>(), vec!["BCG"]);
    }
}
