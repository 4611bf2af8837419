//! Helpers for running the real `kafo` binary against stores in temp dirs.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The shared sample caseload, in canonical format v1.
pub fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/households-sample.jsonl")
}

/// A `kafo` command on the store in `dir`.
pub fn kafo(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafo"));
    command
        .arg("--data-dir")
        .arg(dir)
        .env_remove("RUST_LOG")
        .env_remove("KAFO_DATA_DIR");
    command
}

/// Runs `kafo` with `args` and returns its output.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    kafo(dir).args(args).output().expect("the kafo binary runs")
}

/// Runs `kafo` with `args`, feeding `stdin`.
pub fn run_with_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = kafo(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kafo binary runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("kafo reads its stdin");
    child.wait_with_output().expect("kafo finishes")
}

/// Runs `kafo` and asserts it succeeded; returns stdout as text.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let output = run(dir, args);
    assert!(
        output.status.success(),
        "kafo {args:?} failed with {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// `kafo --json status` as JSON.
pub fn status(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(dir, &["--json", "status"])).expect("status is JSON")
}
