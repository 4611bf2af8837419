//! Seeding and the few random draws the generator needs.
//!
//! Every household draws from its own ChaCha8 streams, seeded from the
//! program seed and the household's place in the program (area, CHW number,
//! household number), so a household does not depend on what else is
//! generated. Only integer arithmetic and `+ - * /` on `f64` are used after
//! the draws (no `exp`, `ln` or trigonometry, whose last bits vary between
//! platforms' maths libraries), so a seed gives the same bytes everywhere.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random source of one household.
pub(crate) type HouseholdRng = ChaCha8Rng;

/// The independent streams a household draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Who lives in the household, and where it is.
    Members = 1,
    /// When and how its members are visited.
    Visits = 2,
}

/// Where a household sits in the program: what its streams are seeded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HouseholdKey<'a> {
    /// The program seed.
    pub(crate) seed: u64,
    /// The area's name.
    pub(crate) area: &'a str,
    /// The CHW's number in the program (`chw-07` is 7).
    pub(crate) chw_number: u32,
    /// The household's number in the CHW's caseload, from 1.
    pub(crate) household_number: u32,
}

impl HouseholdKey<'_> {
    /// A fresh random source for one of this household's streams.
    pub(crate) fn rng(&self, stream: Stream) -> HouseholdRng {
        let mut state = splitmix(self.seed ^ 0x6b61_666f_2d67_656e);
        state = splitmix(state ^ fnv1a(self.area.as_bytes()));
        state = splitmix(state ^ u64::from(self.chw_number));
        state = splitmix(state ^ u64::from(self.household_number));
        state = splitmix(state ^ stream as u64);
        ChaCha8Rng::seed_from_u64(state)
    }
}

/// A stable hash of a string (FNV-1a, 64 bits), independent of platform and
/// Rust version, unlike `std`'s hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The SplitMix64 finaliser: spreads every input bit over the output.
pub(crate) fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A draw of mean 0 and standard deviation 1, bell-shaped and bounded to
/// about ±3.5 (Irwin–Hall sum of four uniforms): no outlier ever leaves the
/// plausible range.
pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    let sum: f64 = (0..4).map(|_| rng.random::<f64>()).sum();
    (sum - 2.0) * 1.732_050_807_568_877_2
}

/// A uniform whole number of days in `low..high`, or `low` when the range is empty.
pub(crate) fn days_between(rng: &mut impl Rng, low: i32, high: i32) -> i32 {
    if high > low {
        rng.random_range(low..high)
    } else {
        low
    }
}

/// One item of a non-empty table, uniformly (the empty string for an empty one).
pub(crate) fn pick(rng: &mut impl Rng, items: &[&'static str]) -> &'static str {
    items.choose(rng).copied().unwrap_or_default()
}

/// One item of a table, with probability proportional to its weight.
pub(crate) fn weighted<T: Copy, const N: usize>(rng: &mut impl Rng, items: &[(T, u32); N]) -> T {
    const { assert!(N > 0, "a weighted table is never empty") };
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (item, weight) in items {
        if ticket < *weight {
            return *item;
        }
        ticket -= weight;
    }
    items[N - 1].0
}

/// Rounds to `decimals` decimal places; the result prints in at most that
/// many decimals, as JSON's shortest round-trip form.
pub(crate) fn round_to(value: f64, decimals: u8) -> f64 {
    // Powers of ten up to 10^22 are exact in f64.
    let scale = (0..decimals.min(22)).fold(1.0, |scale, _| scale * 10.0);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_every_part_of_the_key() {
        let key = HouseholdKey {
            seed: 1,
            area: "sikoro",
            chw_number: 1,
            household_number: 1,
        };
        let first = |key: HouseholdKey<'_>, stream| key.rng(stream).random::<u64>();
        let base = first(key, Stream::Members);
        assert_eq!(base, first(key, Stream::Members));
        assert_ne!(base, first(key, Stream::Visits));
        assert_ne!(
            base,
            first(HouseholdKey { seed: 2, ..key }, Stream::Members)
        );
        assert_ne!(
            base,
            first(
                HouseholdKey {
                    area: "banconi",
                    ..key
                },
                Stream::Members
            )
        );
        assert_ne!(
            base,
            first(
                HouseholdKey {
                    chw_number: 2,
                    ..key
                },
                Stream::Members
            )
        );
        assert_ne!(
            base,
            first(
                HouseholdKey {
                    household_number: 2,
                    ..key
                },
                Stream::Members
            )
        );
    }

    #[test]
    fn normal_draws_are_centred_and_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let draws: Vec<f64> = (0..10_000).map(|_| normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let variance =
            draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.1, "variance {variance}");
        assert!(draws.iter().all(|d| d.abs() <= 3.47));
    }

    #[test]
    fn weighted_never_picks_a_zero_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let table = [("never", 0), ("often", 3), ("rarely", 1)];
        let picks: Vec<&str> = (0..1000).map(|_| weighted(&mut rng, &table)).collect();
        assert!(!picks.contains(&"never"));
        let often = picks.iter().filter(|p| **p == "often").count();
        assert!((650..850).contains(&often), "{often}");
    }
}
