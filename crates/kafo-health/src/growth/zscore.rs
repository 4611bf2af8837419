//! WHO's LMS method: the z-score of a measurement, and WHO's restricted z-score for
//! the weight indicators beyond ±3 (WHO 2006, Methods and development, ch. 7).

use crate::growth::tables::Lms;

/// The plain LMS z-score of `x`, or `None` when it is not computable.
pub fn lms_z(x: f64, lms: Lms) -> Option<f64> {
    let Lms { l, m, s } = lms;
    if !(x > 0.0 && m > 0.0 && s > 0.0) {
        return None;
    }
    let z = if l.abs() < 1e-10 {
        (x / m).ln() / s
    } else {
        ((x / m).powf(l) - 1.0) / (l * s)
    };
    z.is_finite().then_some(z)
}

/// The measurement at z-score `z`: `M (1 + L S z)^(1/L)`.
pub fn value_at(z: f64, lms: Lms) -> Option<f64> {
    let Lms { l, m, s } = lms;
    let value = if l.abs() < 1e-10 {
        m * (s * z).exp()
    } else {
        m * (1.0 + l * s * z).powf(1.0 / l)
    };
    value.is_finite().then_some(value)
}

/// WHO's restricted z-score: beyond ±3 the distance is measured in units of the gap
/// between the ±2 and ±3 SD values, so the skewed tail does not inflate it.
pub fn restricted_z(x: f64, lms: Lms) -> Option<f64> {
    let z = lms_z(x, lms)?;
    let restricted = if z > 3.0 {
        let sd3 = value_at(3.0, lms)?;
        let sd23 = sd3 - value_at(2.0, lms)?;
        3.0 + (x - sd3) / sd23
    } else if z < -3.0 {
        let sd3 = value_at(-3.0, lms)?;
        let sd23 = value_at(-2.0, lms)? - sd3;
        -3.0 + (x - sd3) / sd23
    } else {
        z
    };
    restricted.is_finite().then_some(restricted)
}

/// `value` rounded to 2 decimals, as the report shows z-scores.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
