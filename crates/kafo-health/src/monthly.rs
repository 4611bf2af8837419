//! The monthly indicators a health centre owes the district (DHIS2, DISC-Mali): counts
//! per area (the household's) of what happened in one calendar month. `kafo report`
//! prints them as `monthly_indicators` and `kafo export dhis2` sends them, so both
//! come from [`MonthlyCounter`].
//!
//! Only visits dated in the month (and not after `as_of`) count; closed households are
//! left out, as everywhere in the report. A child is a person under five (see
//! [`crate::age::is_under_five`]) on the visit's date; a person whose birth date is
//! known only to the year is never counted as a child. The keys are a contract (mapping
//! files name them):
//! - `home_visits`: visits, any kind;
//! - `children_seen`: distinct children visited; `children_weighed`: distinct children
//!   with a weight recorded;
//! - `sam`, `mam`: distinct children aged 183 to 1,825 days at their latest MUAC of the
//!   month whose class it is (by MUAC alone, unlike the report's malnutrition list);
//! - `children_referred`: distinct children with a referral; `urgent_referrals`:
//!   referrals marked urgent (anyone's);
//! - `anc_contacts`: visits of kind `anc`;
//! - `pregnant_women_followed`: distinct women with a pregnancy whose LMP (recorded, or
//!   EDD − 280 days) is on or before the month's last day and whose EDD (recorded, or
//!   LMP + 280 days) is on or after its first day, visited in the month;
//! - `deliveries_reported`: women whose first `postnatal` visit (on or before `as_of`)
//!   falls in the month;
//! - `doses_<CODE>` for each dose of the schedule: visits listing the code (a code
//!   listed twice at one visit counts once);
//! - `danger_sign_cases`: visits with at least one danger sign.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use kafo_model::{AreaId, Household, HouseholdStatus, Person, PersonId, Visit, VisitKind};

use crate::age::{age_days, is_under_five, reference_birth_date};
use crate::growth::{MuacClass, muac_class};
use crate::{Period, Schedule, pregnancy};

/// Visits in the month, any kind.
pub const HOME_VISITS: &str = "home_visits";
/// Distinct children under five visited.
pub const CHILDREN_SEEN: &str = "children_seen";
/// Distinct children under five with a weight.
pub const CHILDREN_WEIGHED: &str = "children_weighed";
/// Distinct children whose latest MUAC of the month is SAM.
pub const SAM: &str = "sam";
/// Distinct children whose latest MUAC of the month is MAM.
pub const MAM: &str = "mam";
/// Distinct children under five with a referral.
pub const CHILDREN_REFERRED: &str = "children_referred";
/// Referrals marked urgent.
pub const URGENT_REFERRALS: &str = "urgent_referrals";
/// Visits of kind `anc`.
pub const ANC_CONTACTS: &str = "anc_contacts";
/// Distinct pregnant women visited.
pub const PREGNANT_WOMEN_FOLLOWED: &str = "pregnant_women_followed";
/// Women whose first postnatal visit falls in the month.
pub const DELIVERIES_REPORTED: &str = "deliveries_reported";
/// Visits with at least one danger sign.
pub const DANGER_SIGN_CASES: &str = "danger_sign_cases";
/// The prefix of a dose's key: `doses_Penta1`.
pub const DOSES_PREFIX: &str = "doses_";

