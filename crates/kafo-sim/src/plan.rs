//! The calendar of a run: which days are worked, when each area's CHWs are in the
//! field, and every meetup instance with its opening and closing.
//!
//! Field time is the working day's field hours minus the meetups the area's CHWs attend
//! (with travel on either side), and nothing after the last meetup starts: recording
//! stops before the last meetup, so that after it every device can hold everything.

use jiff::civil::Date;

use crate::scenario::{Attendee, MeetupPer, Scenario};
use crate::time::{Interval, MINUTE, SimTime, subtract};

/// One meetup on one day, in one area or the whole district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetupInstance {
    /// Index of the meetup in the scenario.
    pub meetup: usize,
    /// The area (0-based) for a meetup per area; `None` for the district.
    pub area: Option<usize>,
    /// When it opens and closes.
    pub window: Interval,
}

/// The calendar of a run.
#[derive(Debug, Clone)]
pub struct CalendarPlan {
    /// The first day.
    pub start: Date,
    /// Days simulated.
    pub days: u32,
    /// For each day, whether it is a working day.
    pub working: Vec<bool>,
    /// For each day, whether supervisors are in the field.
    pub supervising: Vec<bool>,
    /// For each area, for each day, when its CHWs are in the field.
    pub field: Vec<Vec<Vec<Interval>>>,
    /// Every meetup instance, by opening time.
    pub meetups: Vec<MeetupInstance>,
    /// When the last meetup closes: the run's horizon.
    pub horizon: SimTime,
    /// When the last meetup opens: no visit is recorded after it.
    pub cutoff: SimTime,
}

/// Why a calendar cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A day of the period is not a valid date.
    #[error("day {day} of the period is out of the calendar's range")]
    DateOutOfRange {
        /// The day (0-based).
        day: u32,
    },
    /// An area has no field time at all: its visits could never be recorded.
    #[error("area {area} has no field time before the last meetup")]
    NoFieldTime {
        /// The area (0-based).
        area: usize,
    },
}

impl CalendarPlan {
    /// Plans the calendar of `scenario` for `areas` areas.
    pub fn new(scenario: &Scenario, areas: usize) -> Result<Self, PlanError> {
        let calendar = &scenario.calendar;
        let mut working = Vec::new();
        let mut supervising = Vec::new();
        for day in 0..calendar.days {
            let date = calendar
                .start
                .checked_add(jiff::Span::new().days(i64::from(day)))
                .map_err(|_| PlanError::DateOutOfRange { day })?;
            working.push(calendar.working_days.contains(&date.weekday()));
            supervising.push(calendar.supervisor_field_days.contains(&date.weekday()));
        }
        let mut meetups = Vec::new();
        for (index, meetup) in scenario.meetups.iter().enumerate() {
            for day in &meetup.days {
                let day = day.saturating_sub(1);
                let window = Interval {
                    from: meetup.hours.from.on(day),
                    to: meetup.hours.to.on(day),
                };
                match meetup.per {
                    MeetupPer::Area => meetups.extend((0..areas).map(|area| MeetupInstance {
                        meetup: index,
                        area: Some(area),
                        window,
                    })),
                    MeetupPer::District => meetups.push(MeetupInstance {
                        meetup: index,
                        area: None,
                        window,
                    }),
                }
            }
        }
        meetups.sort_by_key(|instance| (instance.window.from, instance.meetup, instance.area));
        let horizon = meetups
            .iter()
            .map(|instance| instance.window.to)
            .max()
            .unwrap_or(SimTime::day_start(calendar.days));
        let cutoff = meetups
            .iter()
            .map(|instance| instance.window.from)
            .max()
            .unwrap_or(horizon);
        let travel = u64::from(calendar.travel_minutes) * MINUTE;
        let mut field = vec![vec![Vec::new(); calendar.days as usize]; areas];
        for (area, days) in field.iter_mut().enumerate() {
            for (day, intervals) in days.iter_mut().enumerate() {
                if !working[day] {
                    continue;
                }
                let day = day as u32;
                *intervals = calendar
                    .field_hours
                    .iter()
                    .map(|hours| Interval {
                        from: hours.from.on(day),
                        to: hours.to.on(day),
                    })
                    .collect();
                for instance in &meetups {
                    let chws_attend = scenario.meetups[instance.meetup]
                        .who
                        .contains(&Attendee::Chws);
                    let here = instance.area.is_none_or(|other| other == area);
                    if chws_attend && here {
                        let away = Interval {
                            from: SimTime(instance.window.from.0.saturating_sub(travel)),
                            to: instance.window.to.plus(travel),
                        };
                        *intervals = subtract(intervals, away);
                    }
                }
                let after_cutoff = Interval {
                    from: SimTime(cutoff.0.saturating_sub(travel)),
                    to: SimTime(u64::MAX),
                };
                *intervals = subtract(intervals, after_cutoff);
            }
            if days.iter().all(Vec::is_empty) {
                return Err(PlanError::NoFieldTime { area });
            }
        }
        Ok(Self {
            start: calendar.start,
            days: calendar.days,
            working,
            supervising,
            field,
            meetups,
            horizon,
            cutoff,
        })
    }

