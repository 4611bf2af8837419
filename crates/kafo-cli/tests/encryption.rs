//! Encryption at rest through the real binary: `kafo init --encrypt`, the passphrase
//! from `KAFO_PASSPHRASE`, what a wrong or missing passphrase gets, and what the
//! store's files hold (read with sled directly, as an attacker with the phone would).

mod common;

use std::path::Path;
use std::process::Output;

use common::{kafo, ok, run, sample_path, sync_stdio_env};

const PASSPHRASE: &str = "nyεnɛmaya ka di";

/// `kafo` with the store's passphrase in the environment.
fn with_passphrase(dir: &Path, passphrase: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = kafo(dir)
        .env("KAFO_PASSPHRASE", passphrase)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kafo binary runs");
    if let Some(bytes) = stdin {
        // A refused command may exit before it reads its input.
        let _ = child.stdin.take().expect("piped").write_all(bytes);
    }
    child.wait_with_output().expect("kafo finishes")
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed with {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

/// A generated caseload (2 CHWs, 80 households) with every name and note replaced by
/// a unique canary string (and a note on every visit); returns the lines and the
/// canaries.
fn canary_caseload(minimum: usize) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("caseload.jsonl");
    let file_arg = file.to_str().expect("UTF-8 path");
    ok(
        dir.path(),
        &[
            "generate",
            "--chws",
            "2",
            "--households",
            "40",
            "--visits",
            "600",
            "--seed",
            "11",
            "--out",
            file_arg,
        ],
    );
    let sample = std::fs::read_to_string(&file).expect("caseload is readable");
    let mut canaries = Vec::new();
    let mut next = |kind: &str| {
        let canary = format!("Kanari{kind}{:05}", canaries.len());
        canaries.push(canary.clone());
        canary
    };
    let mut lines = String::new();
    for line in sample.lines() {
        let mut household: serde_json::Value = serde_json::from_str(line).expect("JSON");
        household["name"] = next("Famille").into();
        for member in household["members"].as_array_mut().expect("members") {
            member["given_name"] = next("Prenom").into();
            member["family_name"] = next("Nom").into();
        }
        for visit in household["visits"].as_array_mut().expect("visits") {
            visit["note"] = format!("{} vue au marché", next("Note")).into();
        }
        lines.push_str(&household.to_string());
        lines.push('\n');
    }
    assert!(
        canaries.len() >= minimum,
        "only {} canaries in the sample",
        canaries.len()
    );
    (lines, canaries)
}

/// Every key and value of the store's sled tree, read directly with the store's
/// format settings (sled decompresses its pages as the store's engine does).
fn raw_records(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = sled::Config::new()
        .path(dir)
        .use_compression(true)
        .compression_factor(1)
        .open()
        .expect("sled opens the store directly");
    let records = db
        .iter()
        .map(|record| {
            let (key, value) = record.expect("readable");
            (key.to_vec(), value.to_vec())
        })
        .collect();
    drop(db);
    std::thread::sleep(std::time::Duration::from_millis(200));
    records
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn an_encrypted_store_holds_no_name_or_note_in_the_clear() {
    let (lines, canaries) = canary_caseload(1_000);
    let (encrypted, plain) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    let init = succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["init", "--encrypt"],
        None,
    ));
    assert!(init.starts_with("encrypted store ready"), "{init}");
    succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["import", "-"],
        Some(lines.as_bytes()),
    ));
    let output = common::run_with_stdin(plain.path(), &["import", "-"], lines.as_bytes());
    assert!(output.status.success(), "{output:?}");

    // The plain store holds the canaries (so the check below can find them)...
    let plain_records = raw_records(plain.path());
    let in_plain = canaries
        .iter()
        .filter(|canary| {
            plain_records
                .iter()
                .any(|(_, value)| contains(value, canary))
        })
        .count();
    assert!(
        in_plain > canaries.len() / 2,
        "{in_plain} in the plain store"
    );
    // ...and the encrypted one none, in any key or value.
    let records = raw_records(encrypted.path());
    assert!(records.len() > 40, "{} records", records.len());
    for canary in &canaries {
        for (key, value) in &records {
            assert!(
                !contains(key, canary) && !contains(value, canary),
                "{canary} is in the clear under key {}",
                key.escape_ascii()
            );
        }
    }
    // The device key is sealed too: no value holds the device id's key material in
    // a form the plain store would show; every value but the header is sealed.
    let clear: Vec<_> = records
        .iter()
        .filter(|(key, value)| key != b"s/sealing" && !matches!(value.first(), Some(1 | 2)))
        .map(|(key, _)| key.escape_ascii().to_string())
        .collect();
    assert!(clear.is_empty(), "values not sealed: {clear:?}");

    // With the passphrase, everything reads back.
    let exported = succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["export"],
        None,
    ));
    assert_eq!(exported, ok(plain.path(), &["export"]));
    let status: serde_json::Value = serde_json::from_str(&succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["--json", "status"],
        None,
    )))
    .expect("JSON");
    assert_eq!(status["encrypted"], true);
    assert_eq!(status["households"], 80);
    assert_eq!(common::status(plain.path())["encrypted"], false);
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    succeeded(&with_passphrase(
        dir.path(),
        PASSPHRASE,
        &["init", "--encrypt"],
        None,
    ));
    let sample = std::fs::read(sample_path()).expect("sample");
    succeeded(&with_passphrase(
        dir.path(),
        PASSPHRASE,
        &["import", "-"],
        Some(&sample),
    ));
    let before = raw_records(dir.path());

    let wrong = with_passphrase(dir.path(), "not the passphrase", &["status"], None);
    assert_eq!(wrong.status.code(), Some(1));
    let message = String::from_utf8_lossy(&wrong.stderr);
    assert!(message.contains("wrong key or passphrase"), "{message}");

    let missing = run(dir.path(), &["export"]);
    assert_eq!(missing.status.code(), Some(1));
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(
        message.contains("is encrypted") && message.contains("KAFO_PASSPHRASE"),
        "{message}"
    );
    assert!(
        missing.stdout.is_empty(),
        "nothing exported without the key"
    );

    let again = with_passphrase(
        dir.path(),
        "not the passphrase",
        &["import", "-"],
        Some(&sample),
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        raw_records(dir.path()),
        before,
        "the refused commands wrote nothing"
    );

    let status: serde_json::Value = serde_json::from_str(&succeeded(&with_passphrase(
        dir.path(),
        PASSPHRASE,
        &["--json", "status"],
        None,
    )))
    .expect("JSON");
    assert_eq!(status["households"], 40);
}

