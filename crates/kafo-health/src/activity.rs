//! CHW activity: per `area/chw`, the households followed, the visits made in the
//! period, the households nobody visited in the last 30 and 60 days (ending on
//! `as_of`), and the last visit made.
//!
//! A household counts for its own CHW; a visit counts for the CHW who made it
//! (`visit.chw`, who may be a colleague covering), in the household's area. Visits
//! dated after `as_of` are ignored.

use jiff::civil::Date;
use kafo_model::{Household, Visit};

use crate::Period;
use crate::age::{add_days, days_between};

/// The windows, in days ending on `as_of`, of the "not visited" counts.
pub const NOT_VISITED_WINDOWS_DAYS: [i64; 2] = [30, 60];

/// Whether any of `visits` falls in the `days` days ending on `as_of`.
pub fn visited_within<'v>(
    visits: impl IntoIterator<Item = &'v Visit>,
    as_of: Date,
    days: i64,
) -> bool {
    visits
        .into_iter()
        .any(|visit| (0..days).contains(&days_between(visit.date, as_of)))
}

/// Whether `visit` counts in `period`: dated in the month, and not after `as_of`.
pub fn in_period(visit: &Visit, period: Period, as_of: Date) -> bool {
    period.contains(visit.date) && visit.date <= as_of
}

/// The Monday that starts the week of `date` (for visits per week).
pub fn week_start(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    add_days(date, -back).unwrap_or(date)
}

/// One CHW's activity, accumulated household by household.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChwActivity {
    /// Households followed (not closed).
    pub households: u64,
    /// Visits made in the period.
    pub visits_in_period: u64,
    /// Households with no visit in the 30 days ending on `as_of`.
    pub not_visited_30d: u64,
    /// Households with no visit in the 60 days ending on `as_of`.
    pub not_visited_60d: u64,
    /// The date of the last visit made, on or before `as_of`.
    pub last_visit: Option<Date>,
}

impl ChwActivity {
    /// Counts `household` as one this CHW follows.
    pub fn add_household(&mut self, household: &Household, as_of: Date) {
        let visits = household.visits.iter().filter(|visit| visit.date <= as_of);
        self.households += 1;
        let [days_30, days_60] = NOT_VISITED_WINDOWS_DAYS;
        if !visited_within(visits.clone(), as_of, days_30) {
            self.not_visited_30d += 1;
        }
        if !visited_within(visits, as_of, days_60) {
            self.not_visited_60d += 1;
        }
    }

    /// Counts `visit` as one this CHW made.
    pub fn add_visit(&mut self, visit: &Visit, period: Period, as_of: Date) {
        if visit.date > as_of {
            return;
        }
        if in_period(visit, period, as_of) {
            self.visits_in_period += 1;
        }
        self.last_visit = self.last_visit.max(Some(visit.date));
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::{Weekday, date};

    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_start(date(2026, 12, 3)), date(2026, 11, 30));
        assert_eq!(week_start(date(2026, 11, 30)), date(2026, 11, 30));
        assert_eq!(date(2026, 11, 30).weekday(), Weekday::Monday);
    }
}
