//! The stream of generated households: CHW by CHW in id order, household by
//! household, holding only one CHW's visit quotas at a time.

use kafo_model::{AreaId, ChwId, Household, HouseholdId, HouseholdScope, HouseholdStatus};

use crate::config::{GeneratorConfig, IdWidths};
use crate::household::{Composition, Setting, compose};
use crate::random::{HouseholdKey, Stream};
use crate::visits::{VisitSetting, Window, free_visit_weight, scheduled, visits};

/// The households of a program (or of one CHW), generated one at a time in id order.
///
/// Made by [`crate::generate`] and [`crate::generate_chw`]. Memory stays
/// bounded by one household plus one number per household of the current CHW.
#[derive(Debug, Clone)]
pub struct Households {
    config: GeneratorConfig,
    widths: IdWidths,
    caseloads: Vec<Caseload>,
    /// Index into `caseloads` of the CHW being generated.
    current: usize,
    /// Visits of each household of the current CHW, computed when it starts.
    quotas: Vec<u32>,
    /// Number of the next household of the current CHW, from 1.
    next_number: u32,
}

/// One CHW's caseload: who and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caseload {
    area: AreaId,
    chw: ChwId,
    chw_number: u32,
    /// Another CHW of the same area, who covers for this one now and then.
    relief_chw: Option<ChwId>,
    /// What the ids of this caseload's households start with, `AREA-CHW-h`.
    id_prefix: String,
    referral_to: String,
}

impl Caseload {
    fn scope(&self) -> HouseholdScope {
        HouseholdScope {
            area: self.area.clone(),
            chw: self.chw.clone(),
        }
    }
}

/// Every caseload of the program, in the order of their households' ids
/// (none when the configuration is refused by [`GeneratorConfig::check`]).
pub(crate) fn caseloads(config: &GeneratorConfig) -> Vec<Caseload> {
    if config.check().is_err() {
        return Vec::new();
    }
    let widths = IdWidths::of(config);
    let mut caseloads: Vec<Caseload> = config
        .chw_blocks()
        .flat_map(|(area, numbers)| {
            let first = numbers.start;
            let last = numbers.end.saturating_sub(1);
            numbers.map(move |chw_number| {
                let relief_number = if chw_number < last {
                    chw_number + 1
                } else {
                    first
                };
                let chw = widths.chw_id(chw_number);
                Caseload {
                    area: area.clone(),
                    relief_chw: (relief_number != chw_number).then(|| widths.chw_id(relief_number)),
                    id_prefix: format!("{area}-{chw}-h"),
                    referral_to: format!("cscom-{area}"),
                    chw,
                    chw_number,
                }
            })
        })
        .collect();
    // Household ids of different caseloads differ before the household
    // number, so sorting the prefixes sorts the ids.
    caseloads.sort_by(|a, b| a.id_prefix.cmp(&b.id_prefix));
    caseloads
}

impl Households {
    pub(crate) fn new(config: &GeneratorConfig, caseloads: Vec<Caseload>) -> Self {
        Self {
            config: config.clone(),
            widths: IdWidths::of(config),
            caseloads,
            current: 0,
            quotas: Vec::new(),
            next_number: 1,
        }
    }

    /// Only the caseload of `scope`, if the (valid) program has it.
    pub(crate) fn only(config: &GeneratorConfig, scope: &HouseholdScope) -> Option<Self> {
        let caseload = caseloads(config)
            .into_iter()
            .find(|caseload| caseload.scope() == *scope)?;
        Some(Self::new(config, vec![caseload]))
    }

    fn window(&self, composition: &Composition) -> Window {
        let end = self.config.end_day();
        Window {
            start: self.config.start_day(),
            end: composition.closed_on.map_or(end, |closed| closed.min(end)),
        }
    }

    fn household_id(&self, caseload: &Caseload, number: u32) -> HouseholdId {
        HouseholdId::parse(format!(
            "{}{number:0width$}",
            caseload.id_prefix,
            width = self.widths.household
        ))
        .expect("the config checked that the longest visit id, longer than any household id, fits")
    }

    fn compose(&self, caseload: &Caseload, number: u32, id: &HouseholdId) -> Composition {
        let setting = Setting {
            household_id: id,
            area: caseload.area.as_str(),
            chw_number: caseload.chw_number,
            start: self.config.start_day(),
            end: self.config.end_day(),
        };
        compose(
            &mut self.key(caseload, number).rng(Stream::Members),
            &setting,
        )
    }

