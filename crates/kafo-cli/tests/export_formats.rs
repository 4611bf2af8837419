//! `kafo export dhis2|fhir|csv` through the real binary on real sled stores holding a
//! generated caseload (two areas): the DHIS2 counts equal the report's
//! `monthly_indicators` indicator by indicator, every bad mapping gives its error and
//! writes nothing, the FHIR bundle's references resolve and its resource counts match
//! the caseload, and the CSV tables have their BOM, header and rows. (The FHIR bundle is
//! validated against `fhir.resources` and the CSV read back by Python's `csv` module in
//! `tests/python-exports/`.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{ok, run};
use kafo_gen::GeneratorConfig;
use serde_json::Value;

/// The generated visits run to 2025-12-31; November is a whole month inside them.
const PERIOD: &str = "2025-11";
const MONTH_END: &str = "2025-11-30";

fn store_with_caseload() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = GeneratorConfig {
        seed: 11,
        areas: GeneratorConfig::bamako_areas(2),
        chws: 4,
        households_per_chw: 15,
        visits_per_chw: 600,
        ..GeneratorConfig::default()
    };
    let caseload = dir.path().join("caseload.jsonl");
    let mut file = std::fs::File::create(&caseload).expect("caseload file");
    kafo_gen::write_jsonl(&config, &mut file).expect("caseload written");
    ok(dir.path(), &["import", path(&caseload)]);
    dir
}

fn households(dir: &Path) -> Vec<Value> {
    ok(dir, &["export"])
        .lines()
        .map(|line| serde_json::from_str(line).expect("a format v1 line"))
        .collect()
}

