//! Property: over random chains of random enrolments, `Chain::verify` accepts
//! exactly the chains that narrow (checked against an independent model of
//! scopes as sets of households), `Enrolment::enrol` issues exactly the
//! narrowing steps, and a leaf never reads a household one of its ancestors cannot.

mod common;

use std::collections::BTreeSet;

use common::{Device, NOW};
use kafo_trust::{Certificate, Chain, ProgramKey, Role, Scopes};
use proptest::prelude::*;

const HOUR: u64 = 3600;
/// Scopes the generator draws from. `c9` and area `z` are never named, so an
/// area scope is never equal to a union of CHW scopes.
const POOL: [&str; 7] = ["a", "b", "a/c1", "a/c2", "a/c3", "b/c1", "b/c2"];
const AREAS: [&str; 3] = ["a", "b", "z"];
const CHWS: [&str; 4] = ["c1", "c2", "c3", "c9"];

#[derive(Debug, Clone)]
struct Level {
    role: Role,
    scopes: Option<Vec<usize>>, // None = All
    not_before: u64,
    not_after: u64,
}

/// A level as drawn: when `narrow`, it is bent to fit inside its parent (so
/// that long legal chains are common), otherwise used as is.
#[derive(Debug, Clone)]
struct Draw {
    level: Level,
    narrow: bool,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        0..4usize,
        prop_oneof![1 => Just(None), 4 => prop::collection::vec(0..POOL.len(), 0..4).prop_map(Some)],
        0..20u64,
        0..24u64,
        prop::bool::weighted(0.9),
    )
        .prop_map(|(role, scopes, start, end, narrow)| Draw {
            level: Level {
                role: Role::ALL[role],
                scopes,
                not_before: NOW - 10 * HOUR + start * HOUR,
                not_after: NOW - 10 * HOUR + end * HOUR,
            },
            narrow,
        })
}

/// Resolves draws into levels, bending the `narrow` ones inside their parent.
fn resolve(draws: &[Draw]) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    for (i, draw) in draws.iter().enumerate() {
        let mut level = draw.level.clone();
        let issues_next = i + 1 < draws.len();
        if draw.narrow && issues_next && !matches!(level.role, Role::Admin | Role::Supervisor) {
            level.role = Role::Supervisor;
        }
        if draw.narrow {
            match levels.last() {
                None => {
                    if level.role == Role::Chw || level.role == Role::Relay {
                        level.role = Role::Supervisor;
                    }
                    level.not_after = level.not_after.max(level.not_before);
                }
                Some(parent) => {
                    if !may_grant(parent.role, level.role) {
                        level.role = Role::Supervisor;
                    }
                    if parent.scopes.is_some() {
                        let allowed = households(parent);
                        let list = level.scopes.clone().unwrap_or_default();
                        level.scopes = Some(
                            list.into_iter()
                                .filter(|i| {
                                    let single = Level {
                                        scopes: Some(vec![*i]),
                                        ..level.clone()
                                    };
                                    households(&single).is_subset(&allowed)
                                })
                                .collect(),
                        );
                    }
                    level.not_before = level.not_before.max(parent.not_before);
                    level.not_after = level.not_after.min(parent.not_after).max(level.not_before);
                }
            }
        }
        levels.push(level);
    }
    levels
}

fn to_scopes(level: &Level) -> Scopes {
    match &level.scopes {
        None => Scopes::All,
        Some(list) => Scopes::only(list.iter().map(|i| POOL[*i].parse().expect("valid scope"))),
    }
}

/// The model: a scope set as the households of a finite universe it contains.
fn households(level: &Level) -> BTreeSet<(&'static str, &'static str)> {
    let universe = AREAS
        .iter()
        .flat_map(|a| CHWS.iter().map(move |c| (*a, *c)));
    match &level.scopes {
        None => universe.collect(),
        Some(list) => universe
            .filter(|(area, chw)| {
                list.iter().any(|i| match POOL[*i].split_once('/') {
                    None => POOL[*i] == *area,
                    Some((a, c)) => a == *area && c == *chw,
                })
            })
            .collect(),
    }
}

