//! Days as plain integers, so that the generator's date arithmetic is cheap and
//! exact, and the conversion to and from `jiff` dates at the edges.
//!
//! The conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! over the proleptic Gregorian calendar, the calendar `jiff` uses.

use jiff::civil::Date;

/// A calendar day, counted from 1970-01-01 (negative before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Day(pub(crate) i32);

impl Day {
    /// The day of a calendar date.
    pub(crate) fn from_date(date: Date) -> Self {
        let month = i32::from(date.month());
        let day = i32::from(date.day());
        let year = i32::from(date.year()) - i32::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Self(era * 146_097 + day_of_era - 719_468)
    }

    /// The calendar year, month (1 to 12) and day of month (1 to 31) of this day.
    pub(crate) fn civil(self) -> (i32, i8, i8) {
        let shifted = self.0 + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i32::from(month <= 2);
        // Both are in range by construction: month 1..=12, day 1..=31.
        (year, month as i8, day as i8)
    }

    /// The calendar date of this day.
    ///
    /// Only days between the years 1000 and 9999 are ever converted: the
    /// configuration keeps its period within 1900..=9000, and birth dates reach
    /// back at most a century before it.
    pub(crate) fn date(self) -> Date {
        let (year, month, day) = self.civil();
        let year = i16::try_from(year).unwrap_or(i16::MAX);
        // Invariant: `civil` returns an existing date and the year is within
        // jiff's range (see above), so this never falls back.
        Date::new(year, month, day).unwrap_or(Date::MAX)
    }

    /// This day moved by `days` (negative moves back).
    pub(crate) fn plus(self, days: i32) -> Self {
        Self(self.0 + days)
    }

    /// Days from `earlier` to `self` (negative when `earlier` is later).
    pub(crate) fn since(self, earlier: Day) -> i32 {
        self.0 - earlier.0
    }

    /// Whether this day is a Sunday (1970-01-01 was a Thursday).
    pub(crate) fn is_sunday(self) -> bool {
        (self.0 + 3).rem_euclid(7) == 6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_jiff_over_three_centuries() {
        let mut date = Date::constant(1890, 1, 1);
        let mut day = Day::from_date(date);
        while date.year() < 2190 {
            assert_eq!(Day::from_date(date), day, "{date}");
            assert_eq!(day.date(), date);
            assert_eq!(
                day.is_sunday(),
                date.weekday() == jiff::civil::Weekday::Sunday
            );
            date = date.tomorrow().expect("far from the end of jiff's range");
            day = day.plus(1);
        }
    }

    #[test]
    fn counts_from_the_unix_epoch() {
        assert_eq!(Day::from_date(Date::constant(1970, 1, 1)), Day(0));
        assert_eq!(Day::from_date(Date::constant(1969, 12, 31)), Day(-1));
        assert_eq!(Day(0).plus(365).date(), Date::constant(1971, 1, 1));
    }
}