fn areas(dir: &Path) -> BTreeSet<String> {
    households(dir)
        .iter()
        .map(|household| household["area"].as_str().expect("area").to_owned())
        .collect()
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn indicator_keys() -> Vec<String> {
    kafo_health::indicator_keys(kafo_health::Schedule::mali_epi())
}

/// A mapping of every indicator Kafo counts, with made-up but valid UIDs; and the
/// dataElement → indicator and orgUnit → area it sets.
struct FullMapping {
    text: String,
    indicators: BTreeMap<String, String>,
    areas: BTreeMap<String, String>,
}

fn full_mapping(areas: &BTreeSet<String>, write_zeros: bool) -> FullMapping {
    let mut text =
        format!("data_set = \"dSet0000001\"\nwrite_zeros = {write_zeros}\n[org_units]\n");
    let mut units = BTreeMap::new();
    for (index, area) in areas.iter().enumerate() {
        let uid = format!("oUnit{index:06}");
        text.push_str(&format!("{area} = \"{uid}\"\n"));
        units.insert(uid, area.clone());
    }
    text.push_str("[data_elements]\n");
    let mut indicators = BTreeMap::new();
    for (index, key) in indicator_keys().iter().enumerate() {
        let uid = format!("dElem{index:06}");
        text.push_str(&format!("{key} = {{ data_element = \"{uid}\" }}\n"));
        indicators.insert(uid, key.clone());
    }
    FullMapping {
        text,
        indicators,
        areas: units,
    }
}

fn export_dhis2(dir: &Path, mapping: &str) -> Value {
    let file = dir.join("mapping.toml");
    std::fs::write(&file, mapping).expect("mapping written");
    let out = dir.join("dhis2.json");
    ok(
        dir,
        &[
            "export",
            "dhis2",
            "--period",
            PERIOD,
            "--mapping",
            path(&file),
            "--out",
            path(&out),
        ],
    );
    serde_json::from_slice(&std::fs::read(&out).expect("payload written")).expect("JSON")
}

#[test]
fn dhis2_counts_equal_the_reports_monthly_indicators_indicator_by_indicator() {
    let dir = store_with_caseload();
    let areas = areas(dir.path());
    assert_eq!(areas.len(), 2, "the caseload spans two areas");
    let mapping = full_mapping(&areas, true);
    let payload = export_dhis2(dir.path(), &mapping.text);
    assert_eq!(payload["dataSet"], "dSet0000001");
    assert_eq!(payload["period"], "202511");
    let mut sent: BTreeMap<(String, String), u64> = BTreeMap::new();
    for value in payload["dataValues"].as_array().expect("dataValues") {
        assert_eq!(value["period"], "202511");
        let area = &mapping.areas[value["orgUnit"].as_str().expect("orgUnit")];
        let key = &mapping.indicators[value["dataElement"].as_str().expect("dataElement")];
        let count: u64 = value["value"]
            .as_str()
            .expect("a string")
            .parse()
            .expect("a count");
        assert!(
            sent.insert((area.clone(), key.clone()), count).is_none(),
            "one value each"
        );
    }
    assert_eq!(
        sent.len(),
        areas.len() * indicator_keys().len(),
        "write_zeros writes every one"
    );

    let report: Value = serde_json::from_str(&ok(
        dir.path(),
        &["--json", "report", "--as-of", MONTH_END, "--period", PERIOD],
    ))
    .expect("report JSON");
    let monthly = report["monthly_indicators"]
        .as_object()
        .expect("monthly_indicators");
    assert_eq!(monthly.keys().cloned().collect::<BTreeSet<_>>(), areas);
    for ((area, key), count) in &sent {
        assert_eq!(
            monthly[area][key].as_u64(),
            Some(*count),
            "{area} {key}: DHIS2 and the report disagree"
        );
    }
    // The comparison means something: the month has activity of every main kind.
    for key in [
        "home_visits",
        "children_seen",
        "children_weighed",
        "anc_contacts",
        "doses_Penta1",
    ] {
        let total: u64 = areas
            .iter()
            .map(|area| sent[&(area.clone(), key.to_owned())])
            .sum();
        assert!(total > 0, "{key} is zero in the generated month");
    }

    // Without write_zeros, zero counts are left out and the others are the same.
    let sparse = export_dhis2(dir.path(), &full_mapping(&areas, false).text);
    let values = sparse["dataValues"].as_array().expect("dataValues");
    assert_eq!(
        values.len(),
        sent.values().filter(|count| **count > 0).count()
    );
    assert!(values.iter().all(|value| value["value"] != "0"));
}

#[test]
fn each_bad_mapping_gives_its_error_and_writes_nothing() {
    let dir = store_with_caseload();
    let areas = areas(dir.path());
    let good = full_mapping(&areas, false).text;
    let first_area = areas.iter().next().expect("an area").clone();
    let unmapped = format!("org_units.{first_area}");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "a bad data set UID",
            good.replace("dSet0000001", "dSet-000001"),
            vec!["data_set", "line 1", "not a DHIS2 UID"],
        ),
        (
            "a bad orgUnit UID",
            good.replace("oUnit000000", "0Unit000000"),
            vec!["line 4", "not a DHIS2 UID"],
        ),
        (
            "a UID of the wrong length",
            good.replace("dElem000000", "dElem00000"),
            vec!["data_elements.home_visits.data_element", "line 7"],
        ),
        (
            "an unknown indicator",
            good.replace("home_visits =", "home_visit ="),
            vec!["data_elements.home_visit", "line 7", "no such indicator"],
        ),
        (
            "a bad category option combo",
            good.replace(
                "{ data_element = \"dElem000001\" }",
                "{ data_element = \"dElem000001\", category_option_combo = \"x\" }",
            ),
            vec![
                "data_elements.children_seen.category_option_combo",
                "line 8",
            ],
        ),
        (
            "two indicators to the same value",
            good.replace("dElem000001", "dElem000000"),
            vec![
                "data_elements.home_visits",
                "children_seen",
                "same data element",
            ],
        ),
        (
            "an area of the caseload with no orgUnit",
            good.replace(&format!("{first_area} = \"oUnit000000\"\n"), ""),
            vec![&unmapped, "no orgUnit"],
        ),
        (
            "an unknown key",
            good.replace("write_zeros", "write_zero"),
            vec!["write_zero", "line 2"],
        ),
        ("not TOML", "data_set = \n".to_owned(), vec!["line 1"]),
    ];
    let out = dir.path().join("dhis2.json");
    let file = dir.path().join("mapping.toml");
    for (case, text, expected) in cases {
        std::fs::write(&file, &text).expect("mapping written");
        let output = run(
            dir.path(),
            &[
                "export",
                "dhis2",
                "--period",
                PERIOD,
                "--mapping",
                path(&file),
                "--out",
                path(&out),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(65), "{case}: {stderr}");
        for needle in &expected {
            assert!(
                stderr.contains(needle),
                "{case}: {needle:?} not in {stderr}"
            );
        }
        assert!(
            stderr.contains("mapping.toml"),
            "{case}: the file is named: {stderr}"
        );
        assert!(!out.exists(), "{case}: nothing is written");
        assert!(!dir.path().join("dhis2.json.partial").exists(), "{case}");
    }
    std::fs::write(&file, &good).expect("mapping written");
    for period in ["2025-13", "2025-1", "202511", "November"] {
        let output = run(
            dir.path(),
            &[
                "export",
                "dhis2",
                "--period",
                period,
                "--mapping",
                path(&file),
                "--out",
                path(&out),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(65), "{period}: {stderr}");
        assert!(stderr.contains("--period"), "{period}: {stderr}");
        assert!(!out.exists());
    }
}

#[test]
fn the_sample_mapping_is_accepted() {
    let dir = store_with_caseload();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dhis2-mapping.sample.toml");
    let text = std::fs::read_to_string(sample).expect("the sample ships");
    // The sample maps the generator's first two areas, sikoro and sirakoro.
    let payload = export_dhis2(dir.path(), &text);
    let values = payload["dataValues"].as_array().expect("dataValues");
    assert!(
        values
            .iter()
            .any(|value| value["dataElement"] == "s46m5MS0hxu")
    );
    assert!(
        values
            .iter()
            .any(|value| value["categoryOptionCombo"] == "pq2XI5kz2BY")
    );
}

/// Every `reference` string anywhere in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                match (key.as_str(), inner) {
                    ("reference", Value::String(text)) => found.push(text.clone()),
                    _ => references(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

fn export_fhir(dir: &Path, extra: &[&str]) -> Value {
    let out = dir.join("bundle.json");
    let mut args = vec!["export", "fhir", "--out", path(&out)];
    args.extend_from_slice(extra);
    ok(dir, &args);
    serde_json::from_slice(&std::fs::read(&out).expect("bundle written")).expect("JSON")
}

fn resource_counts(bundle: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in bundle["entry"].as_array().expect("entries") {
        let kind = entry["resource"]["resourceType"].as_str().expect("type");
        *counts.entry(kind.to_owned()).or_default() += 1;
    }
    counts
}

#[test]
fn the_fhir_bundle_matches_the_caseload_and_every_reference_resolves() {
    let dir = store_with_caseload();
    let caseload = households(dir.path());
    let bundle = export_fhir(dir.path(), &[]);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "transaction");
    let entries = bundle["entry"].as_array().expect("entries");
    let mut full_urls = BTreeSet::new();
    for entry in entries {
        let resource = &entry["resource"];
        let id = resource["id"].as_str().expect("id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is a UUID");
        assert_eq!(
            entry["fullUrl"].as_str(),
            Some(format!("urn:uuid:{id}").as_str())
        );
        assert_eq!(entry["request"]["method"], "PUT");
        assert_eq!(
            entry["request"]["url"].as_str(),
            Some(format!("{}/{id}", resource["resourceType"].as_str().expect("type")).as_str())
        );
        assert!(
            full_urls.insert(entry["fullUrl"].as_str().expect("fullUrl").to_owned()),
            "unique"
        );
        assert!(
            resource["identifier"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty())
        );
    }
    let mut found = Vec::new();
    references(&bundle, &mut found);
    assert!(!found.is_empty());
    for reference in &found {
        assert!(
            full_urls.contains(reference),
            "{reference} does not resolve in the bundle"
        );
    }

    let sum = |f: &dyn Fn(&Value) -> usize| caseload.iter().map(f).sum::<usize>();
    let visits = |household: &Value| household["visits"].as_array().cloned().unwrap_or_default();
    let members = sum(&|h| h["members"].as_array().map_or(0, Vec::len));
    let doses = sum(&|h| {
        visits(h)
            .iter()
            .map(|visit| {
                let codes: BTreeSet<&str> = visit["vaccines"]
                    .as_array()
                    .map(|codes| codes.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                codes.len()
            })
            .sum()
    });
    let referrals = sum(&|h| {
        visits(h)
            .iter()
            .filter(|v| v.get("referral").is_some())
            .count()
    });
    let counts = resource_counts(&bundle);
    assert_eq!(counts["Group"], caseload.len());
    assert_eq!(counts["Patient"], members, "Patients = members");
    assert_eq!(counts["Encounter"], sum(&|h| visits(h).len()));
    assert_eq!(counts["Immunization"], doses, "Immunizations = doses");
    assert_eq!(
        counts["ServiceRequest"], referrals,
        "ServiceRequests = referrals"
    );
    assert!(doses > 0 && referrals > 0);

    // Stable: the same store gives the same bundle, byte for byte (ids are UUID v5).
    let first = std::fs::read(dir.path().join("bundle.json")).expect("bundle");
    export_fhir(dir.path(), &[]);
    assert_eq!(
        first,
        std::fs::read(dir.path().join("bundle.json")).expect("bundle")
    );
}

#[test]
fn fhir_since_and_area_narrow_the_bundle_and_keep_it_whole() {
    let dir = store_with_caseload();
    let areas = areas(dir.path());
    let area = areas.iter().next().expect("an area");
    let bundle = export_fhir(dir.path(), &["--since", "2025-12-01", "--area", area]);
    let mut full_urls = BTreeSet::new();
    for entry in bundle["entry"].as_array().expect("entries") {
        full_urls.insert(entry["fullUrl"].as_str().expect("fullUrl").to_owned());
        let resource = &entry["resource"];
        if resource["resourceType"] == "Encounter" {
            assert!(resource["period"]["start"].as_str().expect("start") >= "2025-12-01");
        }
        if resource["resourceType"] == "Group" {
            let tags = resource["meta"]["tag"].to_string();
            assert!(tags.contains(&format!("\"{area}\"")), "{tags}");
        }
    }
    let mut found = Vec::new();
    references(&bundle, &mut found);
    assert!(found.iter().all(|reference| full_urls.contains(reference)));
    let counts = resource_counts(&bundle);
    let whole = resource_counts(&export_fhir(dir.path(), &[]));
    assert!(counts["Encounter"] > 0 && counts["Encounter"] < whole["Encounter"]);
    assert!(counts["Group"] < whole["Group"]);

    for (flag, value) in [("--since", "2025-12"), ("--area", "no/such")] {
        let output = run(dir.path(), &["export", "fhir", flag, value]);
        assert_eq!(output.status.code(), Some(65), "{flag} {value}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(flag));
    }
}

#[test]
fn csv_tables_have_a_bom_a_header_and_a_row_per_record() {
    let dir = store_with_caseload();
    let caseload = households(dir.path());
    let tables = dir.path().join("tables");
    let summary: Value =
        serde_json::from_str(&ok(dir.path(), &["--json", "export", "csv", path(&tables)]))
            .expect("summary JSON");
    let visits: usize = caseload
        .iter()
        .map(|h| h["visits"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(summary["households"].as_u64(), Some(caseload.len() as u64));
    assert_eq!(summary["visits"].as_u64(), Some(visits as u64));
    for (name, rows, first_column) in [
        ("households.csv", caseload.len(), "household_id"),
        ("visits.csv", visits, "visit_id"),
        (
            "people.csv",
            summary["people"].as_u64().expect("people") as usize,
            "person_id",
        ),
    ] {
        let bytes = std::fs::read(tables.join(name)).expect("table written");
        assert!(
            bytes.starts_with("\u{feff}".as_bytes()),
            "{name} starts with a BOM"
        );
        let mut reader = csv::Reader::from_reader(&bytes[3..]);
        let header = reader.headers().expect("header").clone();
        assert_eq!(header.get(0), Some(first_column));
        assert_eq!(reader.records().count(), rows, "{name}");
    }
    for name in ["vaccines.csv", "referrals.csv"] {
        assert!(tables.join(name).exists());
        assert!(!tables.join(format!("{name}.partial")).exists());
    }
}

#[test]
fn the_format_v1_export_still_works_beside_the_new_formats() {
    let dir = store_with_caseload();
    let out = dir.path().join("backup.jsonl");
    let summary: Value =
        serde_json::from_str(&ok(dir.path(), &["--json", "export", "--out", path(&out)]))
            .expect("summary");
    let written = std::fs::read_to_string(&out).expect("export written");
    assert_eq!(written, ok(dir.path(), &["export"]));
    assert_eq!(summary["households"].as_u64(), Some(60));
    let output = run(dir.path(), &["export", "--out", path(&out), "csv", "x"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "--out belongs to format v1 or to a FORMAT"
    );
}
