//! The rows of the report's lists, as the JSON document and the CSV files show them.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use kafo_model::{AreaId, ChwId, HouseholdId, PartialDate, PersonId, Sex, VisitId};
use serde::Serialize;

use crate::growth::MuacClass;

/// Who and where a row is about. Names are shown to the supervisor, never logged.
/// The rows about one person share one `Subject` (a district report lists about a
/// million overdue doses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// Household.
    pub household_id: HouseholdId,
    /// The person.
    pub person_id: PersonId,
    /// Their name (given and family).
    pub name: String,
    /// The household's area.
    pub area: AreaId,
    /// The household's CHW.
    pub chw: ChwId,
}

impl Subject {
    /// The order rows are listed in when nothing more urgent decides: area, CHW,
    /// household, person.
    pub fn key(&self) -> (&AreaId, &ChwId, &HouseholdId, &PersonId) {
        (&self.area, &self.chw, &self.household_id, &self.person_id)
    }
}

/// A CHW's activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChwRow {
    /// Area.
    pub area: AreaId,
    /// CHW.
    pub chw: ChwId,
    /// Households followed (not closed).
    pub households: u64,
    /// Visits made in the period.
    pub visits_in_period: u64,
    /// Households nobody visited in the 30 days ending on `as_of`.
    pub not_visited_30d: u64,
    /// Households nobody visited in the 60 days ending on `as_of`.
    pub not_visited_60d: u64,
    /// The last visit this CHW made.
    pub last_visit: Option<Date>,
    /// The last successful sync with a device enrolled for this caseload; `None` when unknown.
    pub last_sync: Option<Timestamp>,
}

/// A dose overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueVaccineRow {
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// The dose's code.
    pub antigen: String,
    /// When it fell due.
    pub due_date: Date,
    /// `as_of − due_date`.
    pub days_overdue: i64,
}

/// The latest measurement of a child under five.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrowthRow {
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// Sex.
    pub sex: Sex,
    /// Date of the measurement.
    pub date: Date,
    /// Age in days at the measurement.
    pub age_days: i64,
    /// Weight.
    pub weight_kg: Option<f64>,
    /// Length or height.
    pub height_cm: Option<f64>,
    /// MUAC.
    pub muac_mm: Option<u16>,
    /// Weight-for-age z.
    pub waz: Option<f64>,
    /// Length/height-for-age z.
    pub haz: Option<f64>,
    /// Weight-for-length/height z.
    pub whz: Option<f64>,
}

/// An acutely malnourished child.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MalnutritionRow {
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// The later of the latest MUAC's and the latest WHZ's dates.
    pub date: Date,
    /// The latest MUAC.
    pub muac_mm: Option<u16>,
    /// Its class (`sam`, `mam`, `normal`); none outside 6–59 months.
    pub muac_class: Option<MuacClass>,
    /// The latest WHZ.
    pub whz: Option<f64>,
    /// SAM by MUAC or WHZ < −3.
    pub severe: bool,
}

/// A pregnant woman's antenatal care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PregnancyRow {
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// Whole weeks of gestation on `as_of`.
    pub gestational_weeks: Option<i64>,
    /// Expected delivery date (recorded, else LMP + 280 days).
    pub edd: Option<Date>,
    /// ANC visits since the LMP.
    pub anc_contacts: u32,
    /// When her next ANC contact is due; none past week 40.
    pub next_anc_due: Option<Date>,
    /// Whether it is overdue.
    pub overdue: bool,
    /// EDD 14 days past and no postnatal visit.
    pub edd_passed_no_postnatal: bool,
}

/// An urgent referral nobody followed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferralRow {
    /// The visit that referred.
    pub visit_id: VisitId,
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// Date of the referral.
    pub date: Date,
    /// Where to.
    pub to: String,
    /// Why.
    pub reason: String,
    /// Whether urgent (always, in this list).
    pub urgent: bool,
    /// `as_of − date`.
    pub days_open: i64,
}

/// Danger signs recorded at a visit in the last 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DangerSignRow {
    /// The visit.
    pub visit_id: VisitId,
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// Date.
    pub date: Date,
    /// The signs.
    pub signs: Vec<String>,
}

/// A child whose birth date is known only to the year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownBirthDateRow {
    /// Who and where: household, person, name, area and CHW.
    #[serde(flatten)]
    pub subject: Arc<Subject>,
    /// The birth date as recorded (`YYYY`).
    pub birth_date: PartialDate,
}

/// Coverage of one dose among the children it is due for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageRow {
    /// The dose's code.
    pub antigen: String,
    /// Children under five with a known birth date for whom it fell due by `as_of`.
    pub due: u64,
    /// Of those, the children who had it.
    pub given: u64,
}

/// What the HTML charts draw, gathered while streaming.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartData {
    /// Visits in the period per CHW (`area/chw`) per week (its Monday).
    pub visits_per_week: BTreeMap<(AreaId, ChwId), BTreeMap<Date, u64>>,
    /// The weights over age of each malnourished child, in the malnutrition list's order.
    pub weight_histories: Vec<WeightHistory>,
}

/// A child's weights over age.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightHistory {
    /// The child.
    pub person_id: PersonId,
    /// Name.
    pub name: String,
    /// Sex (for WHO's curves).
    pub sex: Sex,
    /// `(age in days, weight in kg)`, by age.
    pub points: Vec<(i64, f64)>,
}
