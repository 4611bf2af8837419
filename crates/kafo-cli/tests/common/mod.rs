//! Helpers for running the real `kafo` binary against stores in temp dirs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

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
        .env_remove("KAFO_DATA_DIR")
        .env_remove("KAFO_PASSPHRASE");
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

/// Imports the sample's households of `area` into the store in `dir`.
pub fn import_area(dir: &Path, area: &str) {
    let sample = std::fs::read_to_string(sample_path()).expect("sample is readable");
    let lines: String = sample
        .lines()
        .filter(|line| line.contains(&format!("\"area\":\"{area}\"")))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(!lines.is_empty(), "the sample has households in {area}");
    let output = run_with_stdin(dir, &["import", "-"], lines.as_bytes());
    assert!(output.status.success(), "{output:?}");
}

/// Copies everything from `from` to `to` on a thread, closing `to` at the end.
pub fn pipe(mut from: impl Read + Send + 'static, mut to: impl Write + Send + 'static) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to
                        .write_all(&buffer[..n])
                        .and_then(|()| to.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
}

/// Waits for `child` for at most `seconds`, killing it if it overruns.
pub fn wait_with_deadline(child: &mut Child, seconds: u64) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kafo did not finish within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `kafo sync --stdio` (with `extra` arguments) on two stores cross-connected by
/// pipes; returns each side's exit status and stderr (where the report goes).
pub fn sync_stdio(
    a: &Path,
    b: &Path,
    extra: &[&str],
) -> (
    (std::process::ExitStatus, String),
    (std::process::ExitStatus, String),
) {
    sync_stdio_env(a, b, extra, &[])
}

/// [`sync_stdio`] with environment variables set for both processes.
pub fn sync_stdio_env(
    a: &Path,
    b: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (
    (std::process::ExitStatus, String),
    (std::process::ExitStatus, String),
) {
    let spawn = |dir: &Path| {
        kafo(dir)
            .envs(env.iter().copied())
            .args(["sync", "--stdio"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the kafo binary runs")
    };
    let mut alice = spawn(a);
    let mut bob = spawn(b);
    pipe(
        alice.stdout.take().expect("piped"),
        bob.stdin.take().expect("piped"),
    );
    pipe(
        bob.stdout.take().expect("piped"),
        alice.stdin.take().expect("piped"),
    );
    let stderr = |child: &mut Child| {
        let mut text = String::new();
        let mut pipe = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let (alice_err, bob_err) = (stderr(&mut alice), stderr(&mut bob));
    let alice_status = wait_with_deadline(&mut alice, 30);
    let bob_status = wait_with_deadline(&mut bob, 30);
    (
        (alice_status, alice_err.join().expect("stderr reader")),
        (bob_status, bob_err.join().expect("stderr reader")),
    )
}
