//! Seeded generator of realistic caseloads in interchange format v1, for
//! tests, benchmarks, examples and the field simulator.
//!
//! What it does: from a [`GeneratorConfig`] (a seed, the areas, the CHWs of
//! the program, households and visits per CHW, a period) it streams typed
//! [`kafo_model::Household`] records that look like a Bamako program:
//! households of 2 to 10 people (a head, one or two mothers, their children
//! with `mother_id`, sometimes elders) with Bambara, Malinké, Peul, Soninké
//! and Sonrhaï names; birth dates as they are known (full for children, often
//! only `YYYY` or `YYYY-MM`, estimated, for adults); about one woman of
//! childbearing age in ten pregnant (`edd = lmp + 280 days`); visits over the
//! period by what each person needs: Mali's EPI contacts (BCG, OPV0-3,
//! Penta1-3, PCV1-3, Rota1-2, IPV1, MR1-2, YF, MenA) at the ages they fall
//! due, growth monitoring of under-fives with weight, height and MUAC that
//! follow WHO medians and each child's nutritional status, antenatal and
//! postnatal care around pregnancies and births, sick-child visits with danger
//! signs and referrals to `cscom-<area>` (urgent for convulsions, inability to
//! feed, lethargy, bleeding), routine visits, French notes on half the
//! visits, GPS positions for 60% of households. Ids follow the sample
//! fixtures: `AREA-chw-NN-hNNNN`, `...hNNNN.pN`, `...hNNNN.vNNNNN`.
//! Every household passes the format's rules (ranges, real dates, members
//! referenced, unique ids in the id alphabet).
//!
//! The same seed gives the same bytes, on any platform, for a given version
//! of this crate and of `rand_chacha`. Each household draws from its own
//! ChaCha8 streams seeded from (seed, area, CHW number, household number),
//! and a CHW's visits are shared among its own households only, so one CHW
//! generated alone ([`generate_chw`]) equals that CHW in the whole program;
//! growing the program leaves a CHW's households as they were as long as it
//! keeps its area, its number and its relief colleague (the next CHW of its
//! area, who makes about 4% of its visits). Each CHW makes exactly
//! [`GeneratorConfig::visits_per_chw`] visits, shared among its households by
//! need (first what their situation schedules, then by members' weighted days).
//! Streaming: memory holds one household and one number per household of the
//! current CHW, never the caseload (2.6 MB peak RSS writing the default
//! program, in about half a second in release mode).
//!
//! What it does not do: it writes no automerge documents and touches no
//! store (import the output, or map the records with `kafo-model`); it
//! models no history of edits and no conflicts between devices; its
//! epidemiology is plausible, not calibrated; visits are not tied to a CHW's
//! daily capacity. It never reads the clock or the OS's randomness.
//!
//! How to drive it:
//!
//! ```
//! use kafo_gen::{GeneratorConfig, generate, write_jsonl};
//!
//! // The program of the brief: 57 CHWs in sikoro, 120 households each.
//! let program = GeneratorConfig::default();
//! assert_eq!(program.household_count(), 6_840);
//!
//! // A smaller one, streamed as typed records ...
//! let small = GeneratorConfig {
//!     seed: 7,
//!     areas: GeneratorConfig::bamako_areas(2),
//!     chws: 2,
//!     households_per_chw: 10,
//!     visits_per_chw: 200,
//!     ..GeneratorConfig::default()
//! };
//! small.check()?;
//! let households: Vec<_> = generate(&small).collect();
//! assert_eq!(households.len(), 20);
//! assert_eq!(households[0].id.as_str(), "sikoro-chw-01-h0001");
//!
//! // ... or written as canonical JSON Lines.
//! let mut out = Vec::new();
//! let summary = write_jsonl(&small, &mut out)?;
//! assert_eq!(summary.visits, 400);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod calendar;
mod config;
mod growth;
mod household;
mod names;
mod notes;
mod random;
mod stream;
mod visits;

use std::io::{self, BufWriter, Write};

use kafo_model::HouseholdScope;
use kafo_model::canonical::to_line;
use serde::Serialize;

pub use config::{ConfigError, DEFAULT_SEED, GeneratorConfig, MAX_CHWS, MAX_DAYS};
pub use names::BAMAKO_AREAS;
pub use stream::Households;

/// Streams every household of the program, in id order.
///
/// A configuration that [`GeneratorConfig::check`] refuses generates nothing.
pub fn generate(config: &GeneratorConfig) -> Households {
    Households::new(config, stream::caseloads(config))
}

/// Streams the households of one CHW, exactly as [`generate`] produces them.
pub fn generate_chw(
    config: &GeneratorConfig,
    scope: &HouseholdScope,
) -> Result<Households, GenerateChwError> {
    config.check()?;
    Households::only(config, scope).ok_or_else(|| GenerateChwError::NotInProgram {
        scope: scope.clone(),
    })
}

/// Why [`generate_chw`] could not generate a CHW's caseload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateChwError {
    /// The configuration is refused by [`GeneratorConfig::check`].
    #[error("cannot generate this program: {0}")]
    Config(#[from] ConfigError),
    /// The configuration has no such area, or no such CHW in it.
    #[error("the program has no caseload {scope}")]
    NotInProgram {
        /// The scope asked for.
        scope: HouseholdScope,
    },
}

/// What [`write_jsonl`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GenerateSummary {
    /// Households (lines).
    pub households: u64,
    /// People in them.
    pub people: u64,
    /// Visits in them.
    pub visits: u64,
    /// Bytes written, newlines included.
    pub bytes: u64,
}

/// Writes every household of the program as canonical JSON Lines (the form
/// `kafo export` writes), one household at a time, and flushes the writer.
///
/// A configuration that [`GeneratorConfig::check`] refuses is an
/// [`io::ErrorKind::InvalidInput`] error carrying the [`ConfigError`], before
/// anything is written.
pub fn write_jsonl(config: &GeneratorConfig, writer: impl Write) -> io::Result<GenerateSummary> {
    config
        .check()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let mut writer = BufWriter::with_capacity(1 << 16, writer);
    let mut summary = GenerateSummary::default();
    for household in generate(config) {
        // Fails only on non-finite numbers, which the generator never makes.
        let line = to_line(&household).map_err(io::Error::other)?;
        writer.write_all(line.as_bytes())?;
        writer.write_all(b"\n")?;
        summary.households += 1;
        summary.people += household.members.len() as u64;
        summary.visits += household.visits.len() as u64;
        summary.bytes += line.len() as u64 + 1;
    }
    writer.flush()?;
    Ok(summary)
}
