//! `kafo report [--as-of DATE] [--area A] [--chw C] [--period YYYY-MM] [--schedule FILE]
//! [--lang fr|en] [--csv DIR] [--html FILE]`.

use std::path::Path;

use kafo::ReportOptions;
use kafo::health::{Period, Schedule};
use kafo::model::{AreaId, ChwId};

use crate::cli::ReportArgs;
use crate::failure::Failure;
use crate::output::{print_json, print_text};
use crate::report::{self, Labels};

pub fn report(data_dir: &Path, json: bool, args: &ReportArgs) -> Result<(), Failure> {
    let options = options(args)?;
    let node = crate::passphrase::open_node(data_dir)?;
    let report = node.report(&options)?;
    let labels = Labels::of(args.lang);
    if let Some(dir) = &args.csv {
        report::csv::write_dir(dir, &report)?;
        eprintln!("{} {}", labels.written, dir.display());
    }
    if let Some(file) = &args.html {
        report::html::write_file(file, &report, labels)?;
        eprintln!("{} {}", labels.written, file.display());
    }
    if json {
        return print_json(&report);
    }
    if args.csv.is_none() && args.html.is_none() {
        return print_text(&report::text::render(&report, labels));
    }
    Ok(())
}

fn options(args: &ReportArgs) -> Result<ReportOptions, Failure> {
    let as_of = args.as_of.unwrap_or_else(|| jiff::Zoned::now().date());
    let mut options = ReportOptions::new(as_of);
    if let Some(period) = &args.period {
        options.period = period
            .parse::<Period>()
            .map_err(|error| Failure::BadValue(format!("--period: {error}")))?;
    }
    if let Some(area) = &args.area {
        options.area = Some(
            AreaId::parse(area).map_err(|error| Failure::BadValue(format!("--area: {error}")))?,
        );
    }
    if let Some(chw) = &args.chw {
        options.chw =
            Some(ChwId::parse(chw).map_err(|error| Failure::BadValue(format!("--chw: {error}")))?);
    }
    if let Some(path) = &args.schedule {
        options.schedule = read_schedule(path)?;
    }
    Ok(options)
}

/// Reads and checks an immunisation schedule file (`--schedule FILE`).
pub fn read_schedule(path: &Path) -> Result<Schedule, Failure> {
    let text = std::fs::read_to_string(path).map_err(|source| Failure::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    Schedule::from_toml(&text)
        .map_err(|error| Failure::BadValue(format!("{}: {error}", path.display())))
}
