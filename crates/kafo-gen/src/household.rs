//! Who lives in a generated household: a head, one or two mothers with their
//! children, sometimes elders and other relatives; their birth dates as they
//! would be known, current pregnancies, phones; where the household is.

use kafo_model::{
    HouseholdId, Location, PartialDate, Person, PersonId, Pregnancy, Relationship, Sex,
};
use rand::Rng;

use crate::calendar::Day;
use crate::growth::nutrition_score;
use crate::names::Group;
use crate::random::{HouseholdRng, days_between, fnv1a, round_to, splitmix, weighted};

/// The most people a generated household has.
pub(crate) const MAX_MEMBERS: usize = 10;
/// Days from conception (last menstrual period) to expected delivery.
pub(crate) const GESTATION_DAYS: i32 = 280;
/// Five years, in days: a child is "under five" below this age.
pub(crate) const FIVE_YEARS: i32 = 1826;

/// A member of a generated household, with what the generator knows beyond
/// the record: the true birth day (the record may only show the year),
/// the mother's index, the current pregnancy and, for children, nutrition.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) person: Person,
    pub(crate) born: Day,
    pub(crate) mother: Option<usize>,
    pub(crate) lmp: Option<Day>,
    pub(crate) nutrition: f64,
}

impl Member {
    pub(crate) fn is_female(&self) -> bool {
        self.person.sex == Sex::Female
    }

    /// Age in days on `day` (negative before birth).
    pub(crate) fn age_on(&self, day: Day) -> i32 {
        day.since(self.born)
    }
}

/// A generated household before its visits.
#[derive(Debug, Clone)]
pub(crate) struct Composition {
    pub(crate) name: String,
    pub(crate) members: Vec<Member>,
    pub(crate) location: Option<Location>,
    /// The day the household stopped being followed, if it did in the period.
    pub(crate) closed_on: Option<Day>,
}

/// What a household's composition depends on besides its random stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting<'a> {
    pub(crate) household_id: &'a HouseholdId,
    pub(crate) area: &'a str,
    pub(crate) chw_number: u32,
    /// First day of the period.
    pub(crate) start: Day,
    /// The day after the period: "today".
    pub(crate) end: Day,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A man, one or two wives, their children.
    Couple,
    /// A woman heading the household with her children.
    MotherHeaded,
    /// An elder, a daughter-in-law and her children.
    Elder,
}

/// A person before ids are given out.
#[derive(Debug, Clone)]
struct Draft {
    given_name: String,
    family_name: String,
    female: bool,
    born: Day,
    relationship: Relationship,
    mother: Option<usize>,
}