    /// Working days in the period.
    pub fn working_days(&self) -> u32 {
        self.working.iter().filter(|working| **working).count() as u32
    }

    /// The day with field time in `area` nearest to `day`: that day, else the next one,
    /// else the previous one.
    pub fn field_day(&self, area: usize, day: u32) -> Option<u32> {
        let days = self.field.get(area)?;
        let has_time = |day: u32| days.get(day as usize).is_some_and(|d| !d.is_empty());
        let day = day.min(self.days.saturating_sub(1));
        (day..self.days)
            .find(|day| has_time(*day))
            .or_else(|| (0..day).rev().find(|day| has_time(*day)))
    }

    /// The instant `fraction` (0 to 1) of the way through `area`'s field time on `day`.
    pub fn field_instant(&self, area: usize, day: u32, fraction: f64) -> Option<SimTime> {
        let intervals = self.field.get(area)?.get(day as usize)?;
        let total: u64 = intervals.iter().map(Interval::len).sum();
        if total == 0 {
            return None;
        }
        let mut offset = ((total as f64) * fraction.clamp(0.0, 1.0)) as u64;
        for interval in intervals {
            if offset < interval.len() {
                return Some(interval.from.plus(offset));
            }
            offset -= interval.len();
        }
        intervals
            .last()
            .map(|last| SimTime(last.to.0.saturating_sub(1)))
    }

    /// Seconds since the Unix epoch at a virtual instant (for change timestamps).
    pub fn unix_seconds(&self, at: SimTime) -> i64 {
        let epoch = Date::constant(1970, 1, 1);
        let start = self.start.duration_since(epoch).as_secs();
        start + (at.0 / crate::time::SECOND) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR;

    fn scenario() -> Scenario {
        let text = r#"
            name = "t"
            description = "t"
            seed = 1
            ci_seeds = [1]
            ci_scale = 0.5
            [program]
            areas = 2
            chws_per_area = 2
            households_per_chw = 10
            visits_per_chw_per_year = 2500
            [calendar]
            start = "2025-03-03"
            days = 5
            working_days = ["mon", "tue", "wed", "thu", "fri"]
            field_hours = ["08:00-13:00", "15:00-17:00"]
            travel_minutes = 30
            [devices]
            chw_sessions = 1
            supervisor_sessions = 4
            [links.wifi]
            kind = "wifi"
            [[meetups]]
            name = "weekly"
            per = "area"
            who = ["chws", "supervisor"]
            days = [3, 5]
            hours = "10:00-12:00"
            link = "wifi"
            [invariants]
            max_round_trips = 20
            max_memory_mb = { chw = 4, supervisor = 64 }
        "#;
        Scenario::parse(text).expect("valid")
    }

    #[test]
    fn field_time_skips_meetups_and_stops_before_the_last() {
        let plan = CalendarPlan::new(&scenario(), 2).expect("plannable");
        assert_eq!(plan.meetups.len(), 4);
        assert_eq!(plan.working_days(), 5);
        let hours = |day: usize| {
            plan.field[0][day].iter().map(Interval::len).sum::<u64>() as f64 / HOUR as f64
        };
        assert_eq!(hours(0), 7.0);
        // Day 3: away 09:30 to 12:30.
        assert_eq!(hours(2), 4.0);
        // Day 5: only 08:00 to 09:30, before the last meetup.
        assert_eq!(hours(4), 1.5);
        assert_eq!(plan.cutoff, SimTime::day_start(4).plus(10 * HOUR));
        let at = plan.field_instant(0, 2, 0.5).expect("field time");
        assert!(at >= SimTime::day_start(2).plus(8 * HOUR));
        assert_eq!(plan.field_day(0, 9), Some(4));
    }
}
