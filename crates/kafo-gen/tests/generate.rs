//! The generator's promises, checked on generated caseloads: determinism,
//! the default program's size, format validity, realism rules, and CHW slices.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use kafo_gen::{
    ConfigError, GenerateChwError, GeneratorConfig, generate, generate_chw, write_jsonl,
};
use kafo_model::canonical::to_line;
use kafo_model::parse::parse_line;
use kafo_model::validate::check_household;
use kafo_model::{
    AreaId, ChwId, Household, HouseholdScope, HouseholdStatus, PartialDate, Relationship, Sex,
    VisitKind,
};

fn small_program(seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        areas: GeneratorConfig::bamako_areas(3),
        chws: 6,
        households_per_chw: 25,
        visits_per_chw: 520,
        ..GeneratorConfig::default()
    }
}

fn jsonl(config: &GeneratorConfig) -> Vec<u8> {
    let mut out = Vec::new();
    write_jsonl(config, &mut out).expect("writing to memory cannot fail");
    out
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() {
    let first = jsonl(&small_program(42));
    let again = jsonl(&small_program(42));
    let other = jsonl(&small_program(43));
    assert!(!first.is_empty());
    assert_eq!(first, again);
    assert_ne!(first, other);
    // Not merely different somewhere: most households differ.
    let same_lines = first
        .split(|b| *b == b'\n')
        .zip(other.split(|b| *b == b'\n'))
        .filter(|(a, b)| a == b && !a.is_empty())
        .count();
    assert_eq!(same_lines, 0);
}

/// The default program, generated once: counts, sizes, validity and realism.
#[test]
fn the_default_program_is_the_brief_and_every_household_is_valid() {
    let config = GeneratorConfig::default();
    let mut households = 0u64;
    let mut visits_per_chw: BTreeMap<ChwId, u64> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut previous_id: Option<String> = None;
    let mut bytes = 0u64;
    let mut stats = Stats::default();
    let generated = generate(&config);
    assert_eq!(generated.size_hint(), (6_840, Some(6_840)));
    for household in generated {
        households += 1;
        let line = to_line(&household).expect("generated numbers are finite");
        bytes += line.len() as u64 + 1;
        // Read back through the format's own validator, and through serde: the same record.
        let parsed =
            parse_line(&line).unwrap_or_else(|errors| panic!("{}: {errors}", household.id));
        assert_eq!(parsed, household);
        let deserialized: Household =
            serde_json::from_str(&line).expect("canonical JSON reads back");
        assert_eq!(deserialized, household);
        assert_eq!(to_line(&deserialized).expect("finite"), line);
        assert!(check_household(&household).is_empty(), "{}", household.id);

        check_realism(&config, &household, &mut stats);
        *visits_per_chw.entry(household.chw.clone()).or_default() += household.visits.len() as u64;
        assert!(
            previous_id.as_deref() < Some(household.id.as_str()),
            "households in id order"
        );
        previous_id = Some(household.id.to_string());
        assert!(ids.insert(household.id.to_string()));
        for person in &household.members {
            assert!(
                ids.insert(person.id.to_string()),
                "person ids unique in the program"
            );
        }
        for visit in &household.visits {
            assert!(
                ids.insert(visit.id.to_string()),
                "visit ids unique in the program"
            );
        }
    }
    assert_eq!(households, 6_840);
    // Each CHW makes exactly its 2,500 visits: tolerance zero.
    assert_eq!(visits_per_chw.len(), 57);
    assert!(
        visits_per_chw.values().all(|visits| *visits == 2_500),
        "{visits_per_chw:?}"
    );
    // About 32 MB: measured 33.7 MB (4.9 KB a line) for the default seed.
    assert!((28_000_000..40_000_000).contains(&bytes), "{bytes} bytes");
    stats.check();
}

#[derive(Debug, Default)]
struct Stats {
    households: u64,
    located: u64,
    members: u64,
    women_15_to_49: u64,
    pregnant: u64,
    visits: u64,
    noted: u64,
    kinds: BTreeMap<String, u64>,
    vaccines: BTreeSet<String>,
    signs: BTreeSet<String>,
    urgent_referrals: u64,
    low_muac: u64,
}

impl Stats {
    fn check(&self) {
        let share = |part: u64, whole: u64| part as f64 / whole as f64;
        assert!(
            (0.55..0.65).contains(&share(self.located, self.households)),
            "{self:?}"
        );
        assert!(
            (0.45..0.55).contains(&share(self.noted, self.visits)),
            "{self:?}"
        );
        assert!(
            (0.07..0.13).contains(&share(self.pregnant, self.women_15_to_49)),
            "{self:?}"
        );
        let people_per_household = share(self.members, self.households);
        assert!((4.5..7.0).contains(&people_per_household), "{self:?}");
        for kind in ["routine", "growth", "anc", "postnatal", "sick-child"] {
            assert!(
                self.kinds.get(kind).copied().unwrap_or(0) > 1_000,
                "{kind}: {self:?}"
            );
        }
        let schedule = [
            "BCG", "OPV0", "OPV1", "OPV2", "OPV3", "Penta1", "Penta2", "Penta3", "PCV1", "PCV2",
            "PCV3", "Rota1", "Rota2", "IPV1", "MR1", "MR2", "YF", "MenA",
        ];
        assert_eq!(
            self.vaccines,
            schedule.iter().map(|v| v.to_string()).collect()
        );
        for sign in [
            "fever",
            "diarrhoea",
            "vomiting",
            "fast-breathing",
            "convulsions",
            "unable-to-feed",
            "lethargy",
            "bleeding",
        ] {
            assert!(self.signs.contains(sign), "{sign}");
        }
        assert!(
            self.urgent_referrals > 100 && self.low_muac > 100,
            "{self:?}"
        );
    }
}

/// The rules of a plausible household, beyond the format's.
fn check_realism(config: &GeneratorConfig, household: &Household, stats: &mut Stats) {
    let end = config.end();
    let id = household.id.as_str();
    assert!(
        id.starts_with(&format!("{}-{}-h", household.area, household.chw)),
        "{id}"
    );
    assert!(household.name.starts_with("Famille "));
    assert!(
        (2..=10).contains(&household.members.len()),
        "{id}: {} members",
        household.members.len()
    );
    stats.households += 1;
    stats.members += household.members.len() as u64;
    if let Some(location) = household.location {
        stats.located += 1;
        assert!((12.55..=12.70).contains(&location.lat) && (-8.05..=-7.90).contains(&location.lon));
        assert_eq!((location.lat * 1e5).round() / 1e5, location.lat);
    }
    let heads = household
        .members
        .iter()
        .filter(|p| p.relationship == Relationship::Head)
        .count();
    assert_eq!(heads, 1, "{id}");
    let members: BTreeMap<_, _> = household.members.iter().map(|p| (&p.id, p)).collect();
    for person in &household.members {
        assert!(person.id.as_str().starts_with(&format!("{id}.p")));
        let born_year = birth_year(person.birth_date);
        let age = i32::from(end.year()) - born_year;
        if let Some(mother_id) = &person.mother_id {
            let mother = members.get(mother_id).expect("a mother is a member");
            assert_eq!(mother.sex, Sex::Female);
            assert_eq!(person.relationship, Relationship::Child);
            assert!(
                born_year - birth_year(mother.birth_date) >= 15,
                "{id}: mother too young"
            );
        }
        if person.sex == Sex::Female && (15..=49).contains(&age) {
            stats.women_15_to_49 += 1;
        }
        if let Some(pregnancy) = person.pregnancy {
            stats.pregnant += 1;
            assert_eq!(person.sex, Sex::Female);
            let (lmp, edd) = (pregnancy.lmp.expect("lmp"), pregnancy.edd.expect("edd"));
            assert_eq!(
                lmp.checked_add(jiff::Span::new().days(280))
                    .expect("in range"),
                edd
            );
            assert!(lmp < end && edd >= end, "{id}: a current pregnancy");
        }
    }
    let mut previous: Option<(Date, &str)> = None;
    for visit in &household.visits {
        stats.visits += 1;
        let kind = serde_json::to_value(visit.kind).expect("a kind serialises");
        *stats
            .kinds
            .entry(kind.as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
        let person = members
            .get(&visit.person_id)
            .expect("the person visited is a member");
        assert!(
            config.start <= visit.date && visit.date < end,
            "{id}: visit in the period"
        );
        match person.birth_date {
            PartialDate::Day(born) => {
                assert!(
                    visit.date >= born || person.birth_date_estimated,
                    "{id}: visit before birth"
                );
            }
            PartialDate::YearMonth(year, month) => {
                assert!(
                    visit.date >= Date::constant(year, month, 1),
                    "{id}: visit before birth"
                );
            }
            PartialDate::Year(year) => assert!(visit.date.year() >= year),
        }
        // Ids in date order.
        if let Some((date, previous_id)) = previous {
            assert!(
                date <= visit.date && previous_id < visit.id.as_str(),
                "{id}"
            );
        }
        previous = Some((visit.date, visit.id.as_str()));
        let under_five = i32::from(visit.date.year()) - birth_year(person.birth_date) <= 6;
        if let Some(weight) = visit.weight_kg {
            if visit.kind == VisitKind::Anc {
                assert!((40.0..=110.0).contains(&weight));
            } else {
                assert!(
                    under_five && (2.5..=20.0).contains(&weight),
                    "{id}: weight {weight}"
                );
            }
            assert_eq!((weight * 10.0).round() / 10.0, weight);
        }
        if let Some(height) = visit.height_cm {
            assert!(
                under_five && (45.0..=115.0).contains(&height),
                "{id}: height {height}"
            );
            assert_eq!((height * 10.0).round() / 10.0, height);
        }
        if let Some(muac) = visit.muac_mm {
            assert!(
                under_five && (100..=180).contains(&muac),
                "{id}: muac {muac}"
            );
            stats.low_muac += u64::from(muac < 125);
        }
        if matches!(visit.kind, VisitKind::Anc) {
            assert_eq!(person.sex, Sex::Female);
        }
        if visit.kind == VisitKind::SickChild {
            assert!(!visit.danger_signs.is_empty() && under_five);
        }
        if !visit.vaccines.is_empty() {
            assert!(under_five && matches!(visit.kind, VisitKind::Growth | VisitKind::Postnatal));
        }
        stats.vaccines.extend(visit.vaccines.iter().cloned());
        stats.signs.extend(visit.danger_signs.iter().cloned());
        if let Some(referral) = &visit.referral {
            assert_eq!(referral.to, format!("cscom-{}", household.area));
            let serious = ["convulsions", "unable-to-feed"]
                .iter()
                .any(|s| visit.danger_signs.iter().any(|d| d == s));
            assert!(
                !serious || referral.urgent,
                "{id}: serious signs are referred urgently"
            );
            stats.urgent_referrals += u64::from(referral.urgent);
        } else {
            assert!(
                !visit
                    .danger_signs
                    .iter()
                    .any(|s| s == "convulsions" || s == "unable-to-feed"),
                "{id}: serious signs are always referred"
            );
        }
        if let Some(note) = &visit.note {
            stats.noted += 1;
            assert!(!note.is_empty() && note.chars().count() <= 2_000);
        }
    }
    if household.status == HouseholdStatus::Active {
        assert!(
            !household.visits.is_empty(),
            "{id}: an active household is visited"
        );
    }
}

fn birth_year(date: PartialDate) -> i32 {
    match date {
        PartialDate::Year(year) | PartialDate::YearMonth(year, _) => i32::from(year),
        PartialDate::Day(date) => i32::from(date.year()),
    }
}

#[test]
fn one_chw_generated_alone_equals_its_households_in_the_whole_program() {
    let config = small_program(9);
    let whole: Vec<Household> = generate(&config).collect();
    assert_eq!(whole.len(), 150);
    for scope in config.scopes() {
        let alone: Vec<Household> = generate_chw(&config, &scope)
            .expect("in the program")
            .collect();
        let within: Vec<&Household> = whole.iter().filter(|h| h.scope() == scope).collect();
        assert_eq!(alone.len(), 25);
        assert_eq!(alone.iter().collect::<Vec<_>>(), within, "{scope}");
    }
    let stranger = HouseholdScope {
        area: AreaId::parse("sikoro").expect("valid"),
        chw: ChwId::parse("chw-99").expect("valid"),
    };
    assert_eq!(
        generate_chw(&config, &stranger).err(),
        Some(GenerateChwError::NotInProgram { scope: stranger })
    );
}

#[test]
fn a_chw_keeps_its_households_when_the_program_grows() {
    let small = small_program(5);
    let larger = GeneratorConfig {
        areas: GeneratorConfig::bamako_areas(4),
        chws: 12,
        ..small.clone()
    };
    // sikoro/chw-01 is the first caseload of both programs.
    let scope = HouseholdScope {
        area: AreaId::parse("sikoro").expect("valid"),
        chw: ChwId::parse("chw-01").expect("valid"),
    };
    let in_small: Vec<_> = generate_chw(&small, &scope)
        .expect("in the program")
        .collect();
    let in_larger: Vec<_> = generate_chw(&larger, &scope)
        .expect("in the program")
        .collect();
    assert_eq!(in_small, in_larger);
}

#[test]
fn the_summary_counts_what_was_written() {
    let config = small_program(3);
    let mut out = Vec::new();
    let summary = write_jsonl(&config, &mut out).expect("writing to memory cannot fail");
    let text = String::from_utf8(out).expect("UTF-8");
    assert_eq!(summary.bytes, text.len() as u64);
    assert_eq!(summary.households, text.lines().count() as u64);
    assert_eq!(summary.households, 150);
    assert_eq!(summary.visits, 6 * 520);
    let people: usize = text
        .lines()
        .map(|line| parse_line(line).expect("valid").members.len())
        .sum();
    assert_eq!(summary.people, people as u64);
}

#[test]
fn few_visits_and_short_periods_still_give_valid_households() {
    let config = GeneratorConfig {
        seed: 11,
        chws: 1,
        households_per_chw: 30,
        visits_per_chw: 10,
        start: Date::constant(2024, 2, 28),
        days: 3,
        ..GeneratorConfig::default()
    };
    let households: Vec<_> = generate(&config).collect();
    assert_eq!(households.len(), 30);
    assert_eq!(households.iter().map(|h| h.visits.len()).sum::<usize>(), 10);
    for household in &households {
        let line = to_line(household).expect("finite");
        assert_eq!(parse_line(&line).as_ref(), Ok(household));
        for visit in &household.visits {
            assert!(
                visit.date >= Date::constant(2024, 2, 28)
                    && visit.date <= Date::constant(2024, 3, 1)
            );
        }
    }
}

#[test]
fn a_refused_configuration_generates_nothing_and_says_why() {
    let config = GeneratorConfig {
        areas: vec![],
        ..GeneratorConfig::default()
    };
    assert_eq!(generate(&config).count(), 0);
    let mut out = Vec::new();
    let error = write_jsonl(&config, &mut out).expect_err("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(error.to_string(), ConfigError::NoArea.to_string());
    assert!(out.is_empty());
    let scope = HouseholdScope {
        area: AreaId::parse("sikoro").expect("valid"),
        chw: ChwId::parse("chw-01").expect("valid"),
    };
    assert_eq!(
        generate_chw(&config, &scope).err(),
        Some(GenerateChwError::Config(ConfigError::NoArea))
    );
}
