//! The supervisor's report: every list, computed by streaming households through a
//! [`Reporter`]. Each list applies one rule module; this file only gathers rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use kafo_model::{
    AreaId, ChwId, Household, HouseholdScope, HouseholdStatus, PartialDate, Person, PersonId, Visit,
};
use serde::Serialize;

use crate::activity::{ChwActivity, in_period, week_start};
use crate::age::{age_days, is_under_five, reference_birth_date};
use crate::growth::{self, MuacClass, Severity};
use crate::monthly::{MonthlyCounter, MonthlyIndicators};
use crate::referral::open_referrals;
use crate::schedule::Schedule;
use crate::{Period, danger, immunisation, pregnancy};

mod rows;

pub use rows::{
    ChartData, ChwRow, CoverageRow, DangerSignRow, GrowthRow, MalnutritionRow, OverdueVaccineRow,
    PregnancyRow, ReferralRow, Subject, UnknownBirthDateRow, WeightHistory,
};

/// What a report is computed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportParams {
    /// The date the report is as of: visits after it are ignored.
    pub as_of: Date,
    /// The month whose visits are counted per CHW.
    pub period: Period,
    /// The immunisation schedule.
    pub schedule: Schedule,
}

impl ReportParams {
    /// Parameters for `as_of`, `period` and `schedule`.
    pub fn new(as_of: Date, period: Period, schedule: Schedule) -> Self {
        Self {
            as_of,
            period,
            schedule,
        }
    }
}

/// The report: one list per question a supervisor asks, most urgent first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The date it is as of.
    pub as_of: Date,
    /// The month counted per CHW.
    pub period: Period,
    /// The immunisation schedule's name.
    pub schedule: String,
    /// Activity per CHW, by area and CHW.
    pub chws: Vec<ChwRow>,
    /// Doses overdue, most overdue first.
    pub overdue_vaccines: Vec<OverdueVaccineRow>,
    /// The latest measurement of each child under five.
    pub growth: Vec<GrowthRow>,
    /// Acutely malnourished children, severe first.
    pub malnutrition: Vec<MalnutritionRow>,
    /// Pregnant women, those needing action first.
    pub pregnancies: Vec<PregnancyRow>,
    /// Urgent referrals nobody followed up, oldest first.
    pub open_referrals: Vec<ReferralRow>,
    /// Danger signs of the last 7 days, latest first.
    pub danger_signs: Vec<DangerSignRow>,
    /// Children who may be under five but whose birth date is known only to the year.
    pub birth_date_unknown: Vec<UnknownBirthDateRow>,
    /// Per dose of the schedule: children it is due for, and those who had it.
    pub epi_coverage: Vec<CoverageRow>,
    /// The period's monthly indicators (what `kafo export dhis2` sends): area →
    /// indicator key → count.
    pub monthly_indicators: MonthlyIndicators,
    /// What the charts draw (not part of the JSON document).
    #[serde(skip)]
    pub charts: ChartData,
}

/// Streams households into a [`Report`]: memory holds the rows of the lists, never
/// the households.
#[derive(Debug)]
pub struct Reporter {
    params: ReportParams,
    activity: BTreeMap<(AreaId, ChwId), ChwActivity>,
    coverage: Vec<(u64, u64)>,
    monthly: MonthlyCounter,
    report: Report,
    histories: BTreeMap<PersonId, WeightHistory>,
}

impl Reporter {
    /// A reporter with nothing added yet.
    pub fn new(params: ReportParams) -> Self {
        let report = Report {
            as_of: params.as_of,
            period: params.period,
            schedule: params.schedule.name.clone(),
            chws: Vec::new(),
            overdue_vaccines: Vec::new(),
            growth: Vec::new(),
            malnutrition: Vec::new(),
            pregnancies: Vec::new(),
            open_referrals: Vec::new(),
            danger_signs: Vec::new(),
            birth_date_unknown: Vec::new(),
            epi_coverage: Vec::new(),
            monthly_indicators: MonthlyIndicators::new(),
            charts: ChartData::default(),
        };
        Self {
            coverage: vec![(0, 0); params.schedule.doses.len()],
            monthly: MonthlyCounter::new(params.period, params.as_of, &params.schedule),
            params,
            activity: BTreeMap::new(),
            report,
            histories: BTreeMap::new(),
        }
    }