/// Every indicator's key under `schedule`, in a fixed order: the fixed ones, then one
/// `doses_<CODE>` per dose of the schedule in schedule order.
pub fn indicator_keys(schedule: &Schedule) -> Vec<String> {
    [
        HOME_VISITS,
        CHILDREN_SEEN,
        CHILDREN_WEIGHED,
        SAM,
        MAM,
        CHILDREN_REFERRED,
        URGENT_REFERRALS,
        ANC_CONTACTS,
        PREGNANT_WOMEN_FOLLOWED,
        DELIVERIES_REPORTED,
        DANGER_SIGN_CASES,
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(
        schedule
            .doses
            .iter()
            .map(|dose| format!("{DOSES_PREFIX}{}", dose.code)),
    )
    .collect()
}

/// The counts: area → indicator key → count. Every key of [`indicator_keys`] is present
/// for every area that has a household (zeros included).
pub type MonthlyIndicators = BTreeMap<AreaId, BTreeMap<String, u64>>;

/// Counts the indicators of one month, household by household (memory holds the counts,
/// never the households).
#[derive(Debug, Clone)]
pub struct MonthlyCounter {
    period: Period,
    as_of: Date,
    keys: Vec<String>,
    dose_codes: BTreeSet<String>,
    counts: MonthlyIndicators,
}

impl MonthlyCounter {
    /// A counter for `period`, ignoring visits after `as_of`, with the doses of `schedule`.
    pub fn new(period: Period, as_of: Date, schedule: &Schedule) -> Self {
        Self {
            period,
            as_of,
            keys: indicator_keys(schedule),
            dose_codes: schedule
                .doses
                .iter()
                .map(|dose| dose.code.clone())
                .collect(),
            counts: BTreeMap::new(),
        }
    }

    /// A counter for the whole of `period` (no visit of the month ignored).
    pub fn for_month(period: Period, schedule: &Schedule) -> Self {
        Self::new(period, period.last_day(), schedule)
    }

    /// Adds one household (closed ones are left out).
    pub fn add(&mut self, household: &Household) {
        if household.status == HouseholdStatus::Closed {
            return;
        }
        let (period, as_of) = (self.period, self.as_of);
        let keys = &self.keys;
        let counts = self
            .counts
            .entry(household.area.clone())
            .or_insert_with(|| keys.iter().map(|key| (key.clone(), 0)).collect());
        let mut bump = |key: &str, by: u64| {
            if let Some(count) = counts.get_mut(key) {
                *count += by;
            }
        };
        let month: Vec<&Visit> = household
            .visits
            .iter()
            .filter(|visit| period.contains(visit.date) && visit.date <= as_of)
            .collect();
        for visit in &month {
            bump(HOME_VISITS, 1);
            if visit.kind == VisitKind::Anc {
                bump(ANC_CONTACTS, 1);
            }
            if visit
                .referral
                .as_ref()
                .is_some_and(|referral| referral.urgent)
            {
                bump(URGENT_REFERRALS, 1);
            }
            if !visit.danger_signs.is_empty() {
                bump(DANGER_SIGN_CASES, 1);
            }
            let codes: BTreeSet<&str> = visit.vaccines.iter().map(String::as_str).collect();
            for code in codes
                .into_iter()
                .filter(|code| self.dose_codes.contains(*code))
            {
                bump(&format!("{DOSES_PREFIX}{code}"), 1);
            }
        }
        for person in &household.members {
            let hers: Vec<&Visit> = month
                .iter()
                .copied()
                .filter(|visit| visit.person_id == person.id)
                .collect();
            let child = ChildMonth::of(person, &hers);
            bump(CHILDREN_SEEN, u64::from(child.seen));
            bump(CHILDREN_WEIGHED, u64::from(child.weighed));
            bump(CHILDREN_REFERRED, u64::from(child.referred));
            bump(SAM, u64::from(child.muac == Some(MuacClass::Sam)));
            bump(MAM, u64::from(child.muac == Some(MuacClass::Mam)));
            if !hers.is_empty() && pregnancy_spans(period, person) {
                bump(PREGNANT_WOMEN_FOLLOWED, 1);
            }
            if first_postnatal_in(period, as_of, &person.id, &household.visits) {
                bump(DELIVERIES_REPORTED, 1);
            }
        }
    }

    /// The counts: area → key → count.
    pub fn finish(self) -> MonthlyIndicators {
        self.counts
    }
}

/// Whether `person` has a pregnancy whose LMP is on or before the month's last day
/// and whose EDD is on or after its first.
fn pregnancy_spans(period: Period, person: &Person) -> bool {
    let Some(pregnancy) = &person.pregnancy else {
        return false;
    };
    let (lmp, edd) = pregnancy::dates(pregnancy);
    match (lmp, edd) {
        (Some(lmp), Some(edd)) => lmp <= period.last_day() && edd >= period.first_day(),
        _ => false,
    }
}

/// Whether the first `postnatal` visit to `person` (on or before `as_of`) is in `period`.
fn first_postnatal_in(period: Period, as_of: Date, person: &PersonId, visits: &[Visit]) -> bool {
    visits
        .iter()
        .filter(|visit| {
            &visit.person_id == person && visit.kind == VisitKind::Postnatal && visit.date <= as_of
        })
        .map(|visit| visit.date)
        .min()
        .is_some_and(|first| period.contains(first))
}

/// What one person's visits of the month count for as a child.
#[derive(Debug, Default)]
struct ChildMonth {
    seen: bool,
    weighed: bool,
    referred: bool,
    muac: Option<MuacClass>,
}

impl ChildMonth {
    fn of(person: &Person, visits: &[&Visit]) -> Self {
        let Some(birth) = reference_birth_date(&person.birth_date) else {
            return Self::default();
        };
        let as_child: Vec<&Visit> = visits
            .iter()
            .copied()
            .filter(|visit| is_under_five(birth, visit.date))
            .collect();
        let latest_muac = visits
            .iter()
            .filter_map(|visit| Some((visit.date, &visit.id, visit.muac_mm?)))
            .max();
        Self {
            seen: !as_child.is_empty(),
            weighed: as_child.iter().any(|visit| visit.weight_kg.is_some()),
            referred: as_child.iter().any(|visit| visit.referral.is_some()),
            muac: latest_muac.and_then(|(date, _, mm)| muac_class(age_days(birth, date), mm)),
        }
    }
}
