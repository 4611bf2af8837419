//! What to generate: the program (areas, CHWs, households and visits per
//! CHW), the period the visits fall in, and the seed.

use jiff::civil::Date;
use kafo_model::ids::MAX_ID_LEN;
use kafo_model::{AreaId, ChwId, HouseholdScope};

use crate::calendar::Day;
use crate::names::BAMAKO_AREAS;

/// The seed of [`GeneratorConfig::default`].
pub const DEFAULT_SEED: u64 = 2025;

/// The most CHWs a program may have.
pub const MAX_CHWS: u32 = 99_999;

/// The longest period, in days (a century).
pub const MAX_DAYS: u32 = 36_525;

/// The caseload to generate.
///
/// [`GeneratorConfig::default`] is the program of the brief: 57 CHWs in one
/// area, `sikoro`, each following 120 households and making 2,500 visits over
/// the year 2025 (6,840 households, 142,500 visits). Change what you need:
///
/// ```
/// # use kafo_gen::GeneratorConfig;
/// let config = GeneratorConfig {
///     seed: 7,
///     areas: GeneratorConfig::bamako_areas(3),
///     chws: 6,
///     ..GeneratorConfig::default()
/// };
/// assert!(config.check().is_ok());
/// ```
///
/// [`GeneratorConfig::check`] says whether every id the generator would
/// write is valid; a configuration it refuses generates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// The seed every household's random streams derive from.
    pub seed: u64,
    /// The health areas, in the order CHW numbers are given out.
    pub areas: Vec<AreaId>,
    /// CHWs in the whole program, numbered `chw-01`, `chw-02`, ... across it
    /// and shared among the areas in turn, in blocks as even as possible
    /// (57 CHWs in 2 areas: `chw-01` to `chw-29` in the first, `chw-30` to
    /// `chw-57` in the second).
    pub chws: u32,
    /// Households each CHW follows.
    pub households_per_chw: u32,
    /// Visits each CHW makes over the whole period: exactly, unless its
    /// households have too few people in the period to receive them.
    pub visits_per_chw: u32,
    /// The first day of the period.
    pub start: Date,
    /// How many days the period lasts. The day after it is "today", that
    /// ages, pregnancies and expected delivery dates are relative to.
    pub days: u32,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            areas: Self::bamako_areas(1),
            chws: 57,
            households_per_chw: 120,
            visits_per_chw: 2_500,
            start: Date::constant(2025, 1, 1),
            days: 365,
        }
    }
}

impl GeneratorConfig {
    /// The first `count` areas of [`BAMAKO_AREAS`] (`sikoro`, `sirakoro`,
    /// `banconi`, ...), then `aire-17`, `aire-18`, ...
    pub fn bamako_areas(count: usize) -> Vec<AreaId> {
        (0..count)
            .filter_map(|index| {
                let name = BAMAKO_AREAS.get(index).map_or_else(
                    || format!("aire-{:02}", index + 1),
                    |name| (*name).to_owned(),
                );
                // Every name above is a valid id, so nothing is filtered out.
                AreaId::parse(name).ok()
            })
            .collect()
    }

