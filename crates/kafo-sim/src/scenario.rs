//! Scenarios: what a TOML file in `simulations/` describes, parsed and checked.
//!
//! A scenario names the program (areas, CHWs, households, visit rate), the calendar
//! (start, days, working days, field hours), the devices beyond CHWs and supervisors
//! (relays, a district laptop), the link profiles, the meetups, chance encounters,
//! faults and the invariants' bounds. `simulations/README.md` documents every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::civil::{Date, Weekday};
use serde::Deserialize;

use crate::links::{LinkProfile, LinkSpec};
use crate::time::{Hours, ParseTimeError, SimTime, TimeOfDay, parse_weekday};

/// A scenario, checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (`sikoro-week`).
    pub name: String,
    /// One paragraph on what it shows.
    pub description: String,
    /// The seed `kafo-sim run` uses when none is given.
    pub seed: u64,
    /// The seeds CI runs, at [`Scenario::ci_scale`].
    pub ci_seeds: Vec<u64>,
    /// The reduced scale CI runs.
    pub ci_scale: f64,
    /// The program at full scale.
    pub program: Program,
    /// The calendar.
    pub calendar: Calendar,
    /// Devices and their session limits.
    pub devices: Devices,
    /// Link profiles by name.
    pub links: BTreeMap<String, LinkProfile>,
    /// Scheduled meetups.
    pub meetups: Vec<Meetup>,
    /// Chance encounters in the field, if any.
    pub encounters: Option<Encounters>,
    /// Crashes.
    pub faults: Faults,
    /// Bounds the invariants check.
    pub invariants: Invariants,
}

/// The health program simulated.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Health areas, each with its own supervisor.
    pub areas: u32,
    /// CHWs in each area.
    pub chws_per_area: u32,
    /// Households each CHW follows.
    pub households_per_chw: u32,
    /// Visits each CHW makes in a year (the generator's rate: 2,500).
    pub visits_per_chw_per_year: u32,
}

impl Program {
    /// The program at `scale`: CHWs per area and households per CHW multiplied by it,
    /// keeping at least 2 CHWs per area and 8 households per CHW.
    pub fn scaled(&self, scale: f64) -> Self {
        let times = |count: u32, min: u32| -> u32 {
            let scaled = (f64::from(count) * scale).round();
            (scaled.clamp(0.0, f64::from(count)) as u32).max(min.min(count))
        };
        Self {
            chws_per_area: times(self.chws_per_area, 2),
            households_per_chw: times(self.households_per_chw, 8),
            ..*self
        }
    }
}

/// When things happen.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// The first day.
    pub start: Date,
    /// Days simulated; the last meetup ends on the last one.
    pub days: u32,
    /// Days CHWs work in the field.
    pub working_days: Vec<Weekday>,
    /// When they are in the field on a working day.
    pub field_hours: Vec<Hours>,
    /// Minutes to go to or come back from a meetup.
    pub travel_minutes: u32,
    /// Days a supervisor spends in the field with her CHWs (chance encounters).
    pub supervisor_field_days: Vec<Weekday>,
}

/// Device kinds beyond CHW phones and supervisor laptops, and session limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    /// Sessions a CHW phone runs at once.
    pub chw_sessions: usize,
    /// Sessions a supervisor laptop runs at once.
    pub supervisor_sessions: usize,
    /// Sessions a relay phone runs at once.
    #[serde(default = "two")]
    pub relay_sessions: usize,
    /// Sessions the district laptop runs at once.
    #[serde(default = "sixteen")]
    pub district_sessions: usize,
    /// Whether a district laptop holds every area.
    #[serde(default)]
    pub district_laptop: bool,
    /// Relay phones: they carry a whole area between devices that never meet.
    #[serde(default)]
    pub relays: Vec<Relay>,
}

fn two() -> usize {
    2
}

fn sixteen() -> usize {
    16
}

/// A relay phone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    /// Its name, used in meetups' `who`.
    pub name: String,
    /// The area it carries (1-based).
    pub area: u32,
    /// Whether it walks the area's field on working days (chance encounters).
    #[serde(default)]
    pub in_field: bool,
}

/// A scheduled gathering where devices sync over one link profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Meetup {
    /// Its name.
    pub name: String,
    /// One meetup per area, or one for the whole district.
    pub per: MeetupPer,
    /// Who attends.
    pub who: Vec<Attendee>,
    /// Days (1-based) it takes place.
    pub days: Vec<u32>,
    /// When it opens and closes.
    pub hours: Hours,
    /// Attendees arrive within this many minutes of the opening.
    pub arrive_within_minutes: u32,
    /// The link profile devices use there.
    pub link: String,
}

