//! When a household's members are visited and what each visit records.
//!
//! Visits come in two parts. Scheduled ones follow from the household: the
//! Mali EPI contacts of its young children, antenatal and postnatal visits
//! around births in the period, monthly antenatal visits of current
//! pregnancies. The rest of the household's quota is spread over the days its
//! members are alive in the period, weighted towards under-fives (growth
//! monitoring, sick children) and pregnant women.

use kafo_model::{ChwId, HouseholdId, Referral, Visit, VisitId, VisitKind};
use rand::Rng;

use crate::calendar::Day;
use crate::growth::{
    MUAC_FROM_DAYS, MUAC_MODERATE, MUAC_SEVERE, adult_weight, child_height, child_muac,
    child_weight,
};
use crate::household::{Composition, FIVE_YEARS, Member};
use crate::notes::{Topic, note};
use crate::random::{HouseholdRng, days_between, weighted};

/// One EPI contact: the age it is due at (days), the antigens given, and the
/// share of children who receive it.
struct EpiContact {
    age_days: i32,
    vaccines: &'static [&'static str],
    coverage: f64,
}

/// The routine immunisation schedule of Mali (PEV), antigen codes in byte order.
const EPI: [EpiContact; 6] = [
    EpiContact {
        age_days: 0,
        vaccines: &["BCG", "OPV0"],
        coverage: 0.9,
    },
    EpiContact {
        age_days: 42,
        vaccines: &["OPV1", "PCV1", "Penta1", "Rota1"],
        coverage: 0.9,
    },
    EpiContact {
        age_days: 70,
        vaccines: &["OPV2", "PCV2", "Penta2", "Rota2"],
        coverage: 0.86,
    },
    EpiContact {
        age_days: 98,
        vaccines: &["IPV1", "OPV3", "PCV3", "Penta3"],
        coverage: 0.82,
    },
    EpiContact {
        age_days: 274,
        vaccines: &["MR1", "MenA", "YF"],
        coverage: 0.75,
    },
    EpiContact {
        age_days: 456,
        vaccines: &["MR2"],
        coverage: 0.6,
    },
];

/// Why a visit is made; decides its kind and what it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// An EPI contact (a growth visit where the card is checked).
    Vaccination(&'static [&'static str]),
    /// A newborn's first days (a postnatal visit), with the birth doses if given.
    Newborn(&'static [&'static str]),
    /// A mother after delivery.
    Postnatal,
    /// A pregnant woman.
    Antenatal,
    Growth,
    SickChild,
    Routine,
}

/// A visit decided but not yet written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedVisit {
    person: usize,
    day: Day,
    /// The earliest day the visit can move to (a birth, for postnatal care).
    not_before: Day,
    purpose: Purpose,
}

/// Days of the period in which the household can be visited: `start..end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: Day,
    pub(crate) end: Day,
}

impl Window {
    fn contains(&self, day: Day) -> bool {
        self.start <= day && day < self.end
    }
}

/// What visits record about where they happen and who makes them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VisitSetting<'a> {
    pub(crate) household_id: &'a HouseholdId,
    pub(crate) chw: &'a ChwId,
    /// Another CHW of the area who sometimes covers for `chw`.
    pub(crate) relief_chw: Option<&'a ChwId>,
    /// Where referrals go, `cscom-<area>`.
    pub(crate) referral_to: &'a str,
    /// Digits of the visit number in visit ids.
    pub(crate) visit_width: usize,
}

