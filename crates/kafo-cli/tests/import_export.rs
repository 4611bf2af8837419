//! The supervisor's round trip through the real binary: import, list, show, add a
//! visit, export; and bad input rejected with line and field, leaving the store unchanged.

mod common;

use common::{ok, run, run_with_stdin, sample_path, status};

#[test]
fn import_then_export_reproduces_the_sample_byte_for_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = ok(
        dir.path(),
        &[
            "--json",
            "import",
            sample_path().to_str().expect("utf-8 path"),
        ],
    );
    let summary: serde_json::Value = serde_json::from_str(&summary).expect("summary is JSON");
    assert_eq!(summary["schema_version"], 1);
    assert_eq!(summary["created"], 40);

    let exported = ok(dir.path(), &["export"]);
    let sample = std::fs::read_to_string(sample_path()).expect("sample is readable");
    assert_eq!(exported, sample);

    // And through a file, after a second (no-op) import.
    let again = ok(
        dir.path(),
        &[
            "--json",
            "import",
            sample_path().to_str().expect("utf-8 path"),
        ],
    );
    assert!(again.contains("\"unchanged\":40"), "{again}");
    let out = dir.path().join("export.jsonl");
    ok(
        dir.path(),
        &["export", "--out", out.to_str().expect("utf-8 path")],
    );
    assert_eq!(
        std::fs::read_to_string(out).expect("export written"),
        sample
    );
}

#[test]
fn status_counts_what_was_imported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = status(dir.path());
    assert_eq!(empty["households"], 0);
    let device = empty["device_id"].as_str().expect("device id").to_owned();
    assert!(device.starts_with("12D3KooW"), "{device}");

    ok(
        dir.path(),
        &["import", sample_path().to_str().expect("utf-8 path")],
    );
    let after = status(dir.path());
    assert_eq!(after["households"], 40);
    assert_eq!(after["people"], 149);
    assert_eq!(after["visits"], 400);
    assert_eq!(after["device_id"], device.as_str(), "the identity is kept");
    assert!(after["size_on_disk"].as_u64().expect("size") > 0);

    // init is idempotent and keeps the identity
    let init: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["--json", "init"])).expect("JSON");
    assert_eq!(init["device_id"], device.as_str());
}

#[test]
fn a_file_with_bad_lines_imports_nothing_and_names_every_bad_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    ok(
        dir.path(),
        &["import", sample_path().to_str().expect("utf-8 path")],
    );
    let before = ok(dir.path(), &["export"]);

    let sample = std::fs::read_to_string(sample_path()).expect("sample");
    let mut lines: Vec<String> = sample.lines().map(str::to_owned).collect();
    // line 2: a weight out of range; line 4: an unknown field; line 5: not JSON
    lines[1] = set_first_weight(&lines[1], "900");
    lines[3] = lines[3].replacen("{\"area\"", "{\"colour\":\"blue\",\"area\"", 1);
    lines[4] = "{not json".to_owned();
    let mut input = lines.join("\n");
    input.push('\n');

    let output = run_with_stdin(dir.path(), &["import", "-"], input.as_bytes());
    assert_eq!(
        output.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("weight_kg"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4") && stderr.contains("colour"),
        "{stderr}"
    );
    assert!(stderr.contains("line 5"), "{stderr}");
    assert!(!stderr.contains("line 3:"), "line 3 is valid: {stderr}");

    assert_eq!(
        ok(dir.path(), &["export"]),
        before,
        "the store is unchanged"
    );
}

/// Sets the first `weight_kg` value of a line.
fn set_first_weight(line: &str, value: &str) -> String {
    let start =
        line.find("\"weight_kg\":").expect("the line has a weight") + "\"weight_kg\":".len();
    let end = start + line[start..].find([',', '}']).expect("the value ends");
    format!("{}{}{}", &line[..start], value, &line[end..])
}

#[test]
fn importing_a_household_again_with_other_visits_keeps_the_union() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = r#"{"area":"sikoro","chw":"chw-01","id":"h1","members":[{"birth_date":"2024-03","family_name":"Traoré","given_name":"Awa","id":"h1.p1","relationship":"child","sex":"female"}],"name":"Famille Traoré","visits":[{"chw":"chw-01","date":"2025-01-10","id":"h1.v1","kind":"growth","person_id":"h1.p1","weight_kg":8.5}]}"#;
    // The same household exported by another device: the same member, another visit.
    let other = r#"{"area":"sikoro","chw":"chw-01","id":"h1","members":[{"birth_date":"2024-03","family_name":"Traoré","given_name":"Awa","id":"h1.p1","relationship":"child","sex":"female"}],"name":"Famille Traoré","visits":[{"chw":"chw-02","date":"2025-02-11","id":"h1.v2","kind":"routine","person_id":"h1.p1"}]}"#;
    assert!(
        run_with_stdin(dir.path(), &["import", "-"], format!("{base}\n").as_bytes())
            .status
            .success()
    );
    let merged = run_with_stdin(
        dir.path(),
        &["--json", "import", "-"],
        format!("{other}\n").as_bytes(),
    );
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(String::from_utf8_lossy(&merged.stdout).contains("\"merged\":1"));

    let shown: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["--json", "household", "show", "h1"]))
            .expect("JSON");
    let visits: Vec<&str> = shown["household"]["visits"]
        .as_array()
        .expect("visits")
        .iter()
        .map(|v| v["id"].as_str().expect("id"))
        .collect();
    assert_eq!(visits, ["h1.v1", "h1.v2"]);
    assert_eq!(
        shown["household"]["members"]
            .as_array()
            .expect("members")
            .len(),
        1
    );
}

