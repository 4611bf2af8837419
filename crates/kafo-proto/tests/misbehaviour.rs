//! A scripted peer breaks the protocol in every way we can think of: each time the
//! session ends with a typed reason, tells the peer why, and writes nothing.

use std::time::Duration;

use kafo_model::{Fingerprint, Scope};
use kafo_proto::testing::docs::{household, test_actor};
use kafo_proto::testing::{MemoryStorage, Policy, Solo, config};
use kafo_proto::tree::{Salt, Summary, Tag};
use kafo_proto::wire::{
    Begin, CloseReason, DecodeFrameError, DeviceId, EntryKind, Frame, Hello, Nonce, Payload,
    PayloadEntry, VersionRange, compress, encode_entries,
};
use kafo_proto::{Outcome, PeerFault, Reveal, SessionError, Side};

const PEER_NONCE: Nonce = Nonce([9; 16]);

fn scopes(list: &[&str]) -> Vec<Scope> {
    list.iter()
        .map(|s| s.parse().expect("valid scope"))
        .collect()
}

fn hello(scope_list: &[&str]) -> Hello {
    Hello {
        versions: VersionRange { min: 1, max: 1 },
        device: DeviceId::new(b"mallory".to_vec()).expect("short id"),
        nonce: PEER_NONCE,
        window: 4 * 1024 * 1024,
        offers: scopes(scope_list),
        accepts: scopes(scope_list),
        credentials: Vec::new(),
    }
}

/// A victim session in `sikoro/chw-01` with an empty store, past the hello exchange.
fn victim() -> (Solo, Salt) {
    victim_with(config("victim", &["sikoro/chw-01"]))
}

fn victim_with(config: kafo_proto::SessionConfig) -> (Solo, Salt) {
    let mut solo = Solo::new(config, MemoryStorage::new(test_actor(1)), 1);
    let frames = solo.take_frames();
    let Some(Frame::Hello(theirs)) = frames.first() else {
        panic!("a session opens with its hello, got {frames:?}");
    };
    let salt = Salt::new(&theirs.nonce.0, &PEER_NONCE.0);
    solo.receive_frame(&Frame::Hello(hello(&["sikoro/chw-01"])));
    (solo, salt)
}

/// Our begin: we claim one household in the victim's scope.
fn begin(salt: &Salt) -> Frame {
    Frame::Begin(Begin {
        share: scopes(&["sikoro/chw-01"]),
        summary: Summary {
            count: 1,
            tag: salt.tag(&Fingerprint([7; 32])),
        },
    })
}

fn payload(batch: u64, entries: &[PayloadEntry]) -> Frame {
    let raw = encode_entries(entries);
    Frame::Payload(Payload {
        batch,
        raw_len: raw.len() as u64,
        compressed: compress(&raw),
    })
}

fn fault(solo: &Solo) -> &PeerFault {
    match solo.report.as_ref().map(|report| &report.outcome) {
        Some(Outcome::Failed(SessionError::PeerMisbehaved(fault))) => fault,
        other => panic!("expected peer misbehaviour, got {other:?}"),
    }
}

/// The session told the peer why it closed, and wrote nothing.
fn assert_closed_cleanly(solo: &mut Solo, reason: CloseReason) {
    let frames = solo.take_frames();
    assert_eq!(frames.last(), Some(&Frame::Close { reason }), "{frames:?}");
    assert_eq!(solo.storage.writes(), 0);
    assert!(solo.storage.is_empty());
    assert!(solo.session.is_finished());
}