    /// Adds one household (closed ones are left out).
    pub fn add(&mut self, household: &Household) {
        if household.status == HouseholdStatus::Closed {
            return;
        }
        self.monthly.add(household);
        let as_of = self.params.as_of;
        let period = self.params.period;
        self.activity
            .entry((household.area.clone(), household.chw.clone()))
            .or_default()
            .add_household(household, as_of);
        let visits: Vec<&Visit> = household
            .visits
            .iter()
            .filter(|visit| visit.date <= as_of)
            .collect();
        for visit in &visits {
            self.activity
                .entry((household.area.clone(), visit.chw.clone()))
                .or_default()
                .add_visit(visit, period, as_of);
            if in_period(visit, period, as_of) {
                *self
                    .report
                    .charts
                    .visits_per_week
                    .entry((household.area.clone(), visit.chw.clone()))
                    .or_default()
                    .entry(week_start(visit.date))
                    .or_default() += 1;
            }
        }
        let subjects: BTreeMap<&PersonId, Arc<Subject>> = household
            .members
            .iter()
            .map(|person| {
                (
                    &person.id,
                    Arc::new(subject(household, &person.id, full_name(person))),
                )
            })
            .collect();
        let at = Place {
            household,
            subjects: &subjects,
        };
        for person in &household.members {
            let mine: Vec<&Visit> = visits
                .iter()
                .copied()
                .filter(|visit| visit.person_id == person.id)
                .collect();
            self.add_child(&at, person, &mine);
            if let Some(pregnancy) = &person.pregnancy {
                let status = pregnancy::assess(&person.id, pregnancy, mine.iter().copied(), as_of);
                self.report.pregnancies.push(PregnancyRow {
                    subject: at.subject(&person.id),
                    gestational_weeks: status.gestational_weeks,
                    edd: status.edd,
                    anc_contacts: status.anc_contacts,
                    next_anc_due: status.next_anc_due,
                    overdue: status.overdue,
                    edd_passed_no_postnatal: status.edd_passed_no_postnatal,
                });
            }
        }
        for open in open_referrals(&household.visits, as_of).filter(|open| open.is_listed()) {
            self.report.open_referrals.push(ReferralRow {
                visit_id: open.visit.id.clone(),
                subject: at.subject(&open.visit.person_id),
                date: open.visit.date,
                to: open.referral.to.clone(),
                reason: open.referral.reason.clone(),
                urgent: open.referral.urgent,
                days_open: open.days_open,
            });
        }
        for visit in visits
            .iter()
            .filter(|visit| danger::is_recent_danger_sign(visit, as_of))
        {
            self.report.danger_signs.push(DangerSignRow {
                visit_id: visit.id.clone(),
                subject: at.subject(&visit.person_id),
                date: visit.date,
                signs: visit.danger_signs.clone(),
            });
        }
    }

    /// The child rules for `person`: immunisation, growth, malnutrition, unknown birth date.
    fn add_child(&mut self, at: &Place<'_>, person: &Person, visits: &[&Visit]) {
        let as_of = self.params.as_of;
        let Some(birth) = reference_birth_date(&person.birth_date) else {
            if could_be_under_five(&person.birth_date, as_of) {
                self.report.birth_date_unknown.push(UnknownBirthDateRow {
                    subject: at.subject(&person.id),
                    birth_date: person.birth_date,
                });
            }
            return;
        };
        if !is_under_five(birth, as_of) {
            return;
        }
        let schedule = &self.params.schedule;
        let given = immunisation::given_codes(&person.id, visits.iter().copied(), as_of);
        for (index, status) in immunisation::dose_statuses(schedule, birth, &given, as_of)
            .into_iter()
            .enumerate()
        {
            if status.due {
                self.coverage[index].0 += 1;
                if status.given {
                    self.coverage[index].1 += 1;
                }
            }
            if status.overdue {
                self.report.overdue_vaccines.push(OverdueVaccineRow {
                    subject: at.subject(&person.id),
                    antigen: status.dose.code.clone(),
                    due_date: status.due_date,
                    days_overdue: status.days_overdue,
                });
            }
        }
        self.add_growth(at, person, birth, visits);
    }