    /// Whether the generator can write this program with valid ids and dates.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.areas.is_empty() {
            return Err(ConfigError::NoArea);
        }
        let mut sorted: Vec<&AreaId> = self.areas.iter().collect();
        sorted.sort();
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ConfigError::DuplicateArea {
                area: pair[0].clone(),
            });
        }
        if self.chws > MAX_CHWS {
            return Err(ConfigError::TooManyChws { chws: self.chws });
        }
        if self.days == 0 {
            return Err(ConfigError::NoDays);
        }
        let end_year = i32::from(self.start.year()) + (self.days / 365) as i32 + 1;
        if self.start.year() < 1900 || self.days > MAX_DAYS || end_year > 9000 {
            return Err(ConfigError::PeriodOutOfRange {
                start: self.start,
                days: self.days,
            });
        }
        let widths = IdWidths::of(self);
        for area in &self.areas {
            let len = widths.longest_visit_id(area);
            if len > MAX_ID_LEN {
                return Err(ConfigError::AreaTooLong {
                    area: area.clone(),
                    len,
                });
            }
        }
        Ok(())
    }

    /// The day after the period: the "today" of the generated caseload.
    pub fn end(&self) -> Date {
        self.end_day().date()
    }

    /// Households in the whole program (when [`GeneratorConfig::check`] accepts it).
    pub fn household_count(&self) -> u64 {
        u64::from(self.chws) * u64::from(self.households_per_chw)
    }

    /// Every CHW of the program with its area, in the order CHWs are numbered.
    pub fn scopes(&self) -> Vec<HouseholdScope> {
        let widths = IdWidths::of(self);
        self.chw_blocks()
            .flat_map(|(area, numbers)| {
                numbers.map(move |number| HouseholdScope {
                    area: area.clone(),
                    chw: widths.chw_id(number),
                })
            })
            .collect()
    }

    /// Each area with the numbers of its CHWs.
    pub(crate) fn chw_blocks(&self) -> impl Iterator<Item = (&AreaId, std::ops::Range<u32>)> + '_ {
        let areas = u32::try_from(self.areas.len()).unwrap_or(u32::MAX).max(1);
        let (base, extra) = (self.chws / areas, self.chws % areas);
        let mut next = 1;
        self.areas.iter().zip(0..areas).map(move |(area, index)| {
            let count = base + u32::from(index < extra);
            let numbers = next..next + count;
            next += count;
            (area, numbers)
        })
    }

    pub(crate) fn start_day(&self) -> Day {
        Day::from_date(self.start)
    }

    pub(crate) fn end_day(&self) -> Day {
        self.start_day().plus(self.days.min(MAX_DAYS) as i32)
    }
}

/// Why [`GeneratorConfig::check`] refuses a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The program has no area.
    #[error("at least one area is needed")]
    NoArea,
    /// An area is listed twice.
    #[error("area {area} is listed twice")]
    DuplicateArea {
        /// The repeated area.
        area: AreaId,
    },
    /// More CHWs than [`MAX_CHWS`].
    #[error("{chws} chws is more than the {MAX_CHWS} a program may have")]
    TooManyChws {
        /// How many were asked for.
        chws: u32,
    },
    /// The period has no day.
    #[error("the period must last at least one day")]
    NoDays,
    /// The period starts before 1900, lasts over a century or ends after 9000.
    #[error(
        "a period of {days} days from {start} is outside the years 1900 to 9000 or longer than a century"
    )]
    PeriodOutOfRange {
        /// First day of the period.
        start: Date,
        /// Its length in days.
        days: u32,
    },
    /// The area's name is so long that visit ids in it would exceed the format's limit.
    #[error(
        "area {area} is too long: its visit ids would be {len} characters, at most {MAX_ID_LEN} are allowed"
    )]
    AreaTooLong {
        /// The area.
        area: AreaId,
        /// The length of its longest visit id.
        len: usize,
    },
}

/// How many digits the numbers in generated ids have: at least `chw-01`,
/// `h0001` and `v00001`, more when the program is larger, so that ids sort
/// in number order within a CHW and a household.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdWidths {
    pub(crate) chw: usize,
    pub(crate) household: usize,
    pub(crate) visit: usize,
}

impl IdWidths {
    pub(crate) fn of(config: &GeneratorConfig) -> Self {
        Self {
            chw: digits(u64::from(config.chws)).max(2),
            household: digits(u64::from(config.households_per_chw)).max(4),
            visit: digits(u64::from(config.visits_per_chw)).max(5),
        }
    }

    /// The id of CHW number `number`, e.g. `chw-07`.
    pub(crate) fn chw_id(&self, number: u32) -> ChwId {
        ChwId::parse(format!("chw-{number:0width$}", width = self.chw))
            .expect("`chw-` and at most 10 digits form a valid id")
    }

