//! A district caseload (6,840 households of realistic size) committed in batches of
//! a few hundred: time, size on disk and memory, printed and bounded.
//!
//! Alone in its test binary so the peak RSS it reads is its own.

mod support;

use std::time::{Duration, Instant};

use kafo_model::Scope;
use kafo_store::Store;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const HOUSEHOLDS: usize = 6_840;
const BATCH: usize = 300;
const AREAS: [&str; 3] = ["sikoro", "banconi", "boulkassoumbougou"];
const CHWS_PER_AREA: usize = 19;
/// The raw JSON of this caseload in format v1 is about 32 MB.
const RAW_JSON_BYTES: u64 = 32_000_000;

fn household_name(n: usize) -> (String, &'static str, String) {
    let area = AREAS[n % AREAS.len()];
    let chw = format!("chw-{:02}", (n / AREAS.len()) % CHWS_PER_AREA + 1);
    (format!("{area}-{chw}-h{n:05}"), area, chw)
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("lists") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            dir_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

#[test]
fn a_district_caseload_commits_in_seconds_and_fits_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("opens");
    let mut build = Duration::ZERO;
    let mut commit = Duration::ZERO;
    let mut encode = Duration::ZERO;
    let mut snapshot_bytes = 0u64;

    for (batch_index, start) in (0..HOUSEHOLDS).step_by(BATCH).enumerate() {
        let end = (start + BATCH).min(HOUSEHOLDS);
        let began = Instant::now();
        let mut pending: Vec<_> = (start..end)
            .map(|n| {
                store
                    .load_for_update(&support::id(&household_name(n).0))
                    .expect("loads")
            })
            .collect();
        // Build and encode on two threads, as an import does.
        let encoding: Duration = std::thread::scope(|scope| {
            let workers: Vec<_> = pending
                .chunks_mut(BATCH.div_ceil(2))
                .enumerate()
                .map(|(part_index, part)| {
                    scope.spawn(move || {
                        let mut encoding = Duration::ZERO;
                        let mut rng =
                            ChaCha8Rng::seed_from_u64((batch_index * 2 + part_index) as u64);
                        for document in part {
                            let n: usize = document.id().as_str()
                                [document.id().as_str().len() - 5..]
                                .parse()
                                .expect("numbered ids");
                            let (name, area, chw) = household_name(n);
                            support::fill_realistic(
                                document.doc_mut(),
                                &mut rng,
                                &name,
                                area,
                                &chw,
                            )
                            .expect("builds");
                            let began = Instant::now();
                            document.prepare().expect("valid");
                            encoding += began.elapsed();
                        }
                        encoding
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("no panic"))
                .sum()
        });
        build += began.elapsed();
        encode += encoding;

        let began = Instant::now();
        let report = store.commit(pending).expect("commits");
        commit += began.elapsed();
        assert_eq!(report.created(), end - start);
    }
    for n in [0, HOUSEHOLDS / 2, HOUSEHOLDS - 1] {
        let id = support::id(&household_name(n).0);
        snapshot_bytes += store
            .stored_layout(&id)
            .expect("reads")
            .expect("exists")
            .snapshot_bytes;
    }
    let mean_snapshot = snapshot_bytes / 3;

    let began = Instant::now();
    let totals = store.totals().expect("reads");
    let aggregates = store
        .scope_aggregates(&Scope::area("sikoro".parse().expect("valid")))
        .expect("reads");
    let aggregates_time = began.elapsed();
    let began = Instant::now();
    let everything = store.range_fingerprint(..).expect("scans");
    let scan_time = began.elapsed();
    let size_on_disk = store.size_on_disk().expect("reads");
    let engine = store.engine();
    drop(store);
    let files = dir_bytes(dir.path());
    let began = Instant::now();
    let store = Store::open(dir.path()).expect("reopens");
    let reopen_time = began.elapsed();
    let rss = peak_rss_bytes();

    println!(
        "bulk: {HOUSEHOLDS} households in batches of {BATCH}: build+encode {build:.2?} (2 threads; encode {encode:.2?} of it, summed over threads), \
         commit {commit:.2?}; ~{mean_snapshot} B/snapshot; {engine} size_on_disk {size_on_disk} B, \
         files {files} B; {} members, {} visits; scope aggregates {aggregates_time:.2?}, \
         full range fingerprint {scan_time:.2?}; reopen {reopen_time:.2?}; peak RSS {} MB",
        totals.members,
        totals.visits,
        rss.map_or("?".to_string(), |bytes| (bytes / 1_000_000).to_string()),
    );

    assert_eq!(totals.households, HOUSEHOLDS as u64);
    assert_eq!(everything.count, HOUSEHOLDS as u64);
    assert_eq!(aggregates.len(), CHWS_PER_AREA);
    assert_eq!(store.len().expect("reads"), HOUSEHOLDS as u64);
    assert!(
        files < RAW_JSON_BYTES,
        "store files {files} B exceed the raw JSON size"
    );
    // Generous bound for a shared CI machine; the target is a couple of seconds.
    assert!(commit < Duration::from_secs(20), "commits took {commit:?}");
    if let Some(rss) = rss {
        assert!(rss < 500_000_000, "peak RSS {rss} B");
    }
}