    fn add_growth(&mut self, at: &Place<'_>, person: &Person, birth: Date, visits: &[&Visit]) {
        let latest = |has: fn(&Visit) -> bool| {
            visits
                .iter()
                .copied()
                .filter(|visit| has(visit))
                .max_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)))
        };
        let Some(measured) = latest(|visit| {
            visit.weight_kg.is_some() || visit.height_cm.is_some() || visit.muac_mm.is_some()
        }) else {
            return;
        };
        let age = age_days(birth, measured.date);
        let scores = growth::z_scores(person.sex, age, measured.weight_kg, measured.height_cm);
        self.report.growth.push(GrowthRow {
            subject: at.subject(&person.id),
            sex: person.sex,
            date: measured.date,
            age_days: age,
            weight_kg: measured.weight_kg,
            height_cm: measured.height_cm,
            muac_mm: measured.muac_mm,
            waz: scores.waz,
            haz: scores.haz,
            whz: scores.whz,
        });
        let muac_visit = latest(|visit| visit.muac_mm.is_some());
        let muac = muac_visit.and_then(|visit| {
            let mm = visit.muac_mm?;
            Some((
                visit.date,
                mm,
                growth::muac_class(age_days(birth, visit.date), mm),
            ))
        });
        let whz_visit = latest(|visit| visit.weight_kg.is_some() && visit.height_cm.is_some());
        let whz = whz_visit.map(|visit| {
            let age = age_days(birth, visit.date);
            (
                visit.date,
                growth::z_scores(person.sex, age, visit.weight_kg, visit.height_cm).whz,
            )
        });
        let class = muac.and_then(|(_, _, class)| class);
        let Some(severity) = growth::acute_malnutrition(class, whz.and_then(|(_, whz)| whz)) else {
            return;
        };
        let date = muac
            .map(|(date, ..)| date)
            .max(whz.map(|(date, _)| date))
            .unwrap_or(measured.date);
        self.report.malnutrition.push(MalnutritionRow {
            subject: at.subject(&person.id),
            date,
            muac_mm: muac.map(|(_, mm, _)| mm),
            muac_class: class,
            whz: whz.and_then(|(_, whz)| whz),
            severe: severity == Severity::Severe,
        });
        let mut points: Vec<(i64, f64)> = visits
            .iter()
            .filter_map(|visit| Some((age_days(birth, visit.date), visit.weight_kg?)))
            .collect();
        points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        self.histories.insert(
            person.id.clone(),
            WeightHistory {
                person_id: person.id.clone(),
                name: at.subject(&person.id).name.clone(),
                sex: person.sex,
                points,
            },
        );
    }

    /// The report, with each CHW's last sync from `last_sync` (given the caseload's
    /// scope; `None` when unknown). Lists are sorted most urgent first.
    pub fn finish(mut self, last_sync: impl Fn(&HouseholdScope) -> Option<Timestamp>) -> Report {
        let mut report =
            std::mem::replace(&mut self.report, Reporter::new(self.params.clone()).report);
        report.chws = self
            .activity
            .into_iter()
            .map(|((area, chw), activity)| {
                let scope = HouseholdScope {
                    area: area.clone(),
                    chw: chw.clone(),
                };
                ChwRow {
                    last_sync: last_sync(&scope),
                    area,
                    chw,
                    households: activity.households,
                    visits_in_period: activity.visits_in_period,
                    not_visited_30d: activity.not_visited_30d,
                    not_visited_60d: activity.not_visited_60d,
                    last_visit: activity.last_visit,
                }
            })
            .collect();
        report.monthly_indicators = self.monthly.finish();
        report.epi_coverage = self
            .params
            .schedule
            .doses
            .iter()
            .zip(&self.coverage)
            .map(|(dose, (due, given))| CoverageRow {
                antigen: dose.code.clone(),
                due: *due,
                given: *given,
            })
            .collect();
        let dose_order: BTreeMap<&str, usize> = self
            .params
            .schedule
            .doses
            .iter()
            .enumerate()
            .map(|(index, dose)| (dose.code.as_str(), index))
            .collect();
        let dose = |code: &str| dose_order.get(code).copied();
        report.overdue_vaccines.sort_by(|a, b| {
            b.days_overdue
                .cmp(&a.days_overdue)
                .then_with(|| a.subject.key().cmp(&b.subject.key()))
                .then_with(|| dose(&a.antigen).cmp(&dose(&b.antigen)))
        });
        report
            .growth
            .sort_by(|a, b| a.subject.key().cmp(&b.subject.key()));
        report.malnutrition.sort_by(|a, b| {
            let class = |row: &MalnutritionRow| row.muac_class.unwrap_or(MuacClass::Normal);
            let whz = |row: &MalnutritionRow| row.whz.unwrap_or(f64::INFINITY);
            (!a.severe, class(a))
                .cmp(&(!b.severe, class(b)))
                .then(whz(a).total_cmp(&whz(b)))
                .then_with(|| a.subject.key().cmp(&b.subject.key()))
        });
        report.pregnancies.sort_by(|a, b| {
            let urgency = |row: &PregnancyRow| {
                (
                    !row.edd_passed_no_postnatal,
                    !row.overdue,
                    row.next_anc_due.is_none(),
                    row.next_anc_due,
                )
            };
            urgency(a)
                .cmp(&urgency(b))
                .then_with(|| a.subject.key().cmp(&b.subject.key()))
        });
        report.open_referrals.sort_by(|a, b| {
            b.days_open
                .cmp(&a.days_open)
                .then_with(|| (a.subject.key(), &a.visit_id).cmp(&(b.subject.key(), &b.visit_id)))
        });
        report.danger_signs.sort_by(|a, b| {
            b.date
                .cmp(&a.date)
                .then_with(|| (a.subject.key(), &a.visit_id).cmp(&(b.subject.key(), &b.visit_id)))
        });
        report
            .birth_date_unknown
            .sort_by(|a, b| a.subject.key().cmp(&b.subject.key()));
        report.charts.weight_histories = report
            .malnutrition
            .iter()
            .filter_map(|row| self.histories.remove(&row.subject.person_id))
            .collect();
        report
    }
}