/// Draws a household's members, location and status from its members stream.
pub(crate) fn compose(rng: &mut HouseholdRng, setting: &Setting<'_>) -> Composition {
    let end = setting.end;
    let group = Group::draw(rng);
    let lineage = group.family_name(rng);
    let shape = weighted(
        rng,
        &[
            (Shape::Couple, 68),
            (Shape::MotherHeaded, 18),
            (Shape::Elder, 14),
        ],
    );
    let mut drafts: Vec<Draft> = Vec::with_capacity(MAX_MEMBERS);
    let adult = |rng: &mut HouseholdRng,
                 female: bool,
                 low: i32,
                 high: i32,
                 family: String,
                 relationship: Relationship| Draft {
        given_name: group.given_name(rng, female),
        family_name: family,
        female,
        born: end.plus(-days_between(rng, years(low), years(high))),
        relationship,
        mother: None,
    };
    match shape {
        Shape::Couple => {
            // Skewed towards 30 to 50: the mean of two uniform draws.
            let head_years = 24 + (rng.random_range(0..=46) + rng.random_range(0..=46)) / 2;
            drafts.push(adult(
                rng,
                false,
                head_years,
                head_years + 1,
                lineage.clone(),
                Relationship::Head,
            ));
            let wives = if head_years >= 32 && rng.random_bool(0.15) {
                2
            } else {
                1
            };
            for _ in 0..wives {
                let wife_years = (head_years - rng.random_range(3..16)).clamp(17, 52);
                let wife_group = if rng.random_bool(0.7) {
                    group
                } else {
                    Group::draw(rng)
                };
                let family = wife_group.family_name(rng);
                let relationship = if wife_years < 50 {
                    Relationship::Mother
                } else {
                    Relationship::Other
                };
                drafts.push(adult(
                    rng,
                    true,
                    wife_years,
                    wife_years + 1,
                    family,
                    relationship,
                ));
            }
            let mothers: Vec<usize> = (1..drafts.len()).collect();
            for mother in mothers {
                add_children(rng, &mut drafts, mother, group, &lineage, end);
            }
        }
        Shape::MotherHeaded => {
            let head = adult(rng, true, 20, 47, lineage.clone(), Relationship::Head);
            drafts.push(head);
            let father_family = group.family_name(rng);
            add_children(rng, &mut drafts, 0, group, &father_family, end);
        }
        Shape::Elder => {
            let female_head = rng.random_bool(0.4);
            let head_family = if female_head {
                group.family_name(rng)
            } else {
                lineage.clone()
            };
            drafts.push(adult(
                rng,
                female_head,
                58,
                86,
                head_family,
                Relationship::Head,
            ));
            if !female_head && rng.random_bool(0.5) {
                let family = Group::draw(rng).family_name(rng);
                drafts.push(adult(rng, true, 50, 75, family, Relationship::Other));
            }
            let family = Group::draw(rng).family_name(rng);
            drafts.push(adult(rng, true, 18, 40, family, Relationship::Mother));
            let mother = drafts.len() - 1;
            add_children(rng, &mut drafts, mother, group, &lineage, end);
        }
    }
    if shape != Shape::Elder && drafts.len() < MAX_MEMBERS && rng.random_bool(0.15) {
        let female = rng.random_bool(0.65);
        let family = Group::draw(rng).family_name(rng);
        drafts.push(adult(rng, female, 58, 88, family, Relationship::Other));
    }
    if drafts.len() < MAX_MEMBERS && (drafts.len() < 2 || rng.random_bool(0.1)) {
        let female = rng.random_bool(0.5);
        drafts.push(adult(
            rng,
            female,
            13,
            30,
            lineage.clone(),
            Relationship::Other,
        ));
    }

    let members = finish_members(rng, setting, drafts);
    let location = rng.random_bool(0.6).then(|| locate(rng, setting));
    let period_days = setting.end.since(setting.start);
    let closed_on = (period_days > 90 && rng.random_bool(0.02))
        .then(|| setting.start.plus(days_between(rng, 30, period_days - 30)));
    let name = members.first().map_or_else(String::new, |head| {
        format!("Famille {}", head.person.family_name)
    });
    Composition {
        name,
        members,
        location,
        closed_on,
    }
}

/// A mother's children living with her: the youngest often under five, the
/// others spaced 20 to 43 months apart, none born before she was 16.
fn add_children(
    rng: &mut HouseholdRng,
    drafts: &mut Vec<Draft>,
    mother: usize,
    group: Group,
    father_family: &str,
    end: Day,
) {
    let Some(mother_born) = drafts.get(mother).map(|draft| draft.born) else {
        return;
    };
    if !rng.random_bool(0.88) {
        return;
    }
    let mut age = if rng.random_bool(0.82) {
        days_between(rng, 0, FIVE_YEARS)
    } else {
        days_between(rng, FIVE_YEARS, years(12))
    };
    while drafts.len() < MAX_MEMBERS && age < years(18) {
        let born = end.plus(-age);
        if born.since(mother_born) < years(16) {
            break;
        }
        // Older children have often left for school, work or marriage.
        if age < years(13) || rng.random_bool(0.3) {
            let female = rng.random_bool(0.5);
            drafts.push(Draft {
                given_name: group.given_name(rng, female),
                family_name: father_family.to_owned(),
                female,
                born,
                relationship: Relationship::Child,
                mother: Some(mother),
            });
        }
        age += days_between(rng, 600, 1300);
    }
}

