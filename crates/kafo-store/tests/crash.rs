//! A writer killed with SIGKILL at arbitrary points loses no acknowledged write,
//! and the store it leaves opens (with compactions happening along the way).
//!
//! The test re-runs its own binary as the child: `writer_child` does nothing unless
//! the parent sets `KAFO_STORE_CRASH_DIR`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use automerge::{ROOT, ReadDoc};
use kafo_model::document::summary;
use kafo_store::{OpenStoreError, Store};
use support::{add_visit, id, put_household};

const DIR_ENV: &str = "KAFO_STORE_CRASH_DIR";
const START_ENV: &str = "KAFO_STORE_CRASH_START";
const HOUSEHOLDS: u64 = 5;

/// Upper bound of the child's writes, in case the parent never kills it.
const MAX_CHILD_WRITES: u64 = 5_000;

/// What the child prints; libtest may put other text on the same line.
fn marker(line: &str, tag: &str) -> Option<String> {
    let start = line.find(&format!("<{tag}"))? + tag.len() + 1;
    let end = start + line[start..].find('>')?;
    Some(line[start..end].trim().to_string())
}

/// The child: writes visits, printing `<acked N>` once write N is durable.
#[test]
fn writer_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let start: u64 = std::env::var(START_ENV)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let store = Store::open(std::path::Path::new(&dir)).expect("the child opens the store");
    let mut out = std::io::stdout().lock();
    writeln!(out, "<ready>").expect("stdout");
    out.flush().expect("stdout");
    for n in start..start + MAX_CHILD_WRITES {
        let name = format!("h{}", n % HOUSEHOLDS);
        store
            .update(&id(&name), |doc| {
                if summary(&*doc).is_err() {
                    put_household(doc, &name, "sikoro", "chw-01", "Famille")?;
                }
                add_visit(doc, &format!("{name}.v{n}"), "p")
            })
            .expect("writes");
        writeln!(out, "<acked {n}>").expect("stdout");
        out.flush().expect("stdout");
    }
}

#[test]
fn a_killed_writer_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("the test binary");
    let mut acked = Vec::new();
    for round in 0..4u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
            .env(DIR_ENV, dir.path())
            .env(START_ENV, (round * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns the writer");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            if marker(&line.expect("reads"), "ready").is_some() {
                break;
            }
        }
        // While the child holds the store, this process cannot open it.
        let err = Store::open(dir.path()).expect_err("the child holds the store");
        assert!(matches!(err, OpenStoreError::Locked { .. }), "{err:?}");

        let kill_after = 40 + round * 17;
        let mut seen = 0;
        for line in lines.by_ref() {
            if let Some(n) = marker(&line.expect("reads"), "acked") {
                acked.push(n.parse::<u64>().expect("a number"));
                seen += 1;
                if seen == kill_after {
                    child.kill().expect("SIGKILL");
                }
            }
        }
        child.wait().expect("reaped");
        assert!(seen >= kill_after, "the child wrote before being killed");

        let store = Store::open(dir.path()).expect("the store opens after the kill");
        for &n in &acked {
            let name = format!("h{}", n % HOUSEHOLDS);
            let doc = store.document(&id(&name)).expect("reads").expect("exists");
            let (_, visits) = doc.get(ROOT, "visits").expect("reads").expect("has visits");
            assert!(
                doc.get(&visits, format!("{name}.v{n}"))
                    .expect("reads")
                    .is_some(),
                "acknowledged write {n} survived the kill"
            );
        }
        let totals = store.totals().expect("reads");
        assert!(totals.visits >= acked.len() as u64);
        assert_eq!(totals.households, HOUSEHOLDS);
    }
}
