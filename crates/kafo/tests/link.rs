//! Links the host drives: two nodes sync through them in BLE-sized chunks, and the
//! change subscription names exactly the households received.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafo::net::{Scopes, SyncOptions};
use kafo::{Change, ImportOptions, Link, Node};

const SAMPLE: &str = "../../../shared/fixtures/households-sample.jsonl";

fn caseload(area: &str) -> String {
    let text = std::fs::read_to_string(SAMPLE).expect("the shared sample");
    text.lines()
        .filter(|line| line.contains(&format!("\"area\":\"{area}\"")))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn options() -> SyncOptions {
    SyncOptions {
        scopes: Scopes::Only(vec![
            "sikoro".parse().expect("scope"),
            "sirakoro".parse().expect("scope"),
        ]),
        ..SyncOptions::default()
    }
}

fn pump(a: &Link, b: &Link, chunk: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(a.is_finished() && b.is_finished()) {
        let to_b = a.poll_transmit(chunk);
        b.receive(&to_b);
        let to_a = b.poll_transmit(chunk);
        a.receive(&to_a);
        if to_a.is_empty() && to_b.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(Instant::now() < deadline, "links did not finish");
    }
}

#[test]
fn two_links_converge_in_20_byte_chunks_and_subscribers_see_the_ids() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Arc::new(Node::open(dir.path().join("a")).expect("open a"));
    let b = Arc::new(Node::open(dir.path().join("b")).expect("open b"));
    let mut changes = a.subscribe();
    a.import(
        caseload("sikoro").as_bytes(),
        &ImportOptions::default(),
        |_| {},
    )
    .expect("import a");
    let Some(Change::Households(imported)) = changes.try_recv() else {
        panic!("no change after the import");
    };
    assert_eq!(imported.len(), 20);
    b.import(
        caseload("sirakoro").as_bytes(),
        &ImportOptions::default(),
        |_| {},
    )
    .expect("import b");

    let timeout = Duration::from_secs(20);
    let link_a = Link::open(Arc::clone(&a), options(), timeout, runtime.handle());
    let link_b = Link::open(Arc::clone(&b), options(), timeout, runtime.handle());
    pump(&link_a, &link_b, 20);
    let report = link_a.report().expect("finished").expect("a report");
    assert!(report.is_in_sync());
    assert_eq!(report.docs_received, 20);

    let mut received = Vec::new();
    while let Some(change) = changes.try_recv() {
        if let Change::Households(ids) = change {
            received.extend(ids.into_iter().map(|id| id.to_string()));
        }
    }
    received.sort();
    let mut expected: Vec<String> = b
        .households(None, None)
        .expect("list")
        .into_iter()
        .map(|listing| listing.id.to_string())
        .filter(|id| id.starts_with("sirakoro"))
        .collect();
    expected.sort();
    assert_eq!(received, expected);
}

#[test]
fn a_link_fed_garbage_finishes_with_an_error_and_writes_nothing() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Arc::new(Node::open(dir.path()).expect("open"));
    node.import(
        caseload("sikoro").as_bytes(),
        &ImportOptions::default(),
        |_| {},
    )
    .expect("import");
    let before = node.change_count();
    let link = Link::open(
        Arc::clone(&node),
        options(),
        Duration::from_secs(10),
        runtime.handle(),
    );
    link.receive(&[0xAB; 4096]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !link.is_finished() {
        link.poll_transmit(4096);
        std::thread::sleep(Duration::from_millis(5));
        assert!(Instant::now() < deadline, "the link did not finish");
    }
    assert!(link.report().expect("finished").is_err());
    assert_eq!(node.change_count(), before);
}

#[test]
fn a_silent_link_times_out() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Arc::new(Node::open(dir.path()).expect("open"));
    let link = Link::open(
        node,
        options(),
        Duration::from_millis(200),
        runtime.handle(),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(link.is_finished());
    assert!(matches!(
        link.report(),
        Some(Err(kafo::LinkError::TimedOut { .. }))
    ));
}
