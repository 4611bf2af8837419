//! A reporting period: one calendar month.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    first: Date,
}

/// Why a string is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a month as YYYY-MM, found {0:?}")]
pub struct ParsePeriodError(pub String);

impl Period {
    /// The calendar month that contains `date`.
    pub fn of(date: Date) -> Self {
        Self {
            first: date.first_of_month(),
        }
    }

    /// Its first day.
    pub fn first_day(&self) -> Date {
        self.first
    }

    /// Its last day.
    pub fn last_day(&self) -> Date {
        self.first.last_of_month()
    }

    /// Whether `date` falls in it.
    pub fn contains(&self, date: Date) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }
}

impl FromStr for Period {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, ParsePeriodError> {
        let error = || ParsePeriodError(text.to_owned());
        let (year, month) = text.split_once('-').ok_or_else(error)?;
        let digits =
            |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(error());
        }
        let year: i16 = year.parse().map_err(|_| error())?;
        let month: i8 = month.parse().map_err(|_| error())?;
        let first = Date::new(year, month, 1).map_err(|_| error())?;
        Ok(Self { first })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn periods_parse_and_bound_their_month() {
        let period: Period = "2024-02".parse().expect("valid period");
        assert_eq!(period.to_string(), "2024-02");
        assert_eq!(period.last_day(), date(2024, 2, 29));
        assert!(period.contains(date(2024, 2, 1)));
        assert!(!period.contains(date(2024, 3, 1)));
        for bad in [
            "2024",
            "2024-13",
            "2024-1",
            "24-01",
            "2024-01-01",
            "２０２４-01",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad:?} accepted");
        }
    }
}