    /// The length of the longest visit id in `area`: `AREA-chw-NN-hNNNN.vNNNNN`.
    fn longest_visit_id(&self, area: &AreaId) -> usize {
        area.as_str().len()
            + "-chw-".len()
            + self.chw
            + "-h".len()
            + self.household
            + ".v".len()
            + self.visit
    }
}

fn digits(mut value: u64) -> usize {
    let mut count = 1;
    while value >= 10 {
        value /= 10;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(name: &str) -> AreaId {
        AreaId::parse(name).expect("valid")
    }

    #[test]
    fn default_is_the_program_of_the_brief() {
        let config = GeneratorConfig::default();
        assert_eq!(config.check(), Ok(()));
        assert_eq!(config.household_count(), 6_840);
        assert_eq!(config.end(), Date::constant(2026, 1, 1));
        let scopes: Vec<String> = config.scopes().iter().map(ToString::to_string).collect();
        assert_eq!(scopes.len(), 57);
        assert_eq!(scopes.first().map(String::as_str), Some("sikoro/chw-01"));
        assert_eq!(scopes.last().map(String::as_str), Some("sikoro/chw-57"));
    }

    #[test]
    fn chws_are_numbered_across_areas_in_even_blocks() {
        let config = GeneratorConfig {
            areas: GeneratorConfig::bamako_areas(3),
            chws: 5,
            ..GeneratorConfig::default()
        };
        let scopes: Vec<String> = config.scopes().iter().map(ToString::to_string).collect();
        assert_eq!(
            scopes,
            [
                "sikoro/chw-01",
                "sikoro/chw-02",
                "sirakoro/chw-03",
                "sirakoro/chw-04",
                "banconi/chw-05"
            ]
        );
        let areas = GeneratorConfig::bamako_areas(18);
        assert_eq!(areas.len(), 18);
        assert_eq!(areas[17].as_str(), "aire-18");
    }

    #[test]
    fn refuses_what_it_cannot_generate() {
        let default = GeneratorConfig::default;
        let with_areas = |areas: Vec<AreaId>| GeneratorConfig { areas, ..default() };
        assert_eq!(with_areas(vec![]).check(), Err(ConfigError::NoArea));
        assert_eq!(
            with_areas(vec![area("a"), area("b"), area("a")]).check(),
            Err(ConfigError::DuplicateArea { area: area("a") })
        );
        let no_days = GeneratorConfig {
            days: 0,
            ..default()
        };
        assert_eq!(no_days.check(), Err(ConfigError::NoDays));
        for (start, days) in [
            (Date::constant(1800, 1, 1), 365),
            (Date::constant(2025, 1, 1), MAX_DAYS + 1),
            (Date::constant(8999, 6, 1), 365),
        ] {
            let config = GeneratorConfig {
                start,
                days,
                ..default()
            };
            assert!(matches!(
                config.check(),
                Err(ConfigError::PeriodOutOfRange { .. })
            ));
        }
        let crowded = GeneratorConfig {
            chws: MAX_CHWS + 1,
            ..default()
        };
        assert_eq!(
            crowded.check(),
            Err(ConfigError::TooManyChws { chws: MAX_CHWS + 1 })
        );
        let long = "a".repeat(45);
        assert_eq!(
            with_areas(vec![area(&long)]).check(),
            Err(ConfigError::AreaTooLong {
                area: area(&long),
                len: 65
            })
        );
        assert_eq!(with_areas(vec![area(&"a".repeat(44))]).check(), Ok(()));
    }

    #[test]
    fn ids_widen_for_large_programs() {
        let config = GeneratorConfig {
            chws: 120,
            households_per_chw: 12_000,
            visits_per_chw: 250_000,
            ..GeneratorConfig::default()
        };
        let widths = IdWidths::of(&config);
        assert_eq!((widths.chw, widths.household, widths.visit), (3, 5, 6));
        assert_eq!(widths.chw_id(7).as_str(), "chw-007");
    }
}