/// The household a row belongs to, and its members as the rows name them.
struct Place<'h> {
    household: &'h Household,
    subjects: &'h BTreeMap<&'h PersonId, Arc<Subject>>,
}

impl Place<'_> {
    fn subject(&self, person: &PersonId) -> Arc<Subject> {
        self.subjects.get(person).cloned().unwrap_or_else(|| {
            // Not a member (a visit to someone since removed): no name to show.
            Arc::new(subject(self.household, person, String::new()))
        })
    }
}

fn subject(household: &Household, person: &PersonId, name: String) -> Subject {
    Subject {
        household_id: household.id.clone(),
        person_id: person.clone(),
        name,
        area: household.area.clone(),
        chw: household.chw.clone(),
    }
}

fn full_name(person: &Person) -> String {
    format!("{} {}", person.given_name, person.family_name)
        .trim()
        .to_owned()
}

/// Whether someone born in a year known alone may be under five on `as_of`.
fn could_be_under_five(birth_date: &PartialDate, as_of: Date) -> bool {
    let PartialDate::Year(year) = *birth_date else {
        return false;
    };
    let (Ok(first), Ok(last)) = (Date::new(year, 1, 1), Date::new(year, 12, 31)) else {
        return false;
    };
    first <= as_of && age_days(last, as_of) < crate::age::UNDER_FIVE_DAYS
}
