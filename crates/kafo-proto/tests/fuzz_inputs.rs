//! The fuzz targets' bodies on stable: random bytes, mutations of real session
//! transcripts, and every crash input ever found (`fuzz/regressions/<target>/`).

use std::path::Path;

use kafo_proto::testing::fuzz::{decode_stream, drive_session};
use kafo_proto::testing::{Link, Peer, sync_pair};
use proptest::prelude::*;

/// Bytes one side sent in a real session with a disclosure (protocol version 2),
/// differences, ranges and payloads.
fn transcript() -> Vec<u8> {
    let mut a = Peer::new("a", 1, &["sikoro/chw-01"]);
    let mut b = Peer::new("b", 2, &["sikoro/chw-01"]);
    for n in 0..30 {
        a.storage
            .create_household(&format!("h{n:02}"), "sikoro", "chw-01")
            .expect("valid");
    }
    b.storage = a.storage.clone();
    for n in 0..5 {
        a.storage
            .add_visit(&format!("h{n:02}").parse().expect("valid"), "va");
        b.storage
            .add_visit(&format!("h{:02}", n + 10).parse().expect("valid"), "vb");
    }
    b.disclose = b"revocations known to b".to_vec();
    let run = sync_pair(&mut a, &mut b, &Link::perfect(), 3).expect("run completes");
    assert!(run.in_sync());
    assert!(run.a_disclosed.is_some());
    run.b_sent
}

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("regression directory exists") {
        let path = entry.expect("readable entry").path();
        if path.is_file() {
            run(&std::fs::read(&path).expect("readable input"));
            count += 1;
        }
    }
    assert!(count > 0, "no regression inputs in {}", dir.display());
}

#[test]
fn every_frame_decoder_regression_input_is_handled() {
    replay("frame_decoder", decode_stream);
}

#[test]
fn every_session_regression_input_is_handled() {
    replay("session_input", drive_session);
}

#[test]
fn mutated_transcripts_never_panic() {
    let stream = transcript();
    assert!(!stream.is_empty());
    for position in 0..stream.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut mutated = stream.clone();
            mutated[position] ^= flip;
            // Mode 0: the transcript's own hello opens the session, so its begin, range
            // messages and payloads all reach the victim.
            let mut input = vec![3u8, 61];
            input.extend_from_slice(&mutated);
            drive_session(&input);
            decode_stream(&input[1..]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_break_the_decoder(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_stream(&data);
    }

    #[test]
    fn random_bytes_never_break_a_session(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        drive_session(&data);
    }
}