/// The reach of a meetup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeetupPer {
    /// One in each area, for that area's devices.
    Area,
    /// One for every area's devices.
    District,
}

/// Who attends a meetup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attendee {
    /// The CHWs.
    Chws,
    /// The supervisor(s).
    Supervisor,
    /// The district laptop.
    District,
    /// A relay, by name.
    Relay(String),
}

/// Chance encounters between devices in the same area's field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encounters {
    /// The link profile of an encounter.
    pub link: String,
    /// Expected encounters of one pair of devices in one day spent in the same field.
    pub per_pair_per_day: f64,
    /// How long two devices stay in range, in minutes (uniform between the two).
    pub contact_minutes: [f64; 2],
    /// CHWs a supervisor in the field meets on purpose each day (supervision visits),
    /// on top of chance.
    #[serde(default)]
    pub supervision_visits_per_day: u32,
}

/// Crashes and restarts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Expected crashes of one device per hour (at any time of day).
    #[serde(default)]
    pub crash_per_device_hour: f64,
    /// Probability that a device crashes during a given session (each side drawn
    /// apart), at a moment within `crash_within_seconds` of the connection's set-up.
    #[serde(default)]
    pub crash_per_session: f64,
    /// See `crash_per_session`.
    #[serde(default = "ten")]
    pub crash_within_seconds: f64,
    /// Minutes a crashed device takes to come back (uniform between the two).
    #[serde(default)]
    pub reboot_minutes: [f64; 2],
}

fn ten() -> f64 {
    10.0
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            crash_per_device_hour: 0.0,
            crash_per_session: 0.0,
            crash_within_seconds: ten(),
            reboot_minutes: [0.0, 0.0],
        }
    }
}

/// The bounds of the invariants.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariants {
    /// Round trips one side of one session may take.
    pub max_round_trips: u32,
    /// Estimated memory per device, in MB, by role.
    pub max_memory_mb: RoleBounds,
}

/// One bound per device role.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBounds {
    /// A CHW phone.
    pub chw: f64,
    /// A supervisor laptop.
    pub supervisor: f64,
    /// A relay phone.
    #[serde(default = "unbounded")]
    pub relay: f64,
    /// The district laptop.
    #[serde(default = "unbounded")]
    pub district: f64,
}

