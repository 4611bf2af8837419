//! `--csv DIR`: one CSV file per list, with a header row (the JSON document's field
//! names), written with the `csv` crate.

use std::path::Path;

use kafo::health::Report;
use serde::Serialize;
use serde_json::Value;

use crate::failure::Failure;

const SUBJECT: [&str; 5] = ["household_id", "person_id", "name", "area", "chw"];

/// Writes every list of `report` into `dir` (created if needed).
pub fn write_dir(dir: &Path, report: &Report) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|source| Failure::WriteFile {
        path: dir.to_path_buf(),
        source,
    })?;
    let chws = [
        "area",
        "chw",
        "households",
        "visits_in_period",
        "not_visited_30d",
        "not_visited_60d",
        "last_visit",
        "last_sync",
    ];
    write(dir, "chws.csv", &chws, &report.chws)?;
    write(
        dir,
        "overdue_vaccines.csv",
        &with_subject(&["antigen", "due_date", "days_overdue"]),
        &report.overdue_vaccines,
    )?;
    write(
        dir,
        "growth.csv",
        &with_subject(&[
            "sex",
            "date",
            "age_days",
            "weight_kg",
            "height_cm",
            "muac_mm",
            "waz",
            "haz",
            "whz",
        ]),
        &report.growth,
    )?;
    write(
        dir,
        "malnutrition.csv",
        &with_subject(&["date", "muac_mm", "muac_class", "whz", "severe"]),
        &report.malnutrition,
    )?;
    write(
        dir,
        "pregnancies.csv",
        &with_subject(&[
            "gestational_weeks",
            "edd",
            "anc_contacts",
            "next_anc_due",
            "overdue",
            "edd_passed_no_postnatal",
        ]),
        &report.pregnancies,
    )?;
    write(
        dir,
        "open_referrals.csv",
        &with_subject(&["visit_id", "date", "to", "reason", "urgent", "days_open"]),
        &report.open_referrals,
    )?;
    write(
        dir,
        "danger_signs.csv",
        &with_subject(&["visit_id", "date", "signs"]),
        &report.danger_signs,
    )?;
    write(
        dir,
        "birth_date_unknown.csv",
        &with_subject(&["birth_date"]),
        &report.birth_date_unknown,
    )?;
    write(
        dir,
        "epi_coverage.csv",
        &["antigen", "due", "given"],
        &report.epi_coverage,
    )
}

fn with_subject(columns: &[&'static str]) -> Vec<&'static str> {
    SUBJECT.iter().chain(columns).copied().collect()
}

fn write<T: Serialize>(
    dir: &Path,
    name: &str,
    columns: &[&str],
    rows: &[T],
) -> Result<(), Failure> {
    let path = dir.join(name);
    let io = |source: std::io::Error| Failure::WriteFile {
        path: path.clone(),
        source,
    };
    let mut writer = csv::Writer::from_path(&path).map_err(|error| io(error.into()))?;
    writer
        .write_record(columns)
        .map_err(|error| io(error.into()))?;
    for row in rows {
        let value = serde_json::to_value(row).map_err(Failure::Json)?;
        let record: Vec<String> = columns.iter().map(|column| cell(&value[*column])).collect();
        writer
            .write_record(&record)
            .map_err(|error| io(error.into()))?;
    }
    writer.flush().map_err(io)
}

/// A JSON value as a cell: empty for null, `a;b` for a list.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}