#[test]
fn list_filters_by_area_and_chw() {
    let dir = tempfile::tempdir().expect("temp dir");
    ok(
        dir.path(),
        &["import", sample_path().to_str().expect("utf-8 path")],
    );
    let list = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut all = vec!["--json", "household", "list"];
        all.extend_from_slice(args);
        let value: serde_json::Value = serde_json::from_str(&ok(dir.path(), &all)).expect("JSON");
        value["households"].as_array().expect("households").clone()
    };
    let sample = std::fs::read_to_string(sample_path()).expect("sample");
    let expected = |area: &str, chw: Option<&str>| {
        sample
            .lines()
            .filter(|l| l.contains(&format!("\"area\":\"{area}\"")))
            .filter(|l| {
                chw.is_none_or(|c| l.contains(&format!("\"area\":\"{area}\",\"chw\":\"{c}\"")))
            })
            .count()
    };
    assert_eq!(list(&[]).len(), 40);
    assert_eq!(list(&["--area", "sikoro"]).len(), expected("sikoro", None));
    let one = list(&["--area", "sikoro", "--chw", "chw-01"]);
    assert_eq!(one.len(), expected("sikoro", Some("chw-01")));
    assert!(
        one.iter()
            .all(|h| h["area"] == "sikoro" && h["chw"] == "chw-01")
    );
    assert_eq!(
        run(dir.path(), &["household", "list", "--area", "bad/area"])
            .status
            .code(),
        Some(65)
    );
}

#[test]
fn visit_add_is_checked_like_import_and_durable() {
    let dir = tempfile::tempdir().expect("temp dir");
    ok(
        dir.path(),
        &["import", sample_path().to_str().expect("utf-8 path")],
    );
    let h = "sikoro-chw-01-h0001";
    let p = "sikoro-chw-01-h0001.p2";
    let base = [
        "visit",
        "add",
        "--household",
        h,
        "--person",
        p,
        "--kind",
        "growth",
    ];

    let bad_weight = run(
        dir.path(),
        &[&base[..], &["--date", "2026-11-20", "--weight-kg", "0.1"]].concat(),
    );
    assert_eq!(bad_weight.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&bad_weight.stderr).contains("weight_kg"));
    let bad_date = run(dir.path(), &[&base[..], &["--date", "2026-02-30"]].concat());
    assert_eq!(bad_date.status.code(), Some(65));
    let not_member = run(
        dir.path(),
        &[
            "visit",
            "add",
            "--household",
            h,
            "--person",
            "someone-else",
            "--kind",
            "routine",
            "--date",
            "2026-11-20",
        ],
    );
    assert_eq!(not_member.status.code(), Some(65));
    let no_household = run(
        dir.path(),
        &[
            "visit",
            "add",
            "--household",
            "nope",
            "--person",
            p,
            "--kind",
            "routine",
            "--date",
            "2026-11-20",
        ],
    );
    assert_eq!(no_household.status.code(), Some(1));

    ok(
        dir.path(),
        &[
            &base[..],
            &[
                "--date",
                "2026-11-20",
                "--weight-kg",
                "9.8",
                "--muac-mm",
                "131",
                "--vaccine",
                "MR1",
                "--id",
                "h0001.v-new",
            ],
        ]
        .concat(),
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["--json", "household", "show", h])).expect("JSON");
    let added = shown["household"]["visits"]
        .as_array()
        .expect("visits")
        .iter()
        .find(|v| v["id"] == "h0001.v-new")
        .expect("the visit was recorded")
        .clone();
    assert_eq!(added["weight_kg"], 9.8);
    assert_eq!(added["muac_mm"], 131);
    assert_eq!(added["chw"], "chw-01", "defaults to the household's CHW");
    assert_eq!(added["vaccines"][0], "MR1");
    let again = run(
        dir.path(),
        &[&base[..], &["--date", "2026-11-20", "--id", "h0001.v-new"]].concat(),
    );
    assert_eq!(again.status.code(), Some(65), "a visit id is not reused");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_eq!(run(dir.path(), &["import"]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["no-such-command"]).status.code(), Some(2));
}

#[test]
fn a_missing_input_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(dir.path(), &["import", "/nonexistent/caseload.jsonl"]);
    assert_eq!(output.status.code(), Some(74));
}