/// Gives the drafts ids, birth dates as known, phones and pregnancies.
fn finish_members(
    rng: &mut HouseholdRng,
    setting: &Setting<'_>,
    drafts: Vec<Draft>,
) -> Vec<Member> {
    let end = setting.end;
    let ids: Vec<PersonId> = (1..=drafts.len())
        .map(|number| {
            PersonId::parse(format!("{}.p{number}", setting.household_id)).expect(
                "the config checked that a household id plus `.vNNNNN` fits, so `.pNN` does too",
            )
        })
        .collect();
    let youngest_child_of = |mother: usize| {
        drafts
            .iter()
            .filter(|draft| draft.mother == Some(mother))
            .map(|draft| draft.born)
            .max()
    };
    let mut members = Vec::with_capacity(drafts.len());
    for (index, draft) in drafts.iter().enumerate() {
        let age_years = end.since(draft.born) / 365;
        let (birth_date, birth_date_estimated) = known_birth_date(rng, draft.born, age_years);
        let phone_chance = match draft.relationship {
            _ if age_years < 18 => 0.0,
            Relationship::Head => 0.45,
            Relationship::Mother => 0.3,
            _ => 0.1,
        };
        let phone = rng.random_bool(phone_chance).then(|| phone_number(rng));
        let can_conceive = draft.female
            && matches!(
                draft.relationship,
                Relationship::Mother | Relationship::Head
            )
            && (16..=45).contains(&age_years);
        let lmp = if can_conceive && rng.random_bool(0.14) {
            let earliest = youngest_child_of(index)
                .map_or(end.plus(-266), |born| born.plus(150).max(end.plus(-266)));
            let latest = end.plus(-14);
            (earliest < latest).then(|| earliest.plus(days_between(rng, 0, latest.since(earliest))))
        } else {
            None
        };
        let pregnancy = lmp.map(|lmp| Pregnancy {
            lmp: Some(lmp.date()),
            edd: Some(lmp.plus(GESTATION_DAYS).date()),
        });
        let nutrition = if age_years < 6 {
            nutrition_score(rng)
        } else {
            0.0
        };
        members.push(Member {
            person: Person {
                id: ids[index].clone(),
                given_name: draft.given_name.clone(),
                family_name: draft.family_name.clone(),
                sex: if draft.female { Sex::Female } else { Sex::Male },
                birth_date,
                birth_date_estimated,
                relationship: draft.relationship,
                mother_id: draft.mother.and_then(|mother| ids.get(mother).cloned()),
                phone,
                pregnancy,
            },
            born: draft.born,
            mother: draft.mother,
            lmp,
            nutrition,
        });
    }
    members
}

/// A birth date as a household would know it: children's from their cards,
/// adults' often only the year or an estimate.
fn known_birth_date(rng: &mut HouseholdRng, born: Day, age_years: i32) -> (PartialDate, bool) {
    #[derive(Clone, Copy)]
    enum Known {
        Day,
        EstimatedDay,
        Month,
        Year,
    }
    let table: &[(Known, u32); 4] = match age_years {
        0..5 => &[
            (Known::Day, 92),
            (Known::EstimatedDay, 0),
            (Known::Month, 8),
            (Known::Year, 0),
        ],
        5..18 => &[
            (Known::Day, 78),
            (Known::EstimatedDay, 2),
            (Known::Month, 15),
            (Known::Year, 5),
        ],
        18..55 => &[
            (Known::Day, 40),
            (Known::EstimatedDay, 8),
            (Known::Month, 20),
            (Known::Year, 32),
        ],
        _ => &[
            (Known::Day, 10),
            (Known::EstimatedDay, 5),
            (Known::Month, 10),
            (Known::Year, 75),
        ],
    };
    let date = born.date();
    let year = date.year();
    match weighted(rng, table) {
        Known::Day => (PartialDate::Day(date), false),
        // An estimated date is written as the first of January of the year.
        Known::EstimatedDay => (PartialDate::Day(date.first_of_year()), true),
        Known::Month => (
            PartialDate::YearMonth(year, date.month()),
            rng.random_bool(0.85),
        ),
        Known::Year => (PartialDate::Year(year), rng.random_bool(0.95)),
    }
}

/// A Malian mobile number, `+223 XX XX XX XX`.
fn phone_number(rng: &mut HouseholdRng) -> String {
    let first = weighted(rng, &[(7, 55), (9, 20), (6, 20), (8, 5)]);
    format!(
        "+223 {first}{} {:02} {:02} {:02}",
        rng.random_range(0..10),
        rng.random_range(0..100),
        rng.random_range(0..100),
        rng.random_range(0..100)
    )
}

/// A position in Bamako: each area has its centre, each CHW's households
/// cluster around a point near it, within lat 12.55..12.70, lon -8.05..-7.90.
fn locate(rng: &mut HouseholdRng, setting: &Setting<'_>) -> Location {
    let area_hash = fnv1a(setting.area.as_bytes());
    let unit = |hash: u64| (hash % 10_000) as f64 / 10_000.0;
    let chw_hash = splitmix(area_hash ^ u64::from(setting.chw_number));
    let lat = 12.575 + 0.10 * unit(area_hash) + 0.02 * (unit(chw_hash) - 0.5);
    let lon = -8.025 + 0.10 * unit(splitmix(area_hash)) + 0.02 * (unit(splitmix(chw_hash)) - 0.5);
    let jitter = |rng: &mut HouseholdRng| 0.006 * (rng.random::<f64>() - 0.5);
    Location {
        lat: round_to((lat + jitter(rng)).clamp(12.55, 12.70), 5),
        lon: round_to((lon + jitter(rng)).clamp(-8.05, -7.90), 5),
    }
}

/// Whole years as days.
fn years(count: i32) -> i32 {
    count * 36_525 / 100
}