fn may_grant(issuer: Role, role: Role) -> bool {
    match issuer {
        Role::Admin => true,
        Role::Supervisor => role != Role::Admin,
        Role::Chw | Role::Relay => false,
    }
}

/// Whether `child` is a legal step below `parent` in the model.
fn step_narrows(parent: &Level, child: &Level) -> bool {
    child.not_before <= child.not_after
        && may_grant(parent.role, child.role)
        && households(child).is_subset(&households(parent))
        && child.not_before >= parent.not_before
        && child.not_after <= parent.not_after
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_accepts_exactly_the_chains_that_narrow(
        draws in prop::collection::vec(draw(), 1..=5),
        now_offset in 0..26u64,
        in_window in prop::bool::weighted(0.6),
    ) {
        let levels = resolve(&draws);
        let program = ProgramKey::generate();
        let devices: Vec<Device> = levels.iter().map(|_| Device::new()).collect();
        let last = &levels[levels.len() - 1];
        let now = if in_window && last.not_before <= last.not_after {
            last.not_before + (now_offset * HOUR) % (last.not_after - last.not_before + 1)
        } else {
            NOW - 11 * HOUR + now_offset * HOUR
        };

        let mut certificates = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            let scopes = to_scopes(level);
            let certificate = if i == 0 {
                program.sign_certificate(devices[0].key, level.role, scopes, level.not_before, level.not_after)
            } else {
                Certificate::sign(
                    &devices[i - 1].keypair,
                    program.id(),
                    devices[i].key,
                    level.role,
                    scopes,
                    level.not_before,
                    level.not_after,
                )
            };
            // Issuing through the API succeeds exactly for legal steps, and signs the same certificate.
            if i > 0 {
                let prefix = Chain::from_certificates(certificates.clone()).expect("well-formed");
                if let Ok(issuer) = prefix.verify_ignoring_time(&program.id()) {
                    let issued = issuer.enrol(
                        &devices[i - 1].keypair,
                        devices[i].key,
                        level.role,
                        to_scopes(level),
                        level.not_before,
                        level.not_after,
                    );
                    prop_assert_eq!(issued.is_ok(), step_narrows(&levels[i - 1], level), "step {}", i);
                    if let Ok(chain) = issued {
                        prop_assert_eq!(chain.leaf(), &certificate);
                    }
                }
            }
            certificates.push(certificate);
        }
        let chain = Chain::from_certificates(certificates).expect("well-formed");
        let chain = Chain::from_text(&chain.to_text()).expect("text round trip");

        let narrows = levels[0].not_before <= levels[0].not_after
            && levels.windows(2).all(|pair| step_narrows(&pair[0], &pair[1]));
        let leaf = &levels[levels.len() - 1];
        let in_time = leaf.not_before <= now && now <= leaf.not_after;
        prop_assert_eq!(chain.verify_ignoring_time(&program.id()).is_ok(), narrows);
        let verified = chain.verify(&program.id(), now);
        prop_assert_eq!(verified.is_ok(), narrows && in_time, "{:?}", verified);

        if let Ok(enrolment) = verified {
            prop_assert_eq!(enrolment.device, devices[devices.len() - 1].key);
            for area in AREAS {
                for chw in CHWS {
                    let household = common::household(area, chw);
                    let read = enrolment.may_read(&household);
                    prop_assert_eq!(read, households(leaf).contains(&(area, chw)));
                    if read {
                        for ancestor in chain.certificates() {
                            prop_assert!(ancestor.scopes.covers_household(&household));
                        }
                    }
                    if enrolment.may_write(&household) {
                        prop_assert!(leaf.role != Role::Relay);
                    }
                }
            }
        }
    }
}