/// The visits a household's situation calls for, in the order they were drawn.
pub(crate) fn scheduled(
    rng: &mut HouseholdRng,
    household: &Composition,
    window: Window,
) -> Vec<PlannedVisit> {
    let mut plans = Vec::new();
    let plan = |plans: &mut Vec<PlannedVisit>, person, day, not_before, purpose| {
        if window.contains(day) {
            plans.push(PlannedVisit {
                person,
                day,
                not_before,
                purpose,
            });
        }
    };
    for (person, member) in household.members.iter().enumerate() {
        let born = member.born;
        let young_in_window = born < window.end && born.plus(730) > window.start;
        if young_in_window && member.mother.is_some() {
            for contact in &EPI {
                let covered = rng.random_bool(contact.coverage);
                if contact.age_days == 0 {
                    let doses = if covered { contact.vaccines } else { &[] };
                    let first = born.plus(days_between(rng, 0, 3));
                    let second = born.plus(days_between(rng, 6, 10));
                    plan(&mut plans, person, first, born, Purpose::Newborn(doses));
                    plan(&mut plans, person, second, born, Purpose::Newborn(&[]));
                } else {
                    let delay = match rng.random_range(0..10) {
                        0..7 => days_between(rng, 0, 8),
                        7..9 => days_between(rng, 8, 31),
                        _ => days_between(rng, 31, 91),
                    };
                    if covered {
                        let day = born.plus(contact.age_days + delay);
                        plan(
                            &mut plans,
                            person,
                            day,
                            born,
                            Purpose::Vaccination(contact.vaccines),
                        );
                    }
                }
            }
            // A birth in the period: the mother's last antenatal visits and her postnatal ones.
            if let Some(mother) = member.mother.filter(|_| window.contains(born)) {
                for (low, high) in [(150, 181), (80, 111), (20, 46)] {
                    let day = born.plus(-days_between(rng, low, high));
                    plan(&mut plans, mother, day, window.start, Purpose::Antenatal);
                }
                for (low, high) in [(0, 3), (6, 10), (40, 46)] {
                    let day = born.plus(days_between(rng, low, high));
                    plan(&mut plans, mother, day, born, Purpose::Postnatal);
                }
            }
        }
        // A current pregnancy: monthly antenatal visits from the third month.
        if let Some(lmp) = member.lmp {
            let mut day = lmp.plus(days_between(rng, 56, 85));
            while day < window.end {
                plan(&mut plans, person, day, lmp, Purpose::Antenatal);
                day = day.plus(days_between(rng, 28, 36));
            }
        }
    }
    plans
}

/// A stretch of one member's days in the period, and how much of the
/// household's free visits it draws per day.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    person: usize,
    from: Day,
    to: Day,
    weight: u64,
    kind: StretchKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StretchKind {
    UnderFive,
    Pregnant,
    Anyone,
}

/// The stretches the household's free visits are drawn from.
fn stretches(household: &Composition, window: Window) -> Vec<Stretch> {
    let mut stretches = Vec::new();
    let mut add = |person, from: Day, to: Day, weight, kind| {
        let (from, to) = (from.max(window.start), to.min(window.end));
        if from < to && weight > 0 {
            stretches.push(Stretch {
                person,
                from,
                to,
                weight,
                kind,
            });
        }
    };
    for (person, member) in household.members.iter().enumerate() {
        let born = member.born;
        add(
            person,
            born,
            born.plus(FIVE_YEARS),
            60,
            StretchKind::UnderFive,
        );
        if let Some(lmp) = member.lmp {
            add(person, lmp.plus(56), window.end, 25, StretchKind::Pregnant);
        }
        let age_years = member.age_on(window.end) / 365;
        let weight = match age_years {
            0..5 => 0,
            5..18 => 4,
            18..60 if member.is_female() => 10,
            18..60 => 6,
            _ => 12,
        };
        add(person, born, window.end, weight, StretchKind::Anyone);
    }
    stretches
}

/// How many free visits this household would draw, relative to others of
/// the same period: its weighted person-days.
pub(crate) fn free_visit_weight(household: &Composition, window: Window) -> u64 {
    stretches(household, window)
        .iter()
        .map(|stretch| stretch.weight * stretch.to.since(stretch.from) as u64)
        .sum()
}

/// `count` visits spread over the household's stretches.
fn free(
    rng: &mut HouseholdRng,
    household: &Composition,
    window: Window,
    count: usize,
) -> Vec<PlannedVisit> {
    let stretches = stretches(household, window);
    let total: u64 = stretches
        .iter()
        .map(|stretch| stretch.weight * stretch.to.since(stretch.from) as u64)
        .sum();
    if total == 0 {
        return Vec::new();
    }
    let mut plans = Vec::with_capacity(count);
    for _ in 0..count {
        let mut ticket = rng.random_range(0..total);
        let Some(stretch) = stretches.iter().find(|stretch| {
            let size = stretch.weight * stretch.to.since(stretch.from) as u64;
            if ticket < size {
                true
            } else {
                ticket -= size;
                false
            }
        }) else {
            continue;
        };
        let day = stretch
            .from
            .plus(days_between(rng, 0, stretch.to.since(stretch.from)));
        let purpose = match stretch.kind {
            StretchKind::UnderFive => weighted(
                rng,
                &[
                    (Purpose::Growth, 50),
                    (Purpose::SickChild, 30),
                    (Purpose::Routine, 20),
                ],
            ),
            StretchKind::Pregnant => {
                weighted(rng, &[(Purpose::Antenatal, 60), (Purpose::Routine, 40)])
            }
            StretchKind::Anyone => Purpose::Routine,
        };
        plans.push(PlannedVisit {
            person: stretch.person,
            day,
            not_before: stretch.from,
            purpose,
        });
    }
    plans
}

