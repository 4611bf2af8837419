//! Who syncs with whom: meetups (devices arrive, pair up as their session slots allow,
//! retry failed pairs with backoff, leave at closing time) and chance encounters.
//!
//! Discovery tells a device the scopes a peer offers and accepts and a change counter
//! for each: two devices open a session only if they share a scope and one of them
//! changed something in it since their last session that ended in sync.

use std::collections::{BTreeMap, BTreeSet};

use kafo_proto::default_share;

use super::{Engine, PairState};
use crate::collect::{MeetupRecord, Purpose};
use crate::links::Medium;
use crate::scenario::Attendee;
use crate::time::SimTime;

use super::connection::pair_key;

/// A meetup instance during the run.
#[derive(Debug, Default)]
pub(crate) struct MeetupState {
    pub(crate) open: bool,
    pub(crate) present: BTreeSet<usize>,
    /// For each attendee, the attendees it shares a scope with.
    candidates: BTreeMap<usize, Vec<usize>>,
    pub(crate) medium: Medium,
    link: usize,
    pub(crate) sessions_in_sync: u64,
    pub(crate) sessions_failed: u64,
    fresh_at_open: f64,
}

impl Engine<'_> {
    pub(crate) fn meetup_open(&mut self, index: usize) {
        let instance = self.plan.meetups[index].clone();
        let meetup = &self.scenario.meetups[instance.meetup];
        let areas: Vec<usize> = match instance.area {
            Some(area) => vec![area],
            None => (0..self.world.areas.len()).collect(),
        };
        let mut attendees: Vec<(usize, bool)> = Vec::new();
        for who in &meetup.who {
            for &area in &areas {
                let devices = &self.world.areas[area];
                match who {
                    Attendee::Chws => attendees.extend(devices.chws.iter().map(|chw| (*chw, true))),
                    Attendee::Supervisor => attendees.push((devices.supervisor, false)),
                    Attendee::Relay(name) => attendees.extend(
                        devices
                            .relays
                            .iter()
                            .filter(|relay| self.world.devices[**relay].name == *name)
                            .map(|relay| (*relay, false)),
                    ),
                    Attendee::District => {}
                }
            }
            if *who == Attendee::District
                && let Some(district) = self.world.district
            {
                attendees.push((district, false));
            }
        }
        attendees.sort_unstable();
        attendees.dedup_by_key(|(device, _)| *device);
        let candidates = self.candidates(&attendees);
        let link = self.link_index(&meetup.link);
        let spread = u64::from(meetup.arrive_within_minutes) * crate::time::MINUTE;
        let state = &mut self.meetups[index];
        state.open = true;
        state.candidates = candidates;
        state.link = link;
        state.fresh_at_open = self.collector.fresh_share(instance.area);
        for (device, walks_in) in attendees {
            let delay = if walks_in && spread > 0 {
                rand::Rng::random_range(&mut self.schedule_rng, 0..=spread)
            } else {
                0
            };
            self.schedule(
                self.now.plus(delay),
                super::Event::Arrive {
                    instance: index,
                    device,
                },
            );
        }
    }

    /// For each attendee, the others it shares a scope with, by discovery.
    fn candidates(&mut self, attendees: &[(usize, bool)]) -> BTreeMap<usize, Vec<usize>> {
        let mut candidates: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, &(a, _)) in attendees.iter().enumerate() {
            for &(b, _) in &attendees[i + 1..] {
                let (area_a, area_b) = (self.world.devices[a].area, self.world.devices[b].area);
                if let (Some(x), Some(y)) = (area_a, area_b)
                    && x != y
                {
                    continue;
                }
                if !self.pair(a, b).share.is_empty() {
                    candidates.entry(a).or_default().push(b);
                    candidates.entry(b).or_default().push(a);
                }
            }
        }
        candidates
    }

    pub(crate) fn arrive(&mut self, index: usize, device: usize) {
        let state = &mut self.meetups[index];
        if !state.open {
            return;
        }
        state.present.insert(device);
        self.states[device].at_meetup = Some(index);
        self.matchmake(index);
    }

    pub(crate) fn meetup_close(&mut self, index: usize) {
        // Closed first, so that the sessions cut below open no new ones.
        self.meetups[index].open = false;
        let conns: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, conn)| conn.purpose == Purpose::Meetup(index))
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.cut(conn, super::CutCause::MeetupClosed);
        }
        let state = &mut self.meetups[index];
        for device in std::mem::take(&mut state.present) {
            if self.states[device].at_meetup == Some(index) {
                self.states[device].at_meetup = None;
            }
        }
        let instance = &self.plan.meetups[index];
        let meetup = &self.scenario.meetups[instance.meetup];
        let record = MeetupRecord {
            name: meetup.name.clone(),
            area: match instance.area {
                Some(area) => self.world.areas[area].id.to_string(),
                None => "district".to_string(),
            },
            day: instance.window.from.day() + 1,
            fresh_at_open: state.fresh_at_open,
            fresh_at_close: self.collector.fresh_share(instance.area),
            sessions_in_sync: state.sessions_in_sync,
            sessions_failed: state.sessions_failed,
        };
        self.collector.meetups.push(record);
    }

    /// Opens sessions between present pairs that are due, as session slots allow.
    pub(crate) fn matchmake(&mut self, index: usize) {
        if !self.meetups[index].open {
            return;
        }
        let present: Vec<usize> = self.meetups[index].present.iter().copied().collect();
        let link = self.meetups[index].link;
        for a in present {
            let Some(peers) = self.meetups[index].candidates.get(&a).cloned() else {
                continue;
            };
            for b in peers {
                if !self.has_slot(a) {
                    break;
                }
                if !self.meetups[index].present.contains(&b) || !self.has_slot(b) {
                    continue;
                }
                if self.connected.contains(&pair_key(a, b)) || !self.due(a, b) {
                    continue;
                }
                self.open(a, b, link, Purpose::Meetup(index), None);
            }
        }
    }

    /// Two devices cross paths in the field.
    pub(crate) fn encounter(&mut self, a: usize, b: usize, contact: u64) {
        if !self.is_up(a) || !self.is_up(b) {
            return;
        }
        let counts = &mut self.collector.encounters;
        counts.total += 1;
        if self.pair(a, b).share.is_empty() {
            self.collector.encounters.nothing_to_share += 1;
            return;
        }
        if self.connected.contains(&pair_key(a, b)) || !self.has_slot(a) || !self.has_slot(b) {
            self.collector.encounters.busy += 1;
            return;
        }
        if !self.due(a, b) {
            self.collector.encounters.already_in_sync += 1;
            return;
        }
        self.collector.encounters.sessions += 1;
        let link = self
            .scenario
            .encounters
            .as_ref()
            .map_or(0, |encounters| self.link_index(&encounters.link));
        let until = self.now.plus(contact);
        self.open(a, b, link, Purpose::Encounter, Some(until));
    }

    fn has_slot(&self, device: usize) -> bool {
        self.is_up(device)
            && self.states[device].sessions.len() < self.world.devices[device].max_sessions
    }

    /// The pair's state, its share computed on first use.
    fn pair(&mut self, a: usize, b: usize) -> &mut PairState {
        let key = pair_key(a, b);
        let devices = &self.world.devices;
        self.pairs.entry(key).or_insert_with(|| {
            let (x, y) = (&devices[key.0].scopes, &devices[key.1].scopes);
            PairState {
                share: default_share(x, x, y, y),
                synced: None,
                failures: 0,
                retry_at: SimTime::ZERO,
            }
        })
    }

    /// Whether the pair shares a scope, is not waiting to retry, and one of them
    /// changed something shared since their last session in sync.
    fn due(&mut self, a: usize, b: usize) -> bool {
        let now = self.now;
        let pair = self.pair(a, b);
        if pair.share.is_empty() || now < pair.retry_at {
            return false;
        }
        let synced = pair.synced;
        synced != Some(self.pair_versions(pair_key(a, b)))
    }

    /// The change counters of a pair (in key order) over what they share.
    pub(crate) fn pair_versions(&self, key: (usize, usize)) -> (u64, u64) {
        let Some(pair) = self.pairs.get(&key) else {
            return (0, 0);
        };
        let version = |device: usize| {
            self.world.devices[device]
                .storage
                .version_within(&pair.share)
        };
        (version(key.0), version(key.1))
    }
}
