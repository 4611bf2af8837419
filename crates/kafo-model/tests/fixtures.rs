//! The shared sample in canonical form survives parse -> document -> read -> canonical
//! line byte for byte, also through `save` and `load`.

use std::io::Cursor;
use std::path::PathBuf;

use automerge::AutoCommit;
use kafo_model::document::{self, ApplyOutcome};
use kafo_model::{canonical, parse};

fn sample() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/households-sample.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

#[test]
fn every_sample_line_round_trips_through_a_document_byte_for_byte() {
    let sample = sample();
    let lines: Vec<&str> = sample.lines().collect();
    assert_eq!(lines.len(), 40, "the sample holds 40 households");
    for (index, line) in lines.iter().enumerate() {
        let household =
            parse::parse_line(line).unwrap_or_else(|err| panic!("line {}: {err}", index + 1));
        assert_eq!(canonical::to_line(&household).expect("canonical"), *line);

        let mut doc = AutoCommit::new();
        assert_eq!(
            document::apply_household(&mut doc, &household).expect("apply"),
            ApplyOutcome::Created
        );
        let read = document::read_household(&doc).expect("read back");
        assert_eq!(
            canonical::to_line(&read).expect("canonical"),
            *line,
            "line {}",
            index + 1
        );

        let loaded = AutoCommit::load(&doc.save()).expect("load");
        let reloaded = document::read_household(&loaded).expect("read after load");
        assert_eq!(
            canonical::to_line(&reloaded).expect("canonical"),
            *line,
            "line {}",
            index + 1
        );
        assert!(document::conflicts(&loaded).is_empty());
    }
}

#[test]
fn the_sample_file_parses_as_a_whole() {
    let sample = sample();
    let households = parse::parse_reader(Cursor::new(sample.as_bytes()), 10).expect("valid file");
    assert_eq!(households.len(), 40);
    let summary_ids: Vec<_> = households.iter().map(|h| h.id.as_str()).collect();
    let mut sorted = summary_ids.clone();
    sorted.sort_unstable();
    assert_eq!(summary_ids, sorted, "the sample is sorted by id");
}

#[test]
fn the_summary_agrees_with_the_record() {
    let sample = sample();
    for line in sample.lines() {
        let household = parse::parse_line(line).expect("valid line");
        let mut doc = AutoCommit::new();
        document::apply_household(&mut doc, &household).expect("apply");
        let summary = document::summary(&doc).expect("summary");
        assert_eq!(summary.id, household.id);
        assert_eq!(summary.scope, household.scope());
        assert_eq!(summary.members, household.members.len());
        assert_eq!(summary.visits, household.visits.len());
    }
}
