//! Growth: WHO 2006 Child Growth Standards z-scores (WAZ, HAZ, WHZ), MUAC classes,
//! and the acute malnutrition rule.
//!
//! - Age is in days; a measurement is scored from day 0 to the last day of WHO's
//!   tables (1,826; see `data/who/README.md`), else its z-scores are `None`.
//! - Format v1 does not say how a child was measured: length under
//!   [`LENGTH_UNTIL_DAYS`], height from then on, so WHO's ±0.7 cm conversion never
//!   applies. Weight-for-length is used under that age, weight-for-height from it; a
//!   length or height outside the table's range gives no WHZ.
//! - Lengths and heights are looked up at the nearest 0.1 cm.
//! - The weight indicators use WHO's restricted z beyond ±3.
//! - Values are rounded to 2 decimals ([`z_scores`]); [`z_scores_exact`] keeps them whole.

mod tables;
mod zscore;

use kafo_model::Sex;
use serde::Serialize;

pub use tables::Lms;
pub use zscore::{lms_z, restricted_z, round2, value_at};

/// Children are measured lying (length) under this age in days, standing (height) from it.
pub const LENGTH_UNTIL_DAYS: i64 = 731;

/// MUAC classifies children of these ages in days (6 to 59 months).
pub const MUAC_AGE_DAYS: std::ops::RangeInclusive<i64> = 183..=1825;

/// MUAC below this (mm) is severe acute malnutrition.
pub const MUAC_SAM_BELOW_MM: u16 = 115;

/// MUAC below this (mm), and not SAM, is moderate acute malnutrition.
pub const MUAC_MAM_BELOW_MM: u16 = 125;

/// WHZ below this is acute malnutrition.
pub const WHZ_MALNOURISHED_BELOW: f64 = -2.0;

/// WHZ below this is severe acute malnutrition.
pub const WHZ_SEVERE_BELOW: f64 = -3.0;

/// A child's z-scores at one measurement; `None` where not computable.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ZScores {
    /// Weight-for-age.
    pub waz: Option<f64>,
    /// Length/height-for-age.
    pub haz: Option<f64>,
    /// Weight-for-length/height.
    pub whz: Option<f64>,
}

/// The z-scores of a measurement at `age_days`, rounded to 2 decimals.
pub fn z_scores(
    sex: Sex,
    age_days: i64,
    weight_kg: Option<f64>,
    height_cm: Option<f64>,
) -> ZScores {
    let exact = z_scores_exact(sex, age_days, weight_kg, height_cm);
    ZScores {
        waz: exact.waz.map(round2),
        haz: exact.haz.map(round2),
        whz: exact.whz.map(round2),
    }
}

/// The z-scores of a measurement at `age_days`, unrounded.
pub fn z_scores_exact(
    sex: Sex,
    age_days: i64,
    weight_kg: Option<f64>,
    height_cm: Option<f64>,
) -> ZScores {
    let tables = tables::tables();
    let (first_day, last_day) = tables.wfa.of(sex).range();
    if !(first_day..=last_day).contains(&age_days) {
        return ZScores::default();
    }
    let waz = weight_kg.and_then(|weight| {
        let lms = tables.wfa.of(sex).at(age_days)?;
        restricted_z(weight, lms)
    });
    let haz = height_cm.and_then(|height| {
        let lms = tables.lhfa.of(sex).at(age_days)?;
        lms_z(height, lms)
    });
    let whz = weight_kg.zip(height_cm).and_then(|(weight, height)| {
        let table = if age_days < LENGTH_UNTIL_DAYS {
            &tables.wfl
        } else {
            &tables.wfh
        };
        let lms = table.of(sex).at(tenths_of_cm(height)?)?;
        restricted_z(weight, lms)
    });
    ZScores { waz, haz, whz }
}

/// The weight (kg) on WHO's weight-for-age curve at z-score `z` (e.g. −3, −2, 0, +2,
/// +3) for `age_days`, for charts.
pub fn weight_for_age_curve(sex: Sex, age_days: i64, z: f64) -> Option<f64> {
    let lms = tables::tables().wfa.of(sex).at(age_days)?;
    value_at(z, lms)
}

/// The last age in days that WHO's tables score.
pub fn last_scored_day() -> i64 {
    tables::tables().wfa.of(Sex::Female).range().1
}

fn tenths_of_cm(cm: f64) -> Option<i64> {
    let tenths = (cm * 10.0).round();
    (tenths.is_finite() && tenths.abs() < 1e9).then_some(tenths as i64)
}

/// The MUAC class of a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MuacClass {
    /// Severe acute malnutrition (< 115 mm).
    Sam,
    /// Moderate acute malnutrition (115–124 mm).
    Mam,
    /// Neither.
    Normal,
}

