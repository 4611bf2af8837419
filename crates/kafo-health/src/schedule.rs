//! The immunisation (EPI) schedule: data, not code. The default is Mali's
//! (`data/epi-mali.toml`); a program may supply its own file in the same form.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The built-in schedule's text.
const MALI_EPI: &str = include_str!("../data/epi-mali.toml");

/// An immunisation schedule: the doses, at what age each falls due, and when a
/// missed dose is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// A name for people, e.g. `Mali EPI`.
    pub name: String,
    /// A dose not given is overdue once `as_of` is at least this many days past its due date.
    pub overdue_after_days: i64,
    /// Doses are reported only for children younger than this many days on `as_of`.
    pub until_age_days: i64,
    /// The doses, in schedule order.
    #[serde(rename = "dose")]
    pub doses: Vec<Dose>,
}

/// One dose of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dose {
    /// The code visits list in `vaccines`, e.g. `Penta2`.
    pub code: String,
    /// The age in days at which it falls due.
    pub age_days: i64,
    /// The age in days after which it is no longer given (so a child older than
    /// this is not listed for it); none when it is caught up at any age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<i64>,
}

/// Why a schedule file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not TOML of the schedule's form; the message names the line and the key.
    #[error("{0}")]
    Toml(String),
    /// A value breaks the schedule's rules.
    #[error("{0}")]
    Invalid(String),
}

impl Schedule {
    /// Mali's EPI schedule, Kafo's default.
    pub fn mali_epi() -> &'static Schedule {
        static SCHEDULE: OnceLock<Schedule> = OnceLock::new();
        // The built-in file is part of the crate and a test parses it.
        SCHEDULE
            .get_or_init(|| Schedule::from_toml(MALI_EPI).expect("the built-in schedule is valid"))
    }

    /// Parses and checks a schedule file's text.
    pub fn from_toml(text: &str) -> Result<Self, ScheduleError> {
        let schedule: Schedule =
            toml::from_str(text).map_err(|error| ScheduleError::Toml(error.to_string()))?;
        schedule.check()?;
        Ok(schedule)
    }

    fn check(&self) -> Result<(), ScheduleError> {
        let invalid = |message: String| Err(ScheduleError::Invalid(message));
        if self.doses.is_empty() {
            return invalid("the schedule has no [[dose]]".to_owned());
        }
        if self.overdue_after_days < 0 {
            return invalid("overdue_after_days must not be negative".to_owned());
        }
        if self.until_age_days <= 0 {
            return invalid("until_age_days must be positive".to_owned());
        }
        let mut codes = BTreeSet::new();
        for (index, dose) in self.doses.iter().enumerate() {
            let at = format!("dose {} ({:?})", index + 1, dose.code);
            if dose.code.trim().is_empty() {
                return invalid(format!("dose {}: code is empty", index + 1));
            }
            if !codes.insert(dose.code.as_str()) {
                return invalid(format!("{at}: code listed twice"));
            }
            if !(0..=self.until_age_days).contains(&dose.age_days) {
                return invalid(format!("{at}: age_days must be 0 to until_age_days"));
            }
            if dose.max_age_days.is_some_and(|max| max < dose.age_days) {
                return invalid(format!("{at}: max_age_days is below age_days"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_schedule_is_mali_epi() {
        let schedule = Schedule::mali_epi();
        let at = |code: &str| {
            schedule
                .doses
                .iter()
                .find(|dose| dose.code == code)
                .map(|dose| dose.age_days)
        };
        assert_eq!(schedule.doses.len(), 18);
        assert_eq!(at("BCG"), Some(0));
        assert_eq!(at("Penta2"), Some(70));
        assert_eq!(at("IPV1"), Some(98));
        assert_eq!(at("MenA"), Some(274));
        assert_eq!(at("MR2"), Some(456));
        assert_eq!(schedule.overdue_after_days, 28);
        assert_eq!(schedule.until_age_days, 1826);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let missing = Schedule::from_toml("name = \"x\"\n").expect_err("no doses");
        assert!(
            missing.to_string().contains("overdue_after_days"),
            "{missing}"
        );
        let twice = "name = \"x\"\noverdue_after_days = 28\nuntil_age_days = 1826\n\
                     [[dose]]\ncode = \"BCG\"\nage_days = 0\n[[dose]]\ncode = \"BCG\"\nage_days = 1\n";
        let error = Schedule::from_toml(twice).expect_err("duplicate code");
        assert!(error.to_string().contains("listed twice"), "{error}");
        let typo = "name = \"x\"\noverdue_after_days = 28\nuntil_age_days = 1826\n\
                    [[dose]]\ncode = \"BCG\"\nage_day = 0\n";
        let error = Schedule::from_toml(typo).expect_err("unknown key");
        assert!(error.to_string().contains("line"), "{error}");
    }
}
