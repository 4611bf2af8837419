//! `kafo report` through the real binary on a generated caseload: the JSON document,
//! the CSV files, bad flags, a program's own schedule, no name in the logs, and the
//! HTML page opened in headless Chromium (renders, charts present, no console errors).

mod common;

use std::path::Path;
use std::process::Command;

use common::{kafo, ok, run};
use serde_json::Value;

/// The generated caseload's visits run to 2025-12-31.
const AS_OF: &str = "2025-12-31";

fn store_with_caseload() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let caseload = dir.path().join("caseload.jsonl");
    let caseload = caseload.to_str().expect("utf-8 path");
    ok(
        dir.path(),
        &["generate", "--chws", "2", "--seed", "7", "--out", caseload],
    );
    ok(dir.path(), &["import", caseload]);
    dir
}

fn json_report(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "report", "--as-of", AS_OF];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(dir, &args)).expect("the report is JSON")
}

const LISTS: [&str; 8] = [
    "chws",
    "overdue_vaccines",
    "growth",
    "malnutrition",
    "pregnancies",
    "open_referrals",
    "danger_signs",
    "birth_date_unknown",
];

#[test]
fn the_json_report_has_every_list_with_its_fields() {
    let dir = store_with_caseload();
    let report = json_report(dir.path(), &[]);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["as_of"], AS_OF);
    assert_eq!(report["period"], "2025-12");
    let fields: [(&str, &[&str]); 8] = [
        (
            "chws",
            &[
                "area",
                "chw",
                "households",
                "visits_in_period",
                "not_visited_30d",
                "not_visited_60d",
                "last_visit",
                "last_sync",
            ],
        ),
        (
            "overdue_vaccines",
            &["person_id", "antigen", "due_date", "days_overdue"],
        ),
        (
            "growth",
            &[
                "person_id",
                "date",
                "age_days",
                "weight_kg",
                "height_cm",
                "muac_mm",
                "waz",
                "haz",
                "whz",
            ],
        ),
        (
            "malnutrition",
            &[
                "person_id",
                "date",
                "muac_mm",
                "muac_class",
                "whz",
                "severe",
            ],
        ),
        (
            "pregnancies",
            &[
                "person_id",
                "gestational_weeks",
                "edd",
                "anc_contacts",
                "next_anc_due",
                "overdue",
                "edd_passed_no_postnatal",
            ],
        ),
        (
            "open_referrals",
            &[
                "visit_id",
                "person_id",
                "date",
                "to",
                "reason",
                "urgent",
                "days_open",
            ],
        ),
        ("danger_signs", &["visit_id", "person_id", "date", "signs"]),
        ("birth_date_unknown", &["person_id", "birth_date"]),
    ];
    for (list, names) in fields {
        let rows = report[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} is an array"));
        // Generated children have full birth dates (the year-only rule has its own tests).
        if list != "birth_date_unknown" {
            assert!(!rows.is_empty(), "{list} has rows on a realistic caseload");
        }
        for row in rows {
            for name in names.iter().chain(if list == "chws" {
                &[][..]
            } else {
                &["household_id", "area", "chw"][..]
            }) {
                assert!(row.get(name).is_some(), "{list} row lacks {name}: {row}");
            }
        }
    }
    // The period and the area filter change what is counted.
    let november = json_report(dir.path(), &["--period", "2025-11"]);
    assert_eq!(november["period"], "2025-11");
    assert_ne!(november["chws"], report["chws"]);
    let one = json_report(dir.path(), &["--chw", "chw-02", "--area", "sikoro"]);
    assert!(
        one["growth"]
            .as_array()
            .expect("array")
            .iter()
            .all(|row| row["chw"] == "chw-02")
    );
}

#[test]
fn csv_files_hold_the_same_rows_as_the_json_lists() {
    let dir = store_with_caseload();
    let report = json_report(dir.path(), &[]);
    let out = dir.path().join("csv");
    ok(
        dir.path(),
        &[
            "report",
            "--as-of",
            AS_OF,
            "--csv",
            out.to_str().expect("utf-8"),
        ],
    );
    for list in LISTS {
        let mut reader =
            csv::Reader::from_path(out.join(format!("{list}.csv"))).expect("the CSV exists");
        let header = reader.headers().expect("a header row").clone();
        let rows: Vec<csv::StringRecord> = reader
            .records()
            .map(|row| row.expect("a valid row"))
            .collect();
        let expected = report[list].as_array().expect("array");
        assert_eq!(rows.len(), expected.len(), "{list}");
        let person = header.iter().position(|name| name == "person_id");
        if let (Some(column), Some(first)) = (person, expected.first()) {
            assert_eq!(
                Some(rows[0].get(column).unwrap_or_default()),
                first["person_id"].as_str(),
                "{list}"
            );
        }
    }
}