/// The household's `quota` visits, written out and numbered in date order.
///
/// `rng` must be the visits stream in the state [`scheduled`] left it in, with
/// `scheduled` the plans it returned.
pub(crate) fn visits(
    rng: &mut HouseholdRng,
    household: &Composition,
    window: Window,
    mut scheduled: Vec<PlannedVisit>,
    quota: usize,
    setting: &VisitSetting<'_>,
) -> Vec<Visit> {
    if scheduled.len() > quota {
        // Keep a uniform sample of `quota` of them (partial Fisher–Yates).
        for index in 0..quota {
            let other = rng.random_range(index..scheduled.len());
            scheduled.swap(index, other);
        }
        scheduled.truncate(quota);
    }
    let free_count = quota - scheduled.len();
    let mut plans = scheduled;
    plans.extend(free(rng, household, window, free_count));
    for plan in &mut plans {
        plan.day = working_day(plan.day, plan.not_before, window);
    }
    plans.sort_by_key(|plan| (plan.day, plan.person));
    plans
        .iter()
        .enumerate()
        .filter_map(|(index, plan)| {
            let member = household.members.get(plan.person)?;
            Some(write_visit(rng, member, plan, index + 1, setting))
        })
        .collect()
}

/// CHWs do not visit on Sundays: move to the Monday after, or else the
/// Saturday before, unless that leaves the period or precedes `not_before`.
fn working_day(day: Day, not_before: Day, window: Window) -> Day {
    if !day.is_sunday() {
        return day;
    }
    [day.plus(1), day.plus(-1)]
        .into_iter()
        .find(|moved| window.contains(*moved) && *moved >= not_before)
        .unwrap_or(day)
}

/// Signs seen at sick-child visits, by how often (per thousand).
const CHILD_SIGNS: [(&str, u32); 7] = [
    ("fever", 450),
    ("diarrhoea", 250),
    ("vomiting", 100),
    ("fast-breathing", 150),
    ("lethargy", 20),
    ("unable-to-feed", 20),
    ("convulsions", 10),
];

/// Signs that call for an urgent referral, most serious first.
const URGENT_SIGNS: [&str; 4] = ["convulsions", "unable-to-feed", "bleeding", "lethargy"];

