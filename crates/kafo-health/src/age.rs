//! Birth dates as the rules use them, and ages in days.

use jiff::Span;
use jiff::civil::Date;
use kafo_model::PartialDate;

/// A person is a child under five while younger than this many days (5 years).
pub const UNDER_FIVE_DAYS: i64 = 1826;

/// The birth date the rules count from: the date itself, the 15th of the month for a
/// `YYYY-MM` date, and none for a date known only to the year (such a child is
/// listed as "birth date unknown" instead).
pub fn reference_birth_date(birth_date: &PartialDate) -> Option<Date> {
    match *birth_date {
        PartialDate::Day(date) => Some(date),
        PartialDate::YearMonth(year, month) => Date::new(year, month, 15).ok(),
        PartialDate::Year(_) => None,
    }
}

/// Days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    // Both dates are in jiff's range, so the difference in days always fits.
    to.since(from).map_or(0, |span| i64::from(span.get_days()))
}

/// `date` plus `days` (negative to go back), or `None` past the calendar's range.
pub fn add_days(date: Date, days: i64) -> Option<Date> {
    let span = Span::new().try_days(days).ok()?;
    date.checked_add(span).ok()
}

/// Age in days on `on` of a person born on `birth`.
pub fn age_days(birth: Date, on: Date) -> i64 {
    days_between(birth, on)
}

/// Whether a person born on `birth` is a child under five on `on` (born, and younger
/// than [`UNDER_FIVE_DAYS`]).
pub fn is_under_five(birth: Date, on: Date) -> bool {
    (0..UNDER_FIVE_DAYS).contains(&age_days(birth, on))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn a_month_only_birth_date_counts_as_the_15th() {
        let birth: PartialDate = "2025-03".parse().expect("valid partial date");
        assert_eq!(reference_birth_date(&birth), Some(date(2025, 3, 15)));
        let year: PartialDate = "2025".parse().expect("valid partial date");
        assert_eq!(reference_birth_date(&year), None);
    }

    #[test]
    fn under_five_ends_on_day_1826() {
        let birth = date(2020, 1, 1);
        let last = add_days(birth, UNDER_FIVE_DAYS - 1).expect("in range");
        assert!(is_under_five(birth, last));
        assert!(!is_under_five(birth, add_days(last, 1).expect("in range")));
        assert!(!is_under_five(birth, date(2019, 12, 31)));
        assert_eq!(days_between(date(2024, 2, 28), date(2024, 3, 1)), 2);
    }
}