    fn key<'a>(&self, caseload: &'a Caseload, number: u32) -> HouseholdKey<'a> {
        HouseholdKey {
            seed: self.config.seed,
            area: caseload.area.as_str(),
            chw_number: caseload.chw_number,
            household_number: number,
        }
    }

    /// Shares the CHW's visits among its households: first what each
    /// household's situation schedules, then the rest in proportion to its
    /// members' weighted days. Exact, by largest remainders.
    fn share_visits(&self, caseload: &Caseload) -> Vec<u32> {
        let mut scheduled_counts = Vec::new();
        let mut free_weights = Vec::new();
        for number in 1..=self.config.households_per_chw {
            let id = self.household_id(caseload, number);
            let composition = self.compose(caseload, number, &id);
            let window = self.window(&composition);
            let mut rng = self.key(caseload, number).rng(Stream::Visits);
            scheduled_counts.push(scheduled(&mut rng, &composition, window).len() as u64);
            free_weights.push(free_visit_weight(&composition, window));
        }
        let total = u64::from(self.config.visits_per_chw);
        let scheduled_total: u64 = scheduled_counts.iter().sum();
        if total <= scheduled_total {
            return share(total, &scheduled_counts);
        }
        let free = share(total - scheduled_total, &free_weights);
        scheduled_counts
            .iter()
            .zip(free)
            .map(|(scheduled, free)| {
                u32::try_from(*scheduled)
                    .unwrap_or(u32::MAX)
                    .saturating_add(free)
            })
            .collect()
    }

    fn household(&self, caseload: &Caseload, number: u32, quota: u32) -> Household {
        let id = self.household_id(caseload, number);
        let composition = self.compose(caseload, number, &id);
        let window = self.window(&composition);
        let mut rng = self.key(caseload, number).rng(Stream::Visits);
        let planned = scheduled(&mut rng, &composition, window);
        let setting = VisitSetting {
            household_id: &id,
            chw: &caseload.chw,
            relief_chw: caseload.relief_chw.as_ref(),
            referral_to: &caseload.referral_to,
            visit_width: self.widths.visit,
        };
        let visits = visits(
            &mut rng,
            &composition,
            window,
            planned,
            quota as usize,
            &setting,
        );
        let mut members: Vec<_> = composition
            .members
            .into_iter()
            .map(|member| member.person)
            .collect();
        // Canonical order, so that a household equals itself read back from its line.
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Household {
            id,
            area: caseload.area.clone(),
            chw: caseload.chw.clone(),
            name: composition.name,
            location: composition.location,
            status: if composition.closed_on.is_some() {
                HouseholdStatus::Closed
            } else {
                HouseholdStatus::Active
            },
            members,
            visits,
        }
    }

    fn remaining(&self) -> u64 {
        let per_chw = u64::from(self.config.households_per_chw);
        let later_chws = self.caseloads.len().saturating_sub(self.current + 1) as u64;
        let in_current = if self.current < self.caseloads.len() {
            per_chw + 1 - u64::from(self.next_number).min(per_chw + 1)
        } else {
            0
        };
        later_chws * per_chw + in_current
    }
}

impl Iterator for Households {
    type Item = Household;

    fn next(&mut self) -> Option<Household> {
        loop {
            let caseload = self.caseloads.get(self.current)?;
            if self.next_number > self.config.households_per_chw {
                self.current += 1;
                self.next_number = 1;
                self.quotas.clear();
                continue;
            }
            if self.next_number == 1 {
                self.quotas = self.share_visits(caseload);
            }
            let number = self.next_number;
            let quota = self.quotas.get(number as usize - 1).copied().unwrap_or(0);
            let household = self.household(caseload, number, quota);
            self.next_number += 1;
            return Some(household);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match usize::try_from(self.remaining()) {
            Ok(remaining) => (remaining, Some(remaining)),
            Err(_) => (usize::MAX, None),
        }
    }
}

/// `total` shared in proportion to `weights` by largest remainders: the
/// shares sum to `total` exactly (when any weight is positive), ties go to
/// the earlier household.
fn share(total: u64, weights: &[u64]) -> Vec<u32> {
    let sum: u128 = weights.iter().map(|weight| u128::from(*weight)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = u128::from(total) * u128::from(*weight);
        shares.push(u32::try_from(exact / sum).unwrap_or(u32::MAX));
        remainders.push((exact % sum, index));
    }
    let given: u64 = shares.iter().map(|share| u64::from(*share)).sum();
    let missing = total.saturating_sub(given) as usize;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take(missing) {
        if let Some(share) = shares.get_mut(index) {
            *share += 1;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_the_total_in_proportion() {
        assert_eq!(share(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(share(7, &[0, 5, 2]), [0, 5, 2]);
        assert_eq!(share(5, &[0, 0]), [0, 0]);
        let shares = share(2_500, &[3, 17, 0, 120, 55, 9]);
        assert_eq!(shares.iter().sum::<u32>(), 2_500);
        assert_eq!(shares[2], 0);
    }

    #[test]
    fn caseloads_come_in_household_id_order() {
        let config = GeneratorConfig {
            areas: ["sirakoro", "banconi"]
                .map(|area| AreaId::parse(area).expect("valid"))
                .to_vec(),
            chws: 4,
            ..GeneratorConfig::default()
        };
        let prefixes: Vec<String> = caseloads(&config)
            .into_iter()
            .map(|c| c.id_prefix)
            .collect();
        assert_eq!(
            prefixes,
            [
                "banconi-chw-03-h",
                "banconi-chw-04-h",
                "sirakoro-chw-01-h",
                "sirakoro-chw-02-h"
            ]
        );
    }
}