#[test]
fn init_encrypt_refuses_a_plain_store_and_says_how_to_move_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    ok(dir.path(), &["init"]);
    let refused = with_passphrase(dir.path(), PASSPHRASE, &["init", "--encrypt"], None);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("not encrypted") && message.contains("export"),
        "{message}"
    );
    assert_eq!(common::status(dir.path())["encrypted"], false);

    let no_passphrase = run(
        tempfile::tempdir().expect("temp dir").path(),
        &["init", "--encrypt"],
    );
    assert_eq!(no_passphrase.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_passphrase.stderr).contains("KAFO_PASSPHRASE"));
}

#[test]
fn encrypted_and_plain_stores_sync_with_each_other() {
    let (encrypted, plain) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["init", "--encrypt"],
        None,
    ));
    let sample = std::fs::read_to_string(sample_path()).expect("sample");
    let area = |name: &str| -> String {
        sample
            .lines()
            .filter(|line| line.contains(&format!("\"area\":\"{name}\"")))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["import", "-"],
        Some(area("sikoro").as_bytes()),
    ));
    let output =
        common::run_with_stdin(plain.path(), &["import", "-"], area("sirakoro").as_bytes());
    assert!(output.status.success(), "{output:?}");

    let ((a, a_report), (b, b_report)) = sync_stdio_env(
        encrypted.path(),
        plain.path(),
        &["--scope", "sikoro", "--scope", "sirakoro"],
        &[("KAFO_PASSPHRASE", PASSPHRASE)],
    );
    assert!(a.success(), "{a_report}");
    assert!(b.success(), "{b_report}");
    assert!(a_report.contains(": in sync"), "{a_report}");
    let exported = succeeded(&with_passphrase(
        encrypted.path(),
        PASSPHRASE,
        &["export"],
        None,
    ));
    assert_eq!(exported.lines().count(), 40);
    assert_eq!(exported, ok(plain.path(), &["export"]));
}
