//! The virtual clock: instants as microseconds since the scenario's first midnight,
//! times of day, weekdays, and the bridge to the `Instant`s the protocol takes.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use jiff::civil::Weekday;

/// Microseconds in a second.
pub const SECOND: u64 = 1_000_000;
/// Microseconds in a minute.
pub const MINUTE: u64 = 60 * SECOND;
/// Microseconds in an hour.
pub const HOUR: u64 = 60 * MINUTE;
/// Microseconds in a day.
pub const DAY: u64 = 24 * HOUR;

/// A point on the virtual clock: microseconds since midnight of the scenario's first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of the simulation.
    pub const ZERO: Self = Self(0);

    /// Midnight starting day `day` (0-based).
    pub fn day_start(day: u32) -> Self {
        Self(u64::from(day) * DAY)
    }

    /// The day (0-based) this instant falls in.
    pub fn day(self) -> u32 {
        u32::try_from(self.0 / DAY).unwrap_or(u32::MAX)
    }

    /// This instant plus `micros`.
    pub fn plus(self, micros: u64) -> Self {
        Self(self.0.saturating_add(micros))
    }

    /// Microseconds from `earlier` to this instant (zero if `earlier` is later).
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Seconds since the start, as a float for metrics.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / SECOND as f64
    }

    /// Hours since the start, as a float for metrics.
    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / HOUR as f64
    }
}

impl fmt::Display for SimTime {
    /// `d3 14:05:12.345`: day (1-based) and time of day.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = self.0 / DAY + 1;
        let rest = self.0 % DAY;
        let (hours, minutes) = (rest / HOUR, rest % HOUR / MINUTE);
        let (seconds, millis) = (rest % MINUTE / SECOND, rest % SECOND / 1000);
        write!(f, "d{day} {hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
    }
}

/// Maps the virtual clock onto `Instant`s for the protocol, from one fixed base: only
/// differences between instants ever matter, so runs stay reproducible.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock whose zero is `base`.
    pub fn new(base: Instant) -> Self {
        Self { base }
    }

    /// The `Instant` of a virtual time.
    pub fn instant(&self, at: SimTime) -> Instant {
        self.base + Duration::from_micros(at.0)
    }

    /// The virtual time of an `Instant` the protocol asked for, rounded up to the next
    /// microsecond so that a timer never fires before its deadline.
    pub fn sim_time(&self, at: Instant) -> SimTime {
        let since = at.saturating_duration_since(self.base);
        let micros = since.as_nanos().div_ceil(1000);
        SimTime(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

/// A time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u64);

impl TimeOfDay {
    /// Microseconds since midnight.
    pub fn micros(self) -> u64 {
        self.0
    }

    /// This time on day `day`.
    pub fn on(self, day: u32) -> SimTime {
        SimTime::day_start(day).plus(self.0)
    }
}

/// Why a time of day, a span of hours or a weekday does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTimeError {
    /// Not `HH:MM` with hours 0 to 24 and minutes 0 to 59 (24:00 is the end of a day).
    #[error("{text:?} is not a time of day HH:MM")]
    TimeOfDay {
        /// What was given.
        text: String,
    },
    /// Not `HH:MM-HH:MM` with the start before the end.
    #[error("{text:?} is not a span of hours HH:MM-HH:MM with its start before its end")]
    Hours {
        /// What was given.
        text: String,
    },
    /// Not one of `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    #[error("{text:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")]
    Weekday {
        /// What was given.
        text: String,
    },
}

impl FromStr for TimeOfDay {
    type Err = ParseTimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseTimeError::TimeOfDay {
            text: text.to_string(),
        };
        let (hours, minutes) = text.split_once(':').ok_or_else(error)?;
        let hours: u64 = hours.parse().map_err(|_| error())?;
        let minutes: u64 = minutes.parse().map_err(|_| error())?;
        if minutes >= 60 || hours > 24 || (hours == 24 && minutes > 0) {
            return Err(error());
        }
        Ok(Self(hours * HOUR + minutes * MINUTE))
    }
}

/// A span of hours within a day, `HH:MM-HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    /// Start.
    pub from: TimeOfDay,
    /// End, after the start.
    pub to: TimeOfDay,
}

impl FromStr for Hours {
    type Err = ParseTimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseTimeError::Hours {
            text: text.to_string(),
        };
        let (from, to) = text.split_once('-').ok_or_else(error)?;
        let from: TimeOfDay = from.trim().parse().map_err(|_| error())?;
        let to: TimeOfDay = to.trim().parse().map_err(|_| error())?;
        if from >= to {
            return Err(error());
        }
        Ok(Self { from, to })
    }
}

/// Parses `mon` ... `sun`.
pub fn parse_weekday(text: &str) -> Result<Weekday, ParseTimeError> {
    Ok(match text {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => {
            return Err(ParseTimeError::Weekday {
                text: text.to_string(),
            });
        }
    })
}

/// A half-open interval of virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// Start (included).
    pub from: SimTime,
    /// End (excluded).
    pub to: SimTime,
}

impl Interval {
    /// Its length in microseconds.
    pub fn len(&self) -> u64 {
        self.to.since(self.from)
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.to <= self.from
    }
}

/// `intervals` with `cut` removed (each interval may split in two).
pub fn subtract(intervals: &[Interval], cut: Interval) -> Vec<Interval> {
    let mut out = Vec::with_capacity(intervals.len() + 1);
    for interval in intervals {
        if cut.to <= interval.from || cut.from >= interval.to {
            out.push(*interval);
            continue;
        }
        let before = Interval {
            from: interval.from,
            to: cut.from,
        };
        let after = Interval {
            from: cut.to,
            to: interval.to,
        };
        out.extend([before, after].into_iter().filter(|part| !part.is_empty()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_and_hours_parse_strictly() {
        assert_eq!("08:30".parse(), Ok(TimeOfDay(8 * HOUR + 30 * MINUTE)));
        assert_eq!("24:00".parse(), Ok(TimeOfDay(DAY)));
        for bad in ["8", "24:01", "12:60", "aa:00", ""] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
        let hours: Hours = "08:00-13:00".parse().expect("valid");
        assert_eq!(hours.to.micros() - hours.from.micros(), 5 * HOUR);
        assert!("13:00-08:00".parse::<Hours>().is_err());
        assert!(parse_weekday("fri").is_ok() && parse_weekday("friday").is_err());
    }

    #[test]
    fn subtracting_splits_and_trims() {
        let day = [Interval {
            from: SimTime(0),
            to: SimTime(100),
        }];
        let cut = Interval {
            from: SimTime(40),
            to: SimTime(60),
        };
        let parts = subtract(&day, cut);
        assert_eq!(parts.iter().map(Interval::len).sum::<u64>(), 80);
        assert_eq!(parts.len(), 2);
        let all = Interval {
            from: SimTime(0),
            to: SimTime(200),
        };
        assert!(subtract(&day, all).is_empty());
    }

    #[test]
    fn the_clock_round_trips_and_rounds_up() {
        let clock = Clock::new(Instant::now());
        let at = SimTime(3 * DAY + 17);
        assert_eq!(clock.sim_time(clock.instant(at)), at);
        let between = clock.instant(at) + Duration::from_nanos(1);
        assert_eq!(clock.sim_time(between), SimTime(at.0 + 1));
        assert_eq!(format!("{at}"), "d4 00:00:00.000");
    }
}