#[test]
fn garbage_ends_the_session_with_a_decode_error() {
    let (mut solo, _) = victim();
    solo.receive(&[0, 0, 0, 3, 0xee, 1, 2]);
    assert!(matches!(
        fault(&solo),
        PeerFault::Decode(DecodeFrameError::UnknownFrameType { found: 0xee })
    ));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn an_oversized_frame_is_refused_from_its_length_alone() {
    let (mut solo, _) = victim();
    solo.receive(&[0x7f, 0xff, 0xff, 0xff]);
    assert!(matches!(
        fault(&solo),
        PeerFault::Decode(DecodeFrameError::FrameTooLarge { .. })
    ));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn a_range_message_before_begin_is_out_of_order() {
    let (mut solo, _) = victim();
    solo.receive_frame(&Frame::Reconcile(Vec::new()));
    assert!(matches!(
        fault(&solo),
        PeerFault::UnexpectedFrame {
            frame: "reconcile",
            ..
        }
    ));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn a_second_hello_is_out_of_order() {
    let (mut solo, _) = victim();
    solo.receive_frame(&Frame::Hello(hello(&["sikoro/chw-01"])));
    assert!(matches!(
        fault(&solo),
        PeerFault::UnexpectedFrame { frame: "hello", .. }
    ));
}

#[test]
fn an_out_of_scope_document_is_refused_and_nothing_is_written() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    let mut foreign = household("h1", "banconi", "chw-09", test_actor(5));
    let entry = PayloadEntry {
        id: "h1".parse().expect("valid"),
        kind: EntryKind::Document,
        data: foreign.save(),
    };
    solo.receive_frame(&payload(0, &[entry]));
    assert!(matches!(
        fault(&solo),
        PeerFault::Rejected {
            reason: kafo_proto::docops::RejectReason::OutOfScope { .. },
            ..
        }
    ));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn a_document_sent_under_another_id_is_refused() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    let mut doc = household("h2", "sikoro", "chw-01", test_actor(5));
    let entry = PayloadEntry {
        id: "h1".parse().expect("valid"),
        kind: EntryKind::Document,
        data: doc.save(),
    };
    solo.receive_frame(&payload(0, &[entry]));
    assert!(matches!(
        fault(&solo),
        PeerFault::Rejected {
            reason: kafo_proto::docops::RejectReason::WrongId { .. },
            ..
        }
    ));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn garbage_changes_are_refused() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    let entry = PayloadEntry {
        id: "h1".parse().expect("valid"),
        kind: EntryKind::Changes,
        data: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4],
    };
    solo.receive_frame(&payload(0, &[entry]));
    assert!(matches!(fault(&solo), PeerFault::Rejected { .. }));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn a_payload_beyond_the_window_is_refused_before_inflating() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    solo.receive_frame(&Frame::Payload(Payload {
        batch: 0,
        raw_len: 64 * 1024 * 1024,
        compressed: vec![0; 16],
    }));
    assert!(matches!(fault(&solo), PeerFault::WindowExceeded { .. }));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn a_decompression_bomb_stops_at_the_announced_length() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    solo.receive_frame(&Frame::Payload(Payload {
        batch: 0,
        raw_len: 1000,
        compressed: compress(&vec![0u8; 3 * 1024 * 1024]),
    }));
    assert!(matches!(fault(&solo), PeerFault::BadPayload(_)));
    assert_closed_cleanly(&mut solo, CloseReason::ProtocolViolation);
}

#[test]
fn batches_must_come_in_order() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    solo.receive_frame(&payload(5, &[]));
    assert!(matches!(
        fault(&solo),
        PeerFault::BatchOutOfOrder {
            expected: 0,
            found: 5
        }
    ));
}

#[test]
fn an_ack_for_nothing_sent_is_refused() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    solo.receive_frame(&Frame::Ack { batch: 3 });
    assert!(matches!(fault(&solo), PeerFault::UnknownBatch { batch: 3 }));
}

#[test]
fn a_done_claiming_unsent_frames_is_refused() {
    let (mut solo, salt) = victim();
    solo.receive_frame(&begin(&salt));
    solo.receive_frame(&Frame::Done { handled: 99 });
    assert!(matches!(
        fault(&solo),
        PeerFault::BadDone { handled: 99, .. }
    ));
}

#[test]
fn a_peer_without_a_common_version_is_told_so() {
    let mut solo = Solo::new(
        config("victim", &["sikoro"]),
        MemoryStorage::new(test_actor(1)),
        1,
    );
    solo.take_sent();
    let mut future = hello(&["sikoro"]);
    future.versions = VersionRange { min: 3, max: 4 };
    solo.receive_frame(&Frame::Hello(future));
    assert!(matches!(
        solo.report.as_ref().map(|r| &r.outcome),
        Some(Outcome::Failed(SessionError::IncompatibleVersion { .. }))
    ));
    assert_closed_cleanly(&mut solo, CloseReason::IncompatibleVersion);
}

#[test]
fn a_session_talking_to_itself_notices() {
    let mut solo = Solo::new(
        config("victim", &["sikoro"]),
        MemoryStorage::new(test_actor(1)),
        1,
    );
    let own = solo.take_sent();
    solo.receive(&own);
    assert!(matches!(fault(&solo), PeerFault::SameNonce));
}