impl MuacClass {
    /// The class's code: `sam`, `mam` or `normal`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sam => "sam",
            Self::Mam => "mam",
            Self::Normal => "normal",
        }
    }
}

/// The class of a MUAC taken at `age_days`; `None` outside [`MUAC_AGE_DAYS`].
pub fn muac_class(age_days: i64, muac_mm: u16) -> Option<MuacClass> {
    if !MUAC_AGE_DAYS.contains(&age_days) {
        return None;
    }
    Some(if muac_mm < MUAC_SAM_BELOW_MM {
        MuacClass::Sam
    } else if muac_mm < MUAC_MAM_BELOW_MM {
        MuacClass::Mam
    } else {
        MuacClass::Normal
    })
}

/// Acute malnutrition from a child's latest MUAC class and latest WHZ (each from the
/// latest visit that recorded it): `None` when neither says malnourished, else
/// whether it is severe (SAM by MUAC, or WHZ < −3).
pub fn acute_malnutrition(
    latest_muac: Option<MuacClass>,
    latest_whz: Option<f64>,
) -> Option<Severity> {
    let muac_says = matches!(latest_muac, Some(MuacClass::Sam | MuacClass::Mam));
    let whz_says = latest_whz.is_some_and(|whz| whz < WHZ_MALNOURISHED_BELOW);
    if !muac_says && !whz_says {
        return None;
    }
    let severe =
        latest_muac == Some(MuacClass::Sam) || latest_whz.is_some_and(|whz| whz < WHZ_SEVERE_BELOW);
    Some(if severe {
        Severity::Severe
    } else {
        Severity::Moderate
    })
}

/// How severe acute malnutrition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// SAM by MUAC, or WHZ < −3.
    Severe,
    /// Otherwise.
    Moderate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muac_classes_follow_the_cut_offs_and_ages() {
        assert_eq!(muac_class(400, 114), Some(MuacClass::Sam));
        assert_eq!(muac_class(400, 115), Some(MuacClass::Mam));
        assert_eq!(muac_class(400, 124), Some(MuacClass::Mam));
        assert_eq!(muac_class(400, 125), Some(MuacClass::Normal));
        assert_eq!(muac_class(182, 100), None);
        assert_eq!(muac_class(183, 100), Some(MuacClass::Sam));
        assert_eq!(muac_class(1825, 100), Some(MuacClass::Sam));
        assert_eq!(muac_class(1826, 100), None);
    }

    #[test]
    fn malnutrition_is_muac_or_whz_and_severity_either_severe_sign() {
        assert_eq!(
            acute_malnutrition(Some(MuacClass::Normal), Some(-1.0)),
            None
        );
        assert_eq!(acute_malnutrition(None, Some(-2.0)), None);
        assert_eq!(
            acute_malnutrition(None, Some(-2.01)),
            Some(Severity::Moderate)
        );
        assert_eq!(
            acute_malnutrition(Some(MuacClass::Mam), None),
            Some(Severity::Moderate)
        );
        assert_eq!(
            acute_malnutrition(Some(MuacClass::Sam), Some(0.5)),
            Some(Severity::Severe)
        );
        assert_eq!(
            acute_malnutrition(Some(MuacClass::Normal), Some(-3.01)),
            Some(Severity::Severe)
        );
        assert_eq!(
            acute_malnutrition(Some(MuacClass::Mam), Some(-3.0)),
            Some(Severity::Moderate)
        );
    }

    #[test]
    fn scoring_stops_at_the_tables_last_day_and_the_length_ranges() {
        assert_eq!(last_scored_day(), 1826);
        let beyond = z_scores(Sex::Female, 1827, Some(15.0), Some(100.0));
        assert_eq!(beyond, ZScores::default());
        let before_birth = z_scores(Sex::Female, -1, Some(3.0), Some(50.0));
        assert_eq!(before_birth, ZScores::default());
        // 112 cm is beyond weight-for-length (to 110 cm) at 700 days: no WHZ.
        let long = z_scores(Sex::Male, 700, Some(18.0), Some(112.0));
        assert!(long.whz.is_none() && long.waz.is_some() && long.haz.is_some());
        // The same child measured standing at 731 days uses weight-for-height.
        assert!(
            z_scores(Sex::Male, 731, Some(18.0), Some(112.0))
                .whz
                .is_some()
        );
    }

    #[test]
    fn the_median_child_scores_zero() {
        let tables = tables::tables();
        let median = tables.wfa.of(Sex::Male).at(365).expect("day 365").m;
        let scores = z_scores(Sex::Male, 365, Some(median), None);
        assert_eq!(scores.waz, Some(0.0));
        let curve = weight_for_age_curve(Sex::Male, 365, 0.0).expect("day 365");
        assert!((curve - median).abs() < 1e-12);
    }
}