#[test]
fn bad_flags_are_bad_input_and_a_programs_schedule_is_used() {
    let dir = store_with_caseload();
    let bad_period = run(dir.path(), &["report", "--period", "2025-13"]);
    assert_eq!(bad_period.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&bad_period.stderr).contains("--period"));
    let schedule = dir.path().join("schedule.toml");
    std::fs::write(&schedule, "name = \"BCG only\"\noverdue_after_days = 28\nuntil_age_days = 1826\n[[dose]]\ncode = \"BCG\"\nage_days = 0\n")
        .expect("write the schedule");
    let report = json_report(
        dir.path(),
        &["--schedule", schedule.to_str().expect("utf-8")],
    );
    let antigens: Vec<&Value> = report["overdue_vaccines"]
        .as_array()
        .expect("array")
        .iter()
        .map(|row| &row["antigen"])
        .collect();
    assert!(
        antigens.iter().all(|antigen| *antigen == "BCG"),
        "{antigens:?}"
    );
    assert_eq!(report["schedule"], "BCG only");
    std::fs::write(&schedule, "name = \"typo\"\noverdue_after_days = 28\nuntil_age_days = 1826\n[[dose]]\ncode = \"BCG\"\nage = 0\n")
        .expect("write the schedule");
    let bad = run(
        dir.path(),
        &["report", "--schedule", schedule.to_str().expect("utf-8")],
    );
    assert_eq!(bad.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line"),
        "{bad:?}"
    );
}

#[test]
fn no_name_reaches_the_logs() {
    let dir = store_with_caseload();
    let html = dir.path().join("report.html");
    let output = kafo(dir.path())
        .args([
            "-vvv",
            "--json",
            "report",
            "--as-of",
            AS_OF,
            "--html",
            html.to_str().expect("utf-8"),
        ])
        .output()
        .expect("kafo runs");
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("report computed"),
        "trace logging is on: {logs}"
    );
    let mut names = 0;
    for list in &LISTS[1..] {
        for row in report[list].as_array().expect("array") {
            let name = row["name"].as_str().expect("rows carry the name");
            assert!(!logs.contains(name), "{name} logged");
            names += 1;
        }
    }
    assert!(names > 50);
}

/// Opens `page` in headless Chromium; returns the DOM it rendered and every console
/// message the browser logged.
fn open_in_chromium(page: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().expect("temp dir");
    let output = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (installed by .ci/run)");
    assert!(output.status.success(), "{output:?}");
    let console = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (
        String::from_utf8(output.stdout).expect("UTF-8 DOM"),
        console,
    )
}

#[test]
fn the_html_report_renders_in_chromium_with_its_charts_and_no_console_error() {
    let dir = store_with_caseload();
    // The probe: a page that logs an error is caught, so silence below means something.
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><html><body><script>console.error('kafo-probe')</script></body></html>",
    )
    .expect("write the probe");
    let (_, console) = open_in_chromium(&probe);
    assert!(
        console.iter().any(|line| line.contains("kafo-probe")),
        "{console:?}"
    );

    let page = dir.path().join("report.html");
    ok(
        dir.path(),
        &[
            "report",
            "--as-of",
            AS_OF,
            "--lang",
            "en",
            "--html",
            page.to_str().expect("utf-8"),
        ],
    );
    let html = std::fs::read_to_string(&page).expect("the page is written");
    assert!(
        !html.contains("<script") && !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
    let (dom, console) = open_in_chromium(&page);
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(
        dom.contains("<h1>Supervision report as of 2025-12-31</h1>"),
        "rendered"
    );
    for chart in ["chart-visits", "chart-coverage"] {
        let at = dom
            .find(&format!("id=\"{chart}\""))
            .unwrap_or_else(|| panic!("{chart} missing"));
        assert!(
            dom[at..]
                .trim_start_matches(|c| c != '>')
                .get(1..200)
                .is_some_and(|next| next.contains("<svg")),
            "{chart} has its SVG"
        );
    }
    let report = json_report(dir.path(), &[]);
    let malnourished = report["malnutrition"].as_array().expect("array").len();
    let weight_charts = dom.matches("class=\"weight-chart\"").count();
    assert!(malnourished > 0);
    assert_eq!(weight_charts, malnourished.min(40));
    assert_eq!(dom.matches("<svg").count(), 2 + weight_charts);
}
