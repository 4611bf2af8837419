//! Any valid household survives document -> read -> canonical line -> parse unchanged.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use jiff::civil::Date;
use kafo_model::document::{self, ApplyOutcome};
use kafo_model::{
    AreaId, ChwId, Household, HouseholdId, HouseholdStatus, Location, PartialDate, Person,
    PersonId, Pregnancy, Referral, Relationship, Sex, Visit, VisitId, VisitKind, canonical, parse,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngSeed;

const ID: &str = "[A-Za-z0-9._-]{1,24}";

fn text() -> impl Strategy<Value = String> {
    // Any characters but newlines (quotes, backslashes, control characters, emoji).
    "[^\n]{0,24}"
}

fn date() -> impl Strategy<Value = Date> {
    (1900i16..2100, 1i8..=12, 1i8..=31)
        .prop_filter_map("a date that exists", |(y, m, d)| Date::new(y, m, d).ok())
}

fn partial_date() -> impl Strategy<Value = PartialDate> {
    prop_oneof![
        (1900i16..2100).prop_map(PartialDate::Year),
        (1900i16..2100, 1i8..=12).prop_map(|(y, m)| PartialDate::YearMonth(y, m)),
        date().prop_map(PartialDate::Day),
    ]
}

fn person(id: PersonId, ids: Vec<PersonId>) -> impl Strategy<Value = Person> {
    (
        (
            text(),
            text(),
            prop_oneof![Just(Sex::Female), Just(Sex::Male)],
        ),
        (partial_date(), any::<bool>()),
        prop_oneof![
            Just(Relationship::Head),
            Just(Relationship::Mother),
            Just(Relationship::Child),
            Just(Relationship::Other),
        ],
        proptest::option::of(any::<Index>()),
        proptest::option::of(text()),
        proptest::option::of((proptest::option::of(date()), proptest::option::of(date()))),
    )
        .prop_map(
            move |(
                (given_name, family_name, sex),
                (birth_date, estimated),
                relationship,
                mother,
                phone,
                pregnancy,
            )| {
                Person {
                    id: id.clone(),
                    given_name,
                    family_name,
                    sex,
                    birth_date,
                    birth_date_estimated: estimated,
                    relationship,
                    mother_id: mother.map(|index| index.get(&ids).clone()),
                    phone,
                    pregnancy: pregnancy.map(|(lmp, edd)| Pregnancy { lmp, edd }),
                }
            },
        )
}

fn visit(id: VisitId, members: Vec<PersonId>) -> impl Strategy<Value = Visit> {
    (
        (
            any::<Index>(),
            date(),
            ID,
            prop_oneof![
                Just(VisitKind::Routine),
                Just(VisitKind::Growth),
                Just(VisitKind::Anc),
                Just(VisitKind::Postnatal),
                Just(VisitKind::SickChild),
            ],
        ),
        (
            proptest::option::of(0.5f64..=200.0),
            proptest::option::of(30.0f64..=230.0),
            proptest::option::of(50u16..=400),
        ),
        proptest::collection::vec(text(), 0..3),
        proptest::collection::vec(ID, 0..4),
        proptest::option::of((text(), text(), any::<bool>())),
        proptest::option::of("[^\n]{0,60}"),
    )
        .prop_map(
            move |(
                (person, date, chw, kind),
                (weight_kg, height_cm, muac_mm),
                danger_signs,
                vaccines,
                referral,
                note,
            )| {
                Visit {
                    id: id.clone(),
                    person_id: person.get(&members).clone(),
                    date,
                    chw: ChwId::parse(chw).expect("the strategy makes valid ids"),
                    kind,
                    weight_kg,
                    height_cm,
                    muac_mm,
                    danger_signs,
                    vaccines,
                    referral: referral.map(|(to, reason, urgent)| Referral { to, reason, urgent }),
                    note,
                }
            },
        )
}

fn household() -> impl Strategy<Value = Household> {
    (
        proptest::collection::btree_set(ID, 1..5),
        proptest::collection::btree_set(ID, 0..8),
    )
        .prop_flat_map(
            |(member_ids, visit_ids): (BTreeSet<String>, BTreeSet<String>)| {
                let members: Vec<PersonId> = member_ids
                    .into_iter()
                    .map(|id| PersonId::parse(id).expect("valid id"))
                    .collect();
                let people: Vec<_> = members
                    .iter()
                    .map(|id| person(id.clone(), members.clone()))
                    .collect();
                let visits: Vec<_> = visit_ids
                    .into_iter()
                    .map(|id| visit(VisitId::parse(id).expect("valid id"), members.clone()))
                    .collect();
                (
                    (ID, ID, ID, text()),
                    proptest::option::of((-90.0f64..=90.0, -180.0f64..=180.0)),
                    any::<bool>(),
                    people,
                    visits,
                )
            },
        )
        .prop_map(
            |((id, area, chw, name), location, closed, members, visits)| Household {
                id: HouseholdId::parse(id).expect("valid id"),
                area: AreaId::parse(area).expect("valid id"),
                chw: ChwId::parse(chw).expect("valid id"),
                name,
                location: location.map(|(lat, lon)| Location { lat, lon }),
                status: if closed {
                    HouseholdStatus::Closed
                } else {
                    HouseholdStatus::Active
                },
                members,
                visits,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        rng_seed: RngSeed::Fixed(0x6b61_666f),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_valid_household_round_trips(household in household()) {
        let line = canonical::to_line(&household).expect("canonical");

        let mut doc = AutoCommit::new();
        prop_assert_eq!(document::apply_household(&mut doc, &household).expect("apply"), ApplyOutcome::Created);
        let read = document::read_household(&doc).expect("read");
        // Members and visits read back sorted by id, as the canonical form sorts them.
        prop_assert_eq!(&read, &parse::parse_line(&line).expect("the canonical line parses"));
        prop_assert_eq!(canonical::to_line(&read).expect("canonical"), line.clone());

        let loaded = AutoCommit::load(&doc.save()).expect("load");
        prop_assert_eq!(canonical::to_line(&document::read_household(&loaded).expect("read")).expect("canonical"), line);

        let heads = doc.get_heads();
        prop_assert_eq!(document::apply_household(&mut doc, &household).expect("re-apply"), ApplyOutcome::Unchanged);
        prop_assert_eq!(doc.get_heads(), heads);
    }
}
