//! Syncing through the real binary: two `kafo sync --stdio` processes cross-connected
//! by pipes; `kafo sync MULTIADDR` against a `kafo serve` child on 127.0.0.1 (and what
//! other commands say while it holds the store); an unreachable peer.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{import_area, kafo, ok, pipe, run, wait_with_deadline};

const SCOPES: [&str; 4] = ["--scope", "sikoro", "--scope", "sirakoro"];

#[test]
fn two_processes_sync_over_their_stdin_and_stdout() {
    let (a, b) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    import_area(a.path(), "sikoro");
    import_area(b.path(), "sirakoro");

    let spawn = |dir: &Path| {
        kafo(dir)
            .args(["sync", "--stdio"])
            .args(SCOPES)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the kafo binary runs")
    };
    let mut alice = spawn(a.path());
    let mut bob = spawn(b.path());
    pipe(
        alice.stdout.take().expect("piped"),
        bob.stdin.take().expect("piped"),
    );
    pipe(
        bob.stdout.take().expect("piped"),
        alice.stdin.take().expect("piped"),
    );
    let alice_status = wait_with_deadline(&mut alice, 30);
    let bob_status = wait_with_deadline(&mut bob, 30);
    let mut alice_report = String::new();
    alice
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut alice_report)
        .expect("stderr reads");
    assert!(alice_status.success(), "alice: {alice_report}");
    assert!(bob_status.success(), "bob exited with {bob_status:?}");
    assert!(alice_report.contains(": in sync"), "{alice_report}");
    assert!(alice_report.contains("received 20"), "{alice_report}");

    let exported = ok(a.path(), &["export"]);
    assert_eq!(exported, ok(b.path(), &["export"]));
    assert_eq!(exported.lines().count(), 40);
    let peers: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["--json", "peers"])).expect("JSON");
    assert_eq!(peers["peers"].as_array().map(Vec::len), Some(1));
}

/// Reads a child's stdout lines on a thread.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next JSON line with `"event": event`, within `seconds`.
fn next_event(lines: &mpsc::Receiver<String>, event: &str, seconds: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {event} event within {seconds} s"));
        let value: serde_json::Value = serde_json::from_str(&line).expect("one JSON per line");
        assert_eq!(value["schema_version"], 1, "{line}");
        if value["event"] == event {
            return value;
        }
    }
}

#[test]
fn a_laptop_syncs_with_a_running_serve_which_holds_its_store() {
    let (served, laptop) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    import_area(served.path(), "sikoro");
    import_area(laptop.path(), "sirakoro");
    let mut serve = kafo(served.path())
        .args([
            "--json",
            "serve",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--no-mdns",
        ])
        .args(SCOPES)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the kafo binary runs");
    let events = lines(serve.stdout.take().expect("piped"));
    let listening = next_event(&events, "listening", 20);
    let addr = listening["addr"].as_str().expect("an address").to_owned();
    assert!(
        addr.starts_with("/ip4/127.0.0.1/tcp/") && addr.contains("/p2p/12D3KooW"),
        "{addr}"
    );

    // While serve runs, other commands on its store say so.
    let status = run(served.path(), &["status"]);
    assert_eq!(status.status.code(), Some(1));
    let message = String::from_utf8_lossy(&status.stderr);
    assert!(
        message.contains("in use by a running kafo (serve"),
        "{message}"
    );

    let sync = run(
        laptop.path(),
        &[
            "--json", "sync", &addr, "--scope", "sikoro", "--scope", "sirakoro",
        ],
    );
    assert!(
        sync.status.success(),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&sync.stdout).expect("JSON report");
    assert_eq!(report["in_sync"], true);
    assert_eq!(report["outcome"], "in sync");
    assert_eq!(report["docs_received"], 20);
    assert_eq!(report["docs_sent"], 20);
    assert!(report["round_trips"].as_u64().expect("a count") >= 1);

    let finished = next_event(&events, "session_finished", 20);
    assert_eq!(finished["direction"], "inbound");
    assert_eq!(finished["report"]["docs_received"], 20);

    // SIGTERM: serve finishes and releases the store.
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    next_event(&events, "stopped", 20);
    let status = wait_with_deadline(&mut serve, 20);
    assert!(status.success(), "serve exited with {status:?}");
    assert_eq!(
        ok(served.path(), &["export"]),
        ok(laptop.path(), &["export"])
    );

    let peers = ok(laptop.path(), &["peers"]);
    let served_id = addr.rsplit('/').next().expect("a peer id");
    assert!(peers.contains(served_id), "{peers}");
    assert!(peers.contains("in sync"), "{peers}");
}

#[test]
fn a_peer_nobody_answers_for_exits_69() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binds on loopback")
        .port();
    let output = run(dir.path(), &["sync", &format!("/ip4/127.0.0.1/tcp/{port}")]);
    assert_eq!(
        output.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("cannot reach"), "{message}");
}

#[test]
fn sync_needs_an_address_or_stdio() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(2));
    assert_eq!(
        run(dir.path(), &["sync", "--scope", "not a scope!", "--stdio"])
            .status
            .code(),
        Some(65)
    );
    let help = ok(dir.path(), &["sync", "--help"]);
    assert!(help.contains("69  peer unreachable"), "{help}");
}

#[test]
fn two_serves_converge_when_one_names_the_other() {
    let (laptop, phone) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    import_area(laptop.path(), "sikoro");
    import_area(phone.path(), "sirakoro");
    let serve = |dir: &Path, extra: &[&str]| {
        kafo(dir)
            .args([
                "--json",
                "serve",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--no-mdns",
            ])
            .args(SCOPES)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the kafo binary runs")
    };
    let mut first = serve(laptop.path(), &[]);
    let first_events = lines(first.stdout.take().expect("piped"));
    let addr = next_event(&first_events, "listening", 20)["addr"]
        .as_str()
        .expect("an address")
        .to_owned();
    let mut second = serve(phone.path(), &["--peer", &addr]);
    let second_events = lines(second.stdout.take().expect("piped"));
    let finished = next_event(&second_events, "session_finished", 20);
    assert_eq!(finished["direction"], "outbound");
    assert_eq!(finished["report"]["in_sync"], true);
    assert_eq!(finished["report"]["docs_received"], 20);
    next_event(&first_events, "session_finished", 20);

    for child in [&mut first, &mut second] {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(terminated.success());
        assert!(wait_with_deadline(child, 20).success());
    }
    let exported = ok(laptop.path(), &["export"]);
    assert_eq!(exported.lines().count(), 40);
    assert_eq!(exported, ok(phone.path(), &["export"]));
}