fn unbounded() -> f64 {
    f64::INFINITY
}

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The text is not a scenario in TOML.
    #[error("scenario is not valid TOML for a scenario: {0}")]
    Toml(#[from] toml::de::Error),
    /// A time, span of hours or weekday is malformed.
    #[error("scenario has a bad time: {0}")]
    Time(#[from] ParseTimeError),
    /// The start date is malformed.
    #[error("scenario start {text:?} is not a date YYYY-MM-DD")]
    Start {
        /// What was given.
        text: String,
    },
    /// A value is out of its range or a reference is dangling.
    #[error("scenario key {key} is invalid: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    description: String,
    seed: u64,
    ci_seeds: Vec<u64>,
    ci_scale: f64,
    program: Program,
    calendar: CalendarFile,
    devices: Devices,
    links: BTreeMap<String, LinkSpec>,
    #[serde(default)]
    meetups: Vec<MeetupFile>,
    encounters: Option<Encounters>,
    #[serde(default)]
    faults: Faults,
    invariants: Invariants,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    start: String,
    days: u32,
    working_days: Vec<String>,
    field_hours: Vec<String>,
    #[serde(default)]
    travel_minutes: u32,
    #[serde(default)]
    supervisor_field_days: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeetupFile {
    name: String,
    per: MeetupPer,
    who: Vec<String>,
    days: Vec<u32>,
    hours: String,
    #[serde(default)]
    arrive_within_minutes: u32,
    link: String,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, LoadScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and checks a scenario.
    pub fn parse(text: &str) -> Result<Self, LoadScenarioError> {
        let file: ScenarioFile = toml::from_str(text)?;
        let calendar = Calendar {
            start: file
                .calendar
                .start
                .parse()
                .map_err(|_| LoadScenarioError::Start {
                    text: file.calendar.start.clone(),
                })?,
            days: file.calendar.days,
            working_days: weekdays(&file.calendar.working_days)?,
            field_hours: file
                .calendar
                .field_hours
                .iter()
                .map(|hours| hours.parse())
                .collect::<Result<_, _>>()?,
            travel_minutes: file.calendar.travel_minutes,
            supervisor_field_days: weekdays(&file.calendar.supervisor_field_days)?,
        };
        let links = file
            .links
            .iter()
            .map(|(name, spec)| Ok((name.clone(), spec.resolve(&format!("links.{name}"))?)))
            .collect::<Result<BTreeMap<_, _>, LoadScenarioError>>()?;
        let meetups = file
            .meetups
            .into_iter()
            .map(|meetup| {
                Ok(Meetup {
                    hours: meetup.hours.parse()?,
                    who: meetup.who.iter().map(|who| attendee(who)).collect(),
                    name: meetup.name,
                    per: meetup.per,
                    days: meetup.days,
                    arrive_within_minutes: meetup.arrive_within_minutes,
                    link: meetup.link,
                })
            })
            .collect::<Result<Vec<_>, LoadScenarioError>>()?;
        let scenario = Self {
            name: file.name,
            description: file.description,
            seed: file.seed,
            ci_seeds: file.ci_seeds,
            ci_scale: file.ci_scale,
            program: file.program,
            calendar,
            devices: file.devices,
            links,
            meetups,
            encounters: file.encounters,
            faults: file.faults,
            invariants: file.invariants,
        };
        scenario.check()?;
        Ok(scenario)
    }

    /// When the last meetup opens: recording has stopped, and what happens from then
    /// on decides the final state.
    pub fn last_meetup_opens(&self) -> SimTime {
        self.last_meetup_start()
            .map_or(SimTime::ZERO, |(day, time)| time.on(day.saturating_sub(1)))
    }

    /// The end of the last meetup: the simulation's horizon.
    pub fn last_meetup_end(&self) -> Option<(u32, TimeOfDay)> {
        self.meetups
            .iter()
            .flat_map(|meetup| meetup.days.iter().map(|day| (*day, meetup.hours.to)))
            .max()
    }

    /// The start of the last meetup (recording stops before it).
    pub fn last_meetup_start(&self) -> Option<(u32, TimeOfDay)> {
        self.meetups
            .iter()
            .flat_map(|meetup| meetup.days.iter().map(|day| (*day, meetup.hours.from)))
            .max()
    }

    fn check(&self) -> Result<(), LoadScenarioError> {
        let invalid = |key: &str, reason| {
            Err(LoadScenarioError::Invalid {
                key: key.to_string(),
                reason,
            })
        };
        let program = &self.program;
        if program.areas == 0 || program.areas > 50 {
            return invalid("program.areas", "must be 1 to 50");
        }
        if program.chws_per_area == 0 || program.households_per_chw == 0 {
            return invalid("program", "needs at least one chw and one household");
        }
        if !(self.ci_scale > 0.0 && self.ci_scale <= 1.0) {
            return invalid("ci_scale", "must be in (0, 1]");
        }
        if self.ci_seeds.is_empty() {
            return invalid("ci_seeds", "must list at least one seed");
        }
        if self.calendar.days == 0 || self.calendar.days > 366 {
            return invalid("calendar.days", "must be 1 to 366");
        }
        if self.calendar.working_days.is_empty() || self.calendar.field_hours.is_empty() {
            return invalid("calendar", "needs working days and field hours");
        }
        if self.meetups.is_empty() {
            return invalid(
                "meetups",
                "at least one meetup is needed: the last one ends the run",
            );
        }
        let relay_names: Vec<&str> = self
            .devices
            .relays
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        for relay in &self.devices.relays {
            if relay.area == 0 || relay.area > program.areas {
                return invalid(
                    "devices.relays.area",
                    "must name an area, 1 to program.areas",
                );
            }
            if relay_names
                .iter()
                .filter(|name| **name == relay.name)
                .count()
                > 1
            {
                return invalid("devices.relays.name", "names must be unique");
            }
        }
        let sessions = [
            self.devices.chw_sessions,
            self.devices.supervisor_sessions,
            self.devices.relay_sessions,
            self.devices.district_sessions,
        ];
        if sessions.contains(&0) {
            return invalid("devices", "every device must allow at least one session");
        }
        for meetup in &self.meetups {
            if !self.links.contains_key(&meetup.link) {
                return invalid("meetups.link", "must name a profile under [links]");
            }
            if meetup
                .days
                .iter()
                .any(|day| *day == 0 || *day > self.calendar.days)
            {
                return invalid("meetups.days", "must be 1 to calendar.days");
            }
            for who in &meetup.who {
                match who {
                    Attendee::Relay(name) if !relay_names.contains(&name.as_str()) => {
                        return invalid("meetups.who", "names a relay that is not declared");
                    }
                    Attendee::District if !self.devices.district_laptop => {
                        return invalid("meetups.who", "district needs devices.district_laptop");
                    }
                    _ => {}
                }
            }
        }
        if let Some(encounters) = &self.encounters {
            if !self.links.contains_key(&encounters.link) {
                return invalid("encounters.link", "must name a profile under [links]");
            }
            let [low, high] = encounters.contact_minutes;
            if !(encounters.per_pair_per_day >= 0.0 && low > 0.0 && low <= high) {
                return invalid(
                    "encounters",
                    "rate must be >= 0 and contact minutes 0 < low <= high",
                );
            }
        }
        let faults = &self.faults;
        let [low, high] = faults.reboot_minutes;
        if !(faults.crash_per_device_hour >= 0.0 && low >= 0.0 && low <= high) {
            return invalid(
                "faults",
                "rate must be >= 0 and reboot minutes 0 <= low <= high",
            );
        }
        if !((0.0..=1.0).contains(&faults.crash_per_session) && faults.crash_within_seconds > 0.0) {
            return invalid(
                "faults",
                "crash_per_session must be in [0, 1], crash_within_seconds > 0",
            );
        }
        let crashes = faults.crash_per_device_hour > 0.0 || faults.crash_per_session > 0.0;
        if crashes && high <= 0.0 {
            return invalid(
                "faults.reboot_minutes",
                "crashing devices need a reboot time",
            );
        }
        Ok(())
    }
}

fn weekdays(texts: &[String]) -> Result<Vec<Weekday>, ParseTimeError> {
    texts.iter().map(|text| parse_weekday(text)).collect()
}

fn attendee(text: &str) -> Attendee {
    match text {
        "chws" => Attendee::Chws,
        "supervisor" => Attendee::Supervisor,
        "district" => Attendee::District,
        relay => Attendee::Relay(relay.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        name = "tiny"
        description = "two chws"
        seed = 1
        ci_seeds = [1]
        ci_scale = 0.5
        [program]
        areas = 1
        chws_per_area = 4
        households_per_chw = 20
        visits_per_chw_per_year = 2500
        [calendar]
        start = "2025-03-03"
        days = 5
        working_days = ["mon", "tue", "wed", "thu", "fri"]
        field_hours = ["08:00-13:00"]
        [devices]
        chw_sessions = 1
        supervisor_sessions = 4
        [links.wifi]
        kind = "wifi"
        [[meetups]]
        name = "weekly"
        per = "area"
        who = ["chws", "supervisor"]
        days = [5]
        hours = "14:00-17:00"
        link = "wifi"
        [invariants]
        max_round_trips = 20
        max_memory_mb = { chw = 4, supervisor = 64 }
    "#;

    #[test]
    fn a_minimal_scenario_parses_and_scales() {
        let scenario = Scenario::parse(MINIMAL).expect("valid scenario");
        assert_eq!(scenario.last_meetup_end().map(|(day, _)| day), Some(5));
        let half = scenario.program.scaled(0.5);
        assert_eq!((half.chws_per_area, half.households_per_chw), (2, 10));
        let tiny = scenario.program.scaled(0.01);
        assert_eq!((tiny.chws_per_area, tiny.households_per_chw), (2, 8));
        assert_eq!(scenario.program.scaled(1.0), scenario.program);
    }

    #[test]
    fn dangling_references_and_bad_values_are_refused() {
        let cases = [
            (r#"link = "wifi""#, r#"link = "lora""#),
            ("days = [5]", "days = [6]"),
            (
                r#"who = ["chws", "supervisor"]"#,
                r#"who = ["chws", "relay-9"]"#,
            ),
            ("areas = 1", "areas = 0"),
            (r#""08:00-13:00""#, r#""13:00-08:00""#),
            ("chw_sessions = 1", "chw_sessions = 0"),
        ];
        for (from, to) in cases {
            let text = MINIMAL.replacen(from, to, 1);
            assert!(Scenario::parse(&text).is_err(), "{to} accepted");
        }
        assert!(Scenario::parse(&MINIMAL.replace("seed = 1", "seed = 1\nsurprise = 2")).is_err());
    }
}
