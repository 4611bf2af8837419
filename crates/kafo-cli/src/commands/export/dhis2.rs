//! `kafo export dhis2 --period YYYY-MM --mapping FILE [--out FILE] [--schedule FILE]`:
//! the month's indicators per area, counted by `kafo-health` (the same counts as
//! `kafo report`'s `monthly_indicators`), as DHIS2 dataValueSets JSON. Everything is
//! checked before anything is written.

use std::path::Path;

use kafo::health::{MonthlyCounter, Period, Schedule, indicator_keys};
use kafo_interop::dhis2::{self, Mapping};
use serde::Serialize;

use super::write_output;
use crate::cli::Dhis2Args;
use crate::commands::report::read_schedule;
use crate::failure::Failure;
use crate::output::print_json;

/// What the export wrote.
#[derive(Debug, Serialize)]
struct Dhis2Summary {
    period: String,
    areas: usize,
    data_values: usize,
}

pub fn export(data_dir: &Path, json: bool, args: &Dhis2Args) -> Result<(), Failure> {
    let period: Period = args
        .period
        .parse()
        .map_err(|error| Failure::BadValue(format!("--period: {error}")))?;
    let schedule = match &args.schedule {
        Some(path) => read_schedule(path)?,
        None => Schedule::mali_epi().clone(),
    };
    let text = std::fs::read_to_string(&args.mapping).map_err(|source| Failure::ReadFile {
        path: args.mapping.clone(),
        source,
    })?;
    let mapping = Mapping::from_toml(&text, &indicator_keys(&schedule))
        .map_err(|error| Failure::BadValue(format!("{}: {error}", args.mapping.display())))?;
    let node = crate::passphrase::open_node(data_dir)?;
    let mut counter = MonthlyCounter::for_month(period, &schedule);
    for household in node.stream_households(None, None) {
        counter.add(&household?);
    }
    let counts = counter.finish();
    let payload = dhis2::data_value_set(&mapping, period, &counts)
        .map_err(|error| Failure::BadValue(format!("{}: {error}", args.mapping.display())))?;
    let summary = Dhis2Summary {
        period: payload.period.clone(),
        areas: counts.len(),
        data_values: payload.data_values.len(),
    };
    write_output(args.out.as_deref(), |writer| {
        serde_json::to_writer_pretty(&mut *writer, &payload).map_err(Failure::Json)?;
        writeln!(writer).map_err(Failure::Output)
    })?;
    if json && args.out.is_some() {
        return print_json(&summary);
    }
    if args.out.is_some() {
        eprintln!(
            "exported {} data values for {} areas, period {}",
            summary.data_values, summary.areas, summary.period
        );
    }
    Ok(())
}
