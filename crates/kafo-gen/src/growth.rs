//! Body measurements that fit a child's age and sex: WHO growth-standard
//! medians, moved by each child's own nutritional status.
//!
//! A child carries one nutritional score for life (mean -0.7, as in Mali's
//! surveys, about -2.75 for a child who is malnourished), so a child's weights
//! follow one curve from visit to visit, and a thin child's arm circumference
//! stays low.

use rand::Rng;

use crate::random::{normal, round_to};

/// Ages (months) of the tables below.
const AGES_MONTHS: [f64; 13] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 18.0, 24.0, 36.0, 48.0, 60.0,
];

/// Median weight (kg) for age, WHO standards.
const WEIGHT_BOYS: [f64; 13] = [
    3.3, 4.5, 5.6, 6.4, 7.0, 7.9, 8.9, 9.6, 10.9, 12.2, 14.3, 16.3, 18.3,
];
const WEIGHT_GIRLS: [f64; 13] = [
    3.2, 4.2, 5.1, 5.8, 6.4, 7.3, 8.2, 8.9, 10.2, 11.5, 13.9, 16.1, 18.2,
];

/// Median length / height (cm) for age, WHO standards.
const HEIGHT_BOYS: [f64; 13] = [
    49.9, 54.7, 58.4, 61.4, 63.9, 67.6, 72.0, 75.7, 82.3, 87.1, 96.1, 103.3, 110.0,
];
const HEIGHT_GIRLS: [f64; 13] = [
    49.1, 53.7, 57.1, 59.8, 62.1, 65.7, 70.1, 74.0, 80.7, 85.7, 95.1, 102.7, 109.4,
];

/// Median mid-upper arm circumference (mm) for age, from 3 months.
const MUAC: [f64; 13] = [
    110.0, 118.0, 126.0, 134.0, 138.0, 142.0, 146.0, 148.0, 151.0, 153.0, 157.0, 161.0, 164.0,
];

/// Below this arm circumference (mm) a child has severe acute malnutrition.
pub(crate) const MUAC_SEVERE: u16 = 115;
/// Below this arm circumference (mm) a child has moderate acute malnutrition.
pub(crate) const MUAC_MODERATE: u16 = 125;
/// Arm circumference is screened from this age (days, six months).
pub(crate) const MUAC_FROM_DAYS: i32 = 183;

/// A child's lifelong nutritional score (in standard deviations).
pub(crate) fn nutrition_score(rng: &mut impl Rng) -> f64 {
    if rng.random_bool(0.07) {
        -2.75 + 0.45 * normal(rng)
    } else {
        -0.7 + 0.9 * normal(rng)
    }
}

/// Weight (kg, one decimal, 2.5 to 20) of a child at `age_days`.
pub(crate) fn child_weight(rng: &mut impl Rng, female: bool, age_days: i32, score: f64) -> f64 {
    let table = if female { &WEIGHT_GIRLS } else { &WEIGHT_BOYS };
    let median = at_age(table, age_days);
    let weight = median * (1.0 + 0.11 * score + 0.025 * normal(rng));
    round_to(weight.clamp(2.5, 20.0), 1)
}

/// Length or height (cm, one decimal, 45 to 115) of a child at `age_days`.
pub(crate) fn child_height(rng: &mut impl Rng, female: bool, age_days: i32, score: f64) -> f64 {
    let table = if female { &HEIGHT_GIRLS } else { &HEIGHT_BOYS };
    let median = at_age(table, age_days);
    let height = median * (1.0 + 0.03 * score + 0.008 * normal(rng));
    round_to(height.clamp(45.0, 115.0), 1)
}

/// Mid-upper arm circumference (mm, 100 to 180) of a child at `age_days`.
pub(crate) fn child_muac(rng: &mut impl Rng, age_days: i32, score: f64) -> u16 {
    let muac = at_age(&MUAC, age_days) + 11.0 * score + 3.0 * normal(rng);
    // Clamped to 100..=180 first, so the conversion is exact.
    muac.round().clamp(100.0, 180.0) as u16
}

/// Weight (kg, one decimal) of an adult woman, as taken at antenatal care.
pub(crate) fn adult_weight(rng: &mut impl Rng) -> f64 {
    round_to((63.0 + 9.0 * normal(rng)).clamp(42.0, 110.0), 1)
}

/// Linear interpolation of a table at an age in days (clamped to 0..60 months).
fn at_age(table: &[f64; 13], age_days: i32) -> f64 {
    let months = (f64::from(age_days) / 30.4375).clamp(0.0, 60.0);
    for index in 1..AGES_MONTHS.len() {
        let (low, high) = (AGES_MONTHS[index - 1], AGES_MONTHS[index]);
        if months <= high {
            let share = (months - low) / (high - low);
            return table[index - 1] + share * (table[index] - table[index - 1]);
        }
    }
    table[12]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn measurements_stay_in_their_ranges_at_every_age() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for age in (0..1830).step_by(7) {
            for score in [-4.0, -2.6, 0.0, 3.5] {
                let weight = child_weight(&mut rng, age % 2 == 0, age, score);
                let height = child_height(&mut rng, age % 2 == 1, age, score);
                let muac = child_muac(&mut rng, age, score);
                assert!((2.5..=20.0).contains(&weight), "{weight}");
                assert!((45.0..=115.0).contains(&height), "{height}");
                assert!((100..=180).contains(&muac), "{muac}");
                assert_eq!(round_to(weight, 1), weight);
            }
        }
    }

    #[test]
    fn children_grow_and_thin_children_measure_thin() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let infant = child_weight(&mut rng, false, 30, 0.0);
        let toddler = child_weight(&mut rng, false, 730, 0.0);
        assert!(infant < 6.0 && toddler > 10.0, "{infant} {toddler}");
        let thin = child_muac(&mut rng, 400, -3.5);
        let well = child_muac(&mut rng, 400, 0.0);
        assert!(
            thin < MUAC_MODERATE && well > MUAC_MODERATE,
            "{thin} {well}"
        );
    }
}
