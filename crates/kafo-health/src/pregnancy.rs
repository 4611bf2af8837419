//! Pregnancy: gestational age, antenatal care (ANC) contacts against WHO's 2016
//! 8-contact schedule (`data/anc-who-2016.toml`), and deliveries with no postnatal visit.
//!
//! - Gestational age in whole weeks comes from `lmp`, or from `edd − 280 days` when
//!   there is no `lmp` (`lmp` wins when both are present).
//! - ANC contacts are her visits of kind `anc` dated from the LMP to `as_of`.
//! - Her next contact is due at the first schedule week later than the gestational
//!   week of her last contact (the first week when she has had none), on
//!   `lmp + 7 × week`; none past the last week. It is overdue once `as_of` is more than
//!   `overdue_after_days` past that date.
//! - `edd_passed_no_postnatal`: `as_of ≥ edd + 14 days` and no `postnatal` visit to her
//!   dated on or after `edd − 28 days` (and on or before `as_of`).

use std::sync::OnceLock;

use jiff::civil::Date;
use kafo_model::{PersonId, Pregnancy, Visit, VisitKind};
use serde::Deserialize;

use crate::age::{add_days, days_between};

/// Days from the LMP to the expected delivery date.
pub const GESTATION_DAYS: i64 = 280;

/// Days after the EDD from which a missing postnatal visit is flagged.
pub const POSTNATAL_FLAG_AFTER_EDD_DAYS: i64 = 14;

/// A postnatal visit counts from this many days before the EDD.
pub const POSTNATAL_FROM_BEFORE_EDD_DAYS: i64 = 28;

const ANC_SCHEDULE: &str = include_str!("../data/anc-who-2016.toml");

/// WHO's ANC contact schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AncSchedule {
    /// Weeks of gestation of the contacts, increasing.
    pub contact_weeks: Vec<i64>,
    /// A contact is overdue once `as_of` is more than this many days past its date.
    pub overdue_after_days: i64,
}

impl AncSchedule {
    /// WHO's 2016 8-contact schedule.
    pub fn who_2016() -> &'static AncSchedule {
        static SCHEDULE: OnceLock<AncSchedule> = OnceLock::new();
        // The file is part of the crate and a test parses it.
        SCHEDULE.get_or_init(|| toml::from_str(ANC_SCHEDULE).expect("the ANC schedule is valid"))
    }
}

/// Where a pregnancy stands on `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PregnancyStatus {
    /// Whole weeks since the (recorded or derived) LMP; `None` with neither date.
    pub gestational_weeks: Option<i64>,
    /// The LMP the rules count from: `lmp`, else `edd − 280 days`.
    pub lmp: Option<Date>,
    /// The expected delivery date: `edd`, else `lmp + 280 days`.
    pub edd: Option<Date>,
    /// ANC visits since the LMP.
    pub anc_contacts: u32,
    /// When the next ANC contact is due; `None` past the schedule's last week.
    pub next_anc_due: Option<Date>,
    /// Whether that contact is overdue.
    pub overdue: bool,
    /// The EDD passed 14 days ago or more with no postnatal visit.
    pub edd_passed_no_postnatal: bool,
}

/// The dates the rules count from: the LMP (`lmp`, else `edd − 280 days`) and the
/// EDD (`edd`, else `lmp + 280 days`); `None` when neither is recorded.
pub fn dates(pregnancy: &Pregnancy) -> (Option<Date>, Option<Date>) {
    let lmp = pregnancy
        .lmp
        .or_else(|| pregnancy.edd.and_then(|edd| add_days(edd, -GESTATION_DAYS)));
    let edd = pregnancy
        .edd
        .or_else(|| pregnancy.lmp.and_then(|lmp| add_days(lmp, GESTATION_DAYS)));
    (lmp, edd)
}

/// The status of `person`'s `pregnancy` on `as_of`, from the household's `visits`.
pub fn assess<'v>(
    person: &PersonId,
    pregnancy: &Pregnancy,
    visits: impl IntoIterator<Item = &'v Visit> + Clone,
    as_of: Date,
) -> PregnancyStatus {
    let (lmp, edd) = dates(pregnancy);
    let hers = |kind: VisitKind| {
        visits.clone().into_iter().filter(move |visit| {
            &visit.person_id == person && visit.kind == kind && visit.date <= as_of
        })
    };
    let mut status = PregnancyStatus {
        gestational_weeks: lmp.map(|lmp| days_between(lmp, as_of).div_euclid(7)),
        lmp,
        edd,
        anc_contacts: 0,
        next_anc_due: None,
        overdue: false,
        edd_passed_no_postnatal: false,
    };
    if let Some(lmp) = lmp {
        let contacts: Vec<Date> = hers(VisitKind::Anc)
            .filter(|visit| visit.date >= lmp)
            .map(|visit| visit.date)
            .collect();
        status.anc_contacts = u32::try_from(contacts.len()).unwrap_or(u32::MAX);
        let last_week = contacts
            .iter()
            .max()
            .map(|last| days_between(lmp, *last).div_euclid(7));
        let schedule = AncSchedule::who_2016();
        let next_week = schedule
            .contact_weeks
            .iter()
            .copied()
            .find(|week| last_week.is_none_or(|last| *week > last));
        status.next_anc_due = next_week.and_then(|week| add_days(lmp, 7 * week));
        status.overdue = status
            .next_anc_due
            .is_some_and(|due| days_between(due, as_of) > schedule.overdue_after_days);
    }
    if let Some(edd) = edd {
        let flagged = days_between(edd, as_of) >= POSTNATAL_FLAG_AFTER_EDD_DAYS;
        let counts_from = add_days(edd, -POSTNATAL_FROM_BEFORE_EDD_DAYS);
        let seen = hers(VisitKind::Postnatal)
            .any(|visit| counts_from.is_none_or(|from| visit.date >= from));
        status.edd_passed_no_postnatal = flagged && !seen;
    }
    status
}
