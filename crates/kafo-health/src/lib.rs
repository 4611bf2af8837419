//! Kafo's clinical rules, as pure functions of format v1 households and a date.
//!
//! What it does: given households ([`kafo_model::Household`]) and the date `as_of`,
//! it computes what a supervisor acts on: overdue vaccines ([`immunisation`], from an
//! EPI [`schedule`] that is data), WHO 2006 growth z-scores and acute malnutrition
//! ([`growth`], from WHO's LMS tables vendored unchanged), antenatal care
//! ([`pregnancy`]), urgent referrals nobody followed up ([`referral`]), recent danger
//! signs ([`danger`]), each CHW's activity ([`activity`]) and the monthly indicators
//! a health centre owes the district ([`monthly`], what the DHIS2 export sends).
//! [`Reporter`] streams households one at a time into a [`Report`]. Each rule lives in one module and is a
//! public function, so that the report and the exports count the same things.
//!
//! What it does not do: no IO, no clock (the date comes in as an argument), no
//! logging (it sees names). Reading the store and learning when devices last synced
//! is the `kafo` crate's job (`Node::report`); printing is `kafo-cli`'s.
//!
//! How to drive it:
//! ```
//! use kafo_health::{Period, ReportParams, Reporter, Schedule};
//!
//! let as_of = jiff::civil::date(2026, 11, 30);
//! let params = ReportParams::new(as_of, Period::of(as_of), Schedule::mali_epi().clone());
//! let mut reporter = Reporter::new(params);
//! # let households: Vec<kafo_model::Household> = Vec::new();
//! for household in &households {
//!     reporter.add(household);
//! }
//! let report = reporter.finish(|_scope| None);
//! assert!(report.overdue_vaccines.is_empty());
//! ```

pub mod activity;
pub mod age;
pub mod danger;
pub mod growth;
pub mod immunisation;
pub mod monthly;
pub mod period;
pub mod pregnancy;
pub mod referral;
mod report;
pub mod schedule;

pub use monthly::{MonthlyCounter, MonthlyIndicators, indicator_keys};
pub use period::{ParsePeriodError, Period};
pub use report::{
    ChartData, ChwRow, CoverageRow, DangerSignRow, GrowthRow, MalnutritionRow, OverdueVaccineRow,
    PregnancyRow, ReferralRow, Report, ReportParams, Reporter, Subject, UnknownBirthDateRow,
    WeightHistory,
};
pub use schedule::{Dose, Schedule, ScheduleError};
