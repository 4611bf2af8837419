//! The invariants every run must hold, and the check of the final state.
//!
//! - No acknowledged visit is lost: every visit a CHW recorded is, at the end, on her
//!   phone and, if it was recorded before the last meetup opened, on every device whose
//!   scope covers its household.
//! - After the last meetup every device holds exactly what it should: every household
//!   of its scope (with the same heads as the household's phone) and nothing outside.
//! - No session exceeds the round-trip bound (checked as sessions end): the
//!   scenario's `max_round_trips`, plus one per 128 KiB the side received, because the
//!   protocol counts a turn each time a side sends (an ack) and then receives (the next
//!   batch), so a long transfer legitimately counts one per batch. Sessions whose
//!   stream a broken bridge corrupted (`stream_drop`, `stream_duplicate`) are exempt:
//!   the bound is a promise between honest peers over a reliable stream.
//! - The memory estimate of every device stays within its role's bound.

use std::collections::BTreeSet;
use std::fmt;

use kafo_model::HouseholdId;

use crate::collect::Collector;
use crate::time::SimTime;
use crate::world::{Role, World};

/// At most this many violations are kept (all are counted).
pub const MAX_KEPT: usize = 200;

/// An invariant that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A recorded visit is missing from a device that must hold it.
    #[error(
        "visit {visit} of household {household} was recorded at {recorded} and is missing on {device}"
    )]
    VisitLost {
        /// The visit id.
        visit: String,
        /// Its household.
        household: HouseholdId,
        /// The device.
        device: String,
        /// When it was recorded.
        recorded: SimTime,
    },
    /// A device holds a visit nobody recorded.
    #[error("{device} holds visit {visit} of household {household} that was never recorded")]
    UnknownVisit {
        /// The visit id.
        visit: String,
        /// Its household.
        household: HouseholdId,
        /// The device.
        device: String,
    },
    /// A household of the device's scope is missing.
    #[error("{device} lacks household {household} of its scope")]
    MissingHousehold {
        /// The household.
        household: HouseholdId,
        /// The device.
        device: String,
    },
    /// A device holds a household outside its scope.
    #[error("{device} holds household {household}, outside its scope")]
    OutsideScope {
        /// The household.
        household: HouseholdId,
        /// The device.
        device: String,
    },
    /// A device's copy of a household differs from the household's phone.
    #[error("{device} and {owner} hold different versions of household {household}")]
    Diverged {
        /// The household.
        household: HouseholdId,
        /// The device.
        device: String,
        /// The household's CHW phone.
        owner: String,
    },
    /// A planned visit was never recorded (its phone was down until the end).
    #[error("visit {visit} was never recorded")]
    NeverRecorded {
        /// The visit id.
        visit: String,
    },
    /// A session took more round trips than the bound.
    #[error(
        "session of {device} with {peer} opened at {opened} took {round_trips} round trips, over the bound of {bound}"
    )]
    RoundTrips {
        /// The side that counted them.
        device: String,
        /// The other side.
        peer: String,
        /// When the connection opened.
        opened: SimTime,
        /// Round trips counted.
        round_trips: u32,
        /// The bound.
        bound: u32,
    },
    /// A device's memory estimate exceeded its role's bound.
    #[error(
        "{device} peaked at {peak} bytes (documents and session state), over the bound of {bound}"
    )]
    Memory {
        /// The device.
        device: String,
        /// Its peak estimate.
        peak: u64,
        /// The bound.
        bound: u64,
    },
    /// The run did not end: more events than the bound.
    #[error("the run did not settle after {events} events")]
    Livelock {
        /// Events processed.
        events: u64,
    },
}

/// Violations found, the first [`MAX_KEPT`] kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    /// The first ones.
    pub kept: Vec<Violation>,
    /// How many in all.
    pub count: u64,
}

impl Violations {
    /// Notes one.
    pub fn push(&mut self, violation: Violation) {
        self.count += 1;
        if self.kept.len() < MAX_KEPT {
            self.kept.push(violation);
        }
    }

    /// Whether every invariant held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for violation in &self.kept {
            writeln!(f, "  - {violation}")?;
        }
        if self.count > self.kept.len() as u64 {
            writeln!(f, "  ... and {} more", self.count - self.kept.len() as u64)?;
        }
        Ok(())
    }
}

/// Checks the final state: each device against its scope and the visits recorded.
pub fn check_final_state(
    world: &World,
    collector: &Collector,
    cutoff: SimTime,
    violations: &mut Violations,
) {
    let households = world.households.len();
    // Visits recorded before the last meetup opened, and after, per household.
    let mut due: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); households];
    let mut late: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); households];
    for (index, planned) in world.visits.iter().enumerate() {
        let id = planned.visit.id.as_str();
        match collector.recorded.get(index).copied().flatten() {
            Some(at) if at <= cutoff => due[planned.household].insert(id),
            Some(_) => late[planned.household].insert(id),
            None => {
                violations.push(Violation::NeverRecorded {
                    visit: id.to_string(),
                });
                false
            }
        };
    }
    let mut by_owner: Vec<Vec<usize>> = vec![Vec::new(); world.devices.len()];
    let mut by_area: Vec<Vec<usize>> = vec![Vec::new(); world.areas.len()];
    for (index, household) in world.households.iter().enumerate() {
        by_owner[household.owner].push(index);
        by_area[household.area].push(index);
    }
    let all: Vec<usize> = (0..households).collect();
    for (device_index, device) in world.devices.iter().enumerate() {
        let expected: &[usize] = match (device.role, device.area) {
            (Role::Chw, _) => &by_owner[device_index],
            (Role::Supervisor | Role::Relay, Some(area)) => &by_area[area],
            (Role::District, _) => &all,
            (_, None) => &[],
        };
        let store = device.storage.memory();
        let mut expected_ids = BTreeSet::new();
        for &index in expected {
            let household = &world.households[index];
            expected_ids.insert(&household.id);
            let Some(heads) = store.heads(&household.id) else {
                violations.push(Violation::MissingHousehold {
                    household: household.id.clone(),
                    device: device.name.clone(),
                });
                continue;
            };
            let held = store.visits(&household.id);
            let is_owner = household.owner == device_index;
            for visit in due[index]
                .iter()
                .chain(late[index].iter().filter(|_| is_owner))
            {
                if !held.contains(*visit) {
                    let planned = world.visit_index.get(*visit).copied();
                    violations.push(Violation::VisitLost {
                        visit: (*visit).to_string(),
                        household: household.id.clone(),
                        device: device.name.clone(),
                        recorded: planned
                            .and_then(|planned| collector.recorded[planned])
                            .unwrap_or_default(),
                    });
                }
            }
            for visit in &held {
                if !due[index].contains(visit.as_str()) && !late[index].contains(visit.as_str()) {
                    violations.push(Violation::UnknownVisit {
                        visit: visit.clone(),
                        household: household.id.clone(),
                        device: device.name.clone(),
                    });
                }
            }
            let owner = &world.devices[household.owner];
            if !is_owner
                && late[index].is_empty()
                && owner.storage.memory().heads(&household.id) != Some(heads)
            {
                violations.push(Violation::Diverged {
                    household: household.id.clone(),
                    device: device.name.clone(),
                    owner: owner.name.clone(),
                });
            }
        }
        for id in store.ids() {
            if !expected_ids.contains(id) {
                violations.push(Violation::OutsideScope {
                    household: id.clone(),
                    device: device.name.clone(),
                });
            }
        }
    }
}
