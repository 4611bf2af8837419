//! `kafo doctor` on real stores: a healthy store passes, a store damaged on purpose
//! (one household's snapshot garbled, another's index entry removed) is reported,
//! and `--salvage DIR` replaces it with a store holding every readable household,
//! the same device identity, and nothing else lost.

mod common;

use std::path::Path;

use common::{ok, run, sample_path};
use kafo_model::HouseholdId;
use kafo_store::Store;
use kafo_store::fault::Damage;

fn doctor_json(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["--json", "doctor"];
    args.extend_from_slice(extra);
    let output = run(dir, &args);
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "doctor prints JSON ({error}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), json)
}

/// Export lines keyed by household id.
fn exported(dir: &Path) -> std::collections::BTreeMap<String, String> {
    ok(dir, &["export"])
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).expect("export is JSON lines");
            let id = value["id"]
                .as_str()
                .expect("a household has an id")
                .to_owned();
            (id, line.to_owned())
        })
        .collect()
}

fn device_id(dir: &Path) -> String {
    let whoami: serde_json::Value =
        serde_json::from_str(&ok(dir, &["--json", "whoami"])).expect("whoami is JSON");
    whoami["device_id"]
        .as_str()
        .expect("whoami names the device")
        .to_owned()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| {
            item.as_str()
                .or_else(|| item["id"].as_str())
                .expect("an id")
                .to_owned()
        })
        .collect()
}

#[test]
fn doctor_reports_damage_and_salvage_keeps_every_readable_household() {
    let temp = tempfile::tempdir().expect("temp dir");
    let store_dir = temp.path().join("phone");
    let sample = sample_path();
    ok(
        &store_dir,
        &["import", sample.to_str().expect("UTF-8 path")],
    );
    let before = exported(&store_dir);
    let device = device_id(&store_dir);
    assert!(before.len() >= 10, "the sample holds households");

    // Healthy: exit 0.
    let (code, json) = doctor_json(&store_dir, &[]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["healthy"], true);
    assert_eq!(json["households"], before.len() as u64);
    assert_eq!(json["readable"], before.len() as u64);

    // Damage two households on purpose.
    let ids: Vec<&String> = before.keys().collect();
    let garbled = ids[3].clone();
    let unindexed = ids[7].clone();
    {
        let store = Store::open(&store_dir).expect("the store opens");
        let parse = |id: &str| HouseholdId::parse(id).expect("exported ids parse");
        store
            .inject_damage(&parse(&garbled), Damage::GarbledSnapshot)
            .expect("damage is written");
        store
            .inject_damage(&parse(&unindexed), Damage::MissingIndexEntry)
            .expect("damage is written");
    }

    // The check names both problems and exits 1.
    let (code, json) = doctor_json(&store_dir, &[]);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["healthy"], false);
    assert_eq!(strings(&json["damaged"]), vec![garbled.clone()]);
    assert_eq!(strings(&json["unindexed"]), vec![unindexed.clone()]);
    let text = run(&store_dir, &["doctor"]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(&garbled), "{stdout}");

    // A salvage target that is not empty is refused, and nothing changes.
    let busy = temp.path().join("busy");
    std::fs::create_dir_all(busy.join("something")).expect("dir");
    let refused = run(
        &store_dir,
        &["doctor", "--salvage", busy.to_str().expect("UTF-8")],
    );
    assert_eq!(refused.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));
    assert_eq!(
        doctor_json(&store_dir, &[]).1["households"],
        json["households"]
    );

    // Salvage: everything but the garbled household comes back, under the same identity.
    let new_dir = temp.path().join("phone-new");
    let (code, salvaged) = doctor_json(
        &store_dir,
        &["--salvage", new_dir.to_str().expect("UTF-8 path")],
    );
    assert_eq!(
        code,
        Some(1),
        "one household was truly unreadable: {salvaged}"
    );
    assert_eq!(strings(&salvaged["lost"]), vec![garbled.clone()]);
    assert_eq!(strings(&salvaged["rebuilt"]), vec![unindexed.clone()]);
    assert_eq!(salvaged["check"]["damaged"], serde_json::json!([]));
    assert_eq!(salvaged["check"]["unindexed"], serde_json::json!([]));
    assert!(
        !new_dir.exists(),
        "the new store moved into the store's place"
    );
    let damaged_store = salvaged["damaged_store"].as_str().expect("a path");
    assert!(
        Path::new(damaged_store).join("db").exists(),
        "the damaged store is kept"
    );

    let after = exported(&store_dir);
    let mut expected = before.clone();
    expected.remove(&garbled);
    assert_eq!(after, expected, "every readable household, unchanged");
    assert_eq!(device_id(&store_dir), device, "the device identity is kept");

    // The salvaged store is healthy and takes the next import.
    let (code, json) = doctor_json(&store_dir, &[]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["households"], expected.len() as u64);
    ok(
        &store_dir,
        &["import", sample.to_str().expect("UTF-8 path")],
    );
    assert_eq!(exported(&store_dir), before);
}

#[test]
fn doctor_exits_74_when_the_store_cannot_be_read_at_all() {
    let temp = tempfile::tempdir().expect("temp dir");
    let store_dir = temp.path().join("phone");
    ok(&store_dir, &["init"]);
    // sled's configuration file, garbled: the store's engine cannot open it.
    std::fs::write(store_dir.join("conf"), b"\xff\xfe garbage").expect("write");
    let output = run(&store_dir, &["doctor"]);
    assert_eq!(
        output.status.code(),
        Some(74),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stderr).is_empty());
}