fn write_visit(
    rng: &mut HouseholdRng,
    member: &Member,
    plan: &PlannedVisit,
    number: usize,
    setting: &VisitSetting<'_>,
) -> Visit {
    let age = member.age_on(plan.day);
    let female = member.is_female();
    let under_five = (0..FIVE_YEARS).contains(&age);
    let muac_age = age >= MUAC_FROM_DAYS && under_five;
    let chw = match setting.relief_chw {
        Some(relief) if rng.random_bool(0.04) => relief,
        _ => setting.chw,
    };
    let mut visit = Visit {
        id: VisitId::parse(format!(
            "{}.v{number:0width$}",
            setting.household_id,
            width = setting.visit_width
        ))
        .expect("the config checked that the longest visit id of each area fits"),
        person_id: member.person.id.clone(),
        date: plan.day.date(),
        chw: chw.clone(),
        kind: VisitKind::Routine,
        weight_kg: None,
        height_cm: None,
        muac_mm: None,
        danger_signs: Vec::new(),
        vaccines: Vec::new(),
        referral: None,
        note: None,
    };
    let score = member.nutrition;
    let measure =
        |rng: &mut HouseholdRng, visit: &mut Visit, weight: f64, height: f64, muac: f64| {
            if under_five && rng.random_bool(weight) {
                visit.weight_kg = Some(child_weight(rng, female, age, score));
            }
            if under_five && rng.random_bool(height) {
                visit.height_cm = Some(child_height(rng, female, age, score));
            }
            if muac_age && rng.random_bool(muac) {
                visit.muac_mm = Some(child_muac(rng, age, score));
            }
        };
    let mut topic = Topic::Routine;
    match plan.purpose {
        Purpose::Vaccination(vaccines) | Purpose::Newborn(vaccines) if !vaccines.is_empty() => {
            visit.vaccines = vaccines.iter().map(|code| (*code).to_owned()).collect();
            topic = Topic::Vaccination;
        }
        _ => {}
    }
    match plan.purpose {
        Purpose::Vaccination(_) | Purpose::Growth => {
            visit.kind = VisitKind::Growth;
            measure(rng, &mut visit, 1.0, 0.6, 0.85);
            if topic != Topic::Vaccination {
                topic = if age < MUAC_FROM_DAYS {
                    Topic::YoungInfant
                } else {
                    Topic::Growth
                };
            }
        }
        Purpose::Newborn(_) => {
            visit.kind = VisitKind::Postnatal;
            measure(rng, &mut visit, 0.7, 0.0, 0.0);
            if rng.random_bool(0.03) {
                visit
                    .danger_signs
                    .push(weighted(rng, &[("unable-to-feed", 2), ("fever", 1)]).to_owned());
            }
            if topic != Topic::Vaccination {
                topic = Topic::Newborn;
            }
        }
        Purpose::SickChild => {
            visit.kind = VisitKind::SickChild;
            measure(rng, &mut visit, 0.4, 0.0, 0.6);
            let count = weighted(rng, &[(1, 70), (2, 25), (3, 5)]);
            while visit.danger_signs.len() < count {
                let sign = weighted(rng, &CHILD_SIGNS);
                if !visit.danger_signs.iter().any(|known| known == sign) {
                    visit.danger_signs.push(sign.to_owned());
                }
            }
            let has = |sign: &str| visit.danger_signs.iter().any(|known| known == sign);
            topic = if has("fast-breathing") {
                Topic::Cough
            } else if has("diarrhoea") {
                Topic::Diarrhoea
            } else if has("fever") {
                Topic::Fever
            } else {
                Topic::SickChild
            };
        }
        Purpose::Antenatal | Purpose::Postnatal => {
            let antenatal = plan.purpose == Purpose::Antenatal;
            visit.kind = if antenatal {
                VisitKind::Anc
            } else {
                VisitKind::Postnatal
            };
            if antenatal && rng.random_bool(0.3) {
                visit.weight_kg = Some(adult_weight(rng));
            }
            if rng.random_bool(0.04) {
                let sign = weighted(rng, &[("bleeding", 12), ("fever", 5), ("convulsions", 3)]);
                visit.danger_signs.push(sign.to_owned());
                topic = Topic::PregnancyDanger;
            } else {
                topic = if antenatal {
                    Topic::Antenatal
                } else {
                    Topic::Postnatal
                };
            }
        }
        Purpose::Routine => {
            measure(rng, &mut visit, 0.2, 0.0, 0.3);
            if age >= 35 * 365 {
                topic = Topic::AdultRoutine;
            }
        }
    }
    visit.danger_signs.sort();
    refer(rng, &mut visit, setting.referral_to, &mut topic);
    if rng.random_bool(0.5) {
        let also = if under_five {
            Topic::Growth
        } else {
            Topic::Routine
        };
        visit.note = Some(note(rng, topic, also));
    }
    visit
}

/// Refers the person when the visit calls for it: always, and urgently, for a
/// serious danger sign; sometimes for a milder one; for severe malnutrition.
fn refer(rng: &mut HouseholdRng, visit: &mut Visit, to: &str, topic: &mut Topic) {
    let urgent_sign = URGENT_SIGNS
        .iter()
        .find(|sign| visit.danger_signs.iter().any(|known| known == *sign));
    let (reason, urgent) = if let Some(sign) = urgent_sign {
        ((*sign).to_owned(), true)
    } else if let Some(sign) = visit.danger_signs.first().filter(|_| rng.random_bool(0.08)) {
        (sign.clone(), false)
    } else {
        match visit.muac_mm {
            Some(muac) if muac < MUAC_SEVERE => {
                *topic = Topic::SevereMalnutrition;
                ("malnutrition".to_owned(), false)
            }
            Some(muac) if muac < MUAC_MODERATE => {
                *topic = Topic::ModerateMalnutrition;
                return;
            }
            _ => return,
        }
    };
    if *topic != Topic::SevereMalnutrition {
        *topic = if urgent {
            Topic::UrgentReferral
        } else {
            Topic::Referral
        };
    }
    visit.referral = Some(Referral {
        to: to.to_owned(),
        reason,
        urgent,
    });
}
