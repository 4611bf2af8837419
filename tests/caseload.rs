//! Small kafo-gen caseloads for tests: a few CHWs of area `sikoro`, tens of households.

use kafo_gen::GeneratorConfig;
use kafo_model::{Household, HouseholdScope};

/// A program of `chws` CHWs in `sikoro`, `households` households each, about ten visits
/// per household, from `seed`.
pub fn program(seed: u64, chws: u32, households: u32) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        chws,
        households_per_chw: households,
        visits_per_chw: households * 10,
        ..GeneratorConfig::default()
    }
}

/// Every household of one CHW of `config` (`chw` as in `chw-01`).
pub fn of_chw(config: &GeneratorConfig, chw: &str) -> anyhow::Result<Vec<Household>> {
    let scope = HouseholdScope {
        area: config
            .areas
            .first()
            .ok_or_else(|| anyhow::anyhow!("the program has no area"))?
            .clone(),
        chw: chw.parse()?,
    };
    Ok(kafo_gen::generate_chw(config, &scope)?.collect())
}