#[test]
fn a_silent_peer_times_out() {
    let mut solo = Solo::new(
        config("victim", &["sikoro"]),
        MemoryStorage::new(test_actor(1)),
        1,
    );
    solo.take_sent();
    solo.advance(Duration::from_secs(29));
    assert!(solo.report.is_none());
    solo.advance(Duration::from_secs(2));
    assert!(matches!(
        solo.report.as_ref().map(|r| &r.outcome),
        Some(Outcome::TimedOut)
    ));
    assert_closed_cleanly(&mut solo, CloseReason::TimedOut);
}

#[test]
fn a_refused_peer_learns_nothing_about_documents() {
    let mut storage = MemoryStorage::new(test_actor(1));
    storage
        .create_household("h1", "sikoro", "chw-01")
        .expect("valid");
    let mut solo = Solo::new(config("victim", &["sikoro"]), storage, 1);
    solo.policy = Policy::Refuse;
    solo.take_sent();
    solo.receive_frame(&Frame::Hello(hello(&["sikoro"])));
    assert_eq!(
        solo.take_frames(),
        vec![Frame::Close {
            reason: CloseReason::Refused
        }]
    );
    assert!(matches!(
        solo.report.as_ref().map(|r| &r.outcome),
        Some(Outcome::Refused { by: Side::Us })
    ));
}

#[test]
fn with_strict_reveal_nothing_is_revealed_before_the_peer_authorizes() {
    let mut strict = config("victim", &["sikoro/chw-01"]);
    strict.reveal = Reveal::AfterBothAuthorized;
    let (mut solo, salt) = victim_with(strict);
    assert_eq!(
        solo.take_frames(),
        vec![Frame::Authorized],
        "authorized, but no begin yet"
    );
    solo.receive_frame(&Frame::Authorized);
    let frames = solo.take_frames();
    assert!(matches!(frames.as_slice(), [Frame::Begin(_)]), "{frames:?}");
    // and a begin also counts as the peer's authorization
    let mut strict = config("victim", &["sikoro/chw-01"]);
    strict.reveal = Reveal::AfterBothAuthorized;
    let (mut solo, _) = victim_with(strict);
    solo.take_frames();
    solo.receive_frame(&begin(&salt));
    assert!(
        solo.take_frames()
            .iter()
            .any(|frame| matches!(frame, Frame::Begin(_)))
    );
}

#[test]
fn a_document_held_outside_the_shared_scopes_is_skipped_not_overwritten() {
    let mut storage = MemoryStorage::new(test_actor(1));
    // The victim holds h1 in banconi; the peer sends its own h1 "in" sikoro/chw-01.
    storage
        .create_household("h1", "banconi", "chw-09")
        .expect("valid");
    let before = storage.state();
    let mut solo = Solo::new(config("victim", &["sikoro/chw-01"]), storage, 1);
    let Some(Frame::Hello(theirs)) = solo.take_frames().into_iter().next() else {
        panic!("hello first");
    };
    let salt = Salt::new(&theirs.nonce.0, &PEER_NONCE.0);
    solo.receive_frame(&Frame::Hello(hello(&["sikoro/chw-01"])));
    solo.receive_frame(&begin(&salt));
    let mut theirs_h1 = household("h1", "sikoro", "chw-01", test_actor(5));
    let entry = PayloadEntry {
        id: "h1".parse().expect("valid"),
        kind: EntryKind::Document,
        data: theirs_h1.save(),
    };
    solo.receive_frame(&payload(0, &[entry]));
    assert!(solo.report.is_none(), "not misbehaviour: {:?}", solo.report);
    assert_eq!(solo.storage.state(), before);
    assert!(solo.take_frames().contains(&Frame::Ack { batch: 0 }));
}

#[test]
fn a_range_message_for_a_range_never_opened_is_refused() {
    // The peer claims to have nothing (so the victim pushes, opening no range), then
    // sends a message about a range.
    let (mut solo, _) = victim();
    solo.receive_frame(&Frame::Begin(Begin {
        share: scopes(&["sikoro/chw-01"]),
        summary: Summary {
            count: 0,
            tag: Tag([0; 8]),
        },
    }));
    solo.receive_frame(&Frame::Reconcile(vec![kafo_proto::wire::NodeMessage {
        node: kafo_proto::tree::NodeId::scope(3),
        body: kafo_proto::wire::NodeBody::Tags(Vec::new()),
    }]));
    assert!(matches!(fault(&solo), PeerFault::UnexpectedRange { .. }));
}
