//! Protocol version 2: `Disclose` carries the trust layer's bytes (Kafo: revocations)
//! ahead of any data, costs no round trip, is never sent to a version 1 peer, and is
//! allowed once, between the peer's hello and its begin.

use std::time::Duration;

use kafo_model::{Fingerprint, Scope};
use kafo_proto::testing::docs::{household, test_actor};
use kafo_proto::testing::{Link, MemoryStorage, Peer, Solo, config, sync_pair};
use kafo_proto::tree::{Salt, Summary};
use kafo_proto::wire::{
    Begin, CloseReason, DeviceId, EntryKind, Frame, FrameDecoder, Hello, MAX_DISCLOSURE, Nonce,
    Payload, PayloadEntry, SUPPORTED_VERSIONS, VersionRange, compress, encode_entries,
};
use kafo_proto::{Input, Outcome, PeerFault, Reveal, Session, SessionError, Side};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const PEER_NONCE: Nonce = Nonce([9; 16]);
const V1: VersionRange = VersionRange { min: 1, max: 1 };
const V2: VersionRange = VersionRange { min: 1, max: 2 };

fn scopes(list: &[&str]) -> Vec<Scope> {
    list.iter()
        .map(|s| s.parse().expect("valid scope"))
        .collect()
}

fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = FrameDecoder::new();
    let mut input = bytes;
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut input).expect("own frames are valid") {
        frames.push(frame);
    }
    frames
}

fn names(frames: &[Frame]) -> Vec<&'static str> {
    frames.iter().map(Frame::name).collect()
}

fn fill(peer: &mut Peer, count: usize) {
    for n in 0..count {
        let id = peer
            .storage
            .create_household(&format!("h{n:03}"), "sikoro", "chw-01")
            .expect("valid household");
        peer.storage.add_visit(&id, &format!("v{n:03}"));
    }
}

fn hello(versions: VersionRange) -> Hello {
    Hello {
        versions,
        device: DeviceId::new(b"peer".to_vec()).expect("short id"),
        nonce: PEER_NONCE,
        window: 4 * 1024 * 1024,
        offers: scopes(&["sikoro/chw-01"]),
        accepts: scopes(&["sikoro/chw-01"]),
        credentials: Vec::new(),
    }
}

/// A victim with an empty store in `sikoro/chw-01`, its own frames taken, and the salt
/// of the session with the scripted peer.
fn victim(reveal: Reveal) -> (Solo, Salt) {
    let mut config = config("victim", &["sikoro/chw-01"]);
    config.reveal = reveal;
    let mut solo = Solo::new(config, MemoryStorage::new(test_actor(1)), 1);
    let frames = solo.take_frames();
    let Some(Frame::Hello(own)) = frames.first() else {
        panic!("a session opens with its hello, got {frames:?}");
    };
    let salt = Salt::new(&own.nonce.0, &PEER_NONCE.0);
    (solo, salt)
}

fn begin(salt: &Salt, count: u64) -> Frame {
    Frame::Begin(Begin {
        share: scopes(&["sikoro/chw-01"]),
        summary: Summary {
            count,
            tag: salt.tag(&Fingerprint([7; 32])),
        },
    })
}

/// A payload carrying household `h1` of `sikoro/chw-01`, whole.
fn payload_h1() -> Frame {
    let mut doc = household("h1", "sikoro", "chw-01", test_actor(5));
    let entries = [PayloadEntry {
        id: "h1".parse().expect("valid"),
        kind: EntryKind::Document,
        data: doc.save(),
    }];
    let raw = encode_entries(&entries);
    Frame::Payload(Payload {
        batch: 0,
        raw_len: raw.len() as u64,
        compressed: compress(&raw),
    })
}

fn unexpected_disclose(solo: &Solo) -> &'static str {
    match solo.report.as_ref().map(|report| &report.outcome) {
        Some(Outcome::Failed(SessionError::PeerMisbehaved(fault))) => match **fault {
            PeerFault::UnexpectedFrame {
                frame: "disclose",
                state,
            } => state,
            ref other => panic!("expected an unexpected disclose, got {other:?}"),
        },
        other => panic!("expected peer misbehaviour, got {other:?}"),
    }
}

fn assert_violation_closed(solo: &mut Solo) {
    let sent = solo.take_frames();
    assert_eq!(
        sent.last(),
        Some(&Frame::Close {
            reason: CloseReason::ProtocolViolation
        }),
        "{sent:?}"
    );
    assert_eq!(solo.storage.writes(), 0);
}

#[test]
fn a_session_speaks_versions_1_and_2() {
    assert_eq!(SUPPORTED_VERSIONS, V2);
    let (mut solo, _) = victim(Reveal::default());
    assert_eq!(solo.session.versions(), V2);
    solo.receive_frame(&Frame::Hello(hello(V1)));
    assert_eq!(solo.hello.as_ref().map(|hello| hello.version), Some(1));
    let (mut solo, _) = victim(Reveal::default());
    solo.receive_frame(&Frame::Hello(hello(VersionRange { min: 1, max: 7 })));
    assert_eq!(solo.hello.as_ref().map(|hello| hello.version), Some(2));
}

#[test]
fn only_supported_version_ranges_can_be_pinned() {
    let config = config("victim", &["sikoro"]);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let now = std::time::Instant::now();
    for (range, ok) in [
        (V1, true),
        (V2, true),
        (VersionRange { min: 2, max: 2 }, true),
        (VersionRange { min: 0, max: 1 }, false),
        (VersionRange { min: 1, max: 3 }, false),
        (VersionRange { min: 2, max: 1 }, false),
    ] {
        let session = Session::with_versions(config.clone(), range, now, &mut rng);
        assert_eq!(session.is_some(), ok, "{range}");
    }
}

#[test]
fn the_disclosure_goes_out_before_begin_and_before_authorized() {
    let (mut solo, _) = victim(Reveal::AfterOwnAuthorization);
    solo.disclose = b"revocations".to_vec();
    solo.receive_frame(&Frame::Hello(hello(V2)));
    let sent = solo.take_frames();
    assert_eq!(names(&sent), ["disclose", "begin"]);
    assert_eq!(sent[0], Frame::Disclose(b"revocations".to_vec()));

    let (mut solo, _) = victim(Reveal::AfterBothAuthorized);
    solo.disclose = b"revocations".to_vec();
    solo.receive_frame(&Frame::Hello(hello(V2)));
    assert_eq!(names(&solo.take_frames()), ["disclose", "authorized"]);
}

#[test]
fn nothing_is_disclosed_to_a_version_1_peer_nor_when_empty() {
    let (mut solo, _) = victim(Reveal::default());
    solo.disclose = b"revocations".to_vec();
    solo.receive_frame(&Frame::Hello(hello(V1)));
    assert_eq!(names(&solo.take_frames()), ["begin"]);

    let (mut solo, _) = victim(Reveal::default());
    solo.receive_frame(&Frame::Hello(hello(V2)));
    assert_eq!(names(&solo.take_frames()), ["begin"]);
}

#[test]
fn the_disclosure_event_comes_before_the_storage_work_of_later_frames() {
    let (mut solo, salt) = victim(Reveal::default());
    solo.receive_frame(&Frame::Hello(hello(V2)));
    solo.take_frames();
    // One chunk: the disclosure, the peer's begin and a document.
    let mut chunk = Frame::Disclose(b"revocations".to_vec()).to_bytes();
    begin(&salt, 1).encode(&mut chunk);
    payload_h1().encode(&mut chunk);
    solo.receive(&chunk);
    assert_eq!(solo.disclosed, vec![(b"revocations".to_vec(), 0)]);
    assert_eq!(solo.storage.writes(), 1, "the document was applied after");
    assert!(solo.report.is_none(), "{:?}", solo.report);
}

#[test]
fn refusing_on_a_disclosure_writes_nothing_of_what_followed_it() {
    let (mut solo, salt) = victim(Reveal::default());
    solo.refuse_disclosures = true;
    solo.receive_frame(&Frame::Hello(hello(V2)));
    solo.take_frames();
    let mut chunk = Frame::Disclose(b"you are revoked".to_vec()).to_bytes();
    begin(&salt, 1).encode(&mut chunk);
    payload_h1().encode(&mut chunk);
    solo.receive(&chunk);
    assert_eq!(solo.disclosed.len(), 1);
    assert!(matches!(
        solo.report.as_ref().map(|report| &report.outcome),
        Some(Outcome::Refused { by: Side::Us })
    ));
    assert_eq!(
        solo.take_frames(),
        vec![Frame::Close {
            reason: CloseReason::Refused
        }]
    );
    assert_eq!(solo.storage.writes(), 0);
    assert!(solo.storage.is_empty());
}

#[test]
fn a_disclosure_under_version_1_is_a_violation() {
    let (mut solo, _) = victim(Reveal::default());
    solo.receive_frame(&Frame::Hello(hello(V1)));
    solo.take_frames();
    solo.receive_frame(&Frame::Disclose(b"x".to_vec()));
    assert_eq!(unexpected_disclose(&solo), "speaking version 1");
    assert!(solo.disclosed.is_empty());
    assert_violation_closed(&mut solo);
}

#[test]
fn a_second_disclosure_is_a_violation() {
    let (mut solo, _) = victim(Reveal::default());
    solo.receive_frame(&Frame::Hello(hello(V2)));
    solo.take_frames();
    solo.receive_frame(&Frame::Disclose(b"first".to_vec()));
    solo.receive_frame(&Frame::Disclose(b"second".to_vec()));
    assert_eq!(unexpected_disclose(&solo), "after the peer's disclosure");
    assert_eq!(solo.disclosed, vec![(b"first".to_vec(), 0)]);
    assert_violation_closed(&mut solo);
}

#[test]
fn a_disclosure_before_hello_is_a_violation() {
    let (mut solo, _) = victim(Reveal::default());
    solo.receive_frame(&Frame::Disclose(b"early".to_vec()));
    assert_eq!(unexpected_disclose(&solo), "awaiting hello");
    assert_violation_closed(&mut solo);
}

#[test]
fn a_disclosure_after_the_peers_begin_or_authorized_is_a_violation() {
    for authorized_first in [false, true] {
        let (mut solo, salt) = victim(Reveal::AfterBothAuthorized);
        solo.receive_frame(&Frame::Hello(hello(V2)));
        solo.take_frames();
        if authorized_first {
            solo.receive_frame(&Frame::Authorized);
        } else {
            solo.receive_frame(&begin(&salt, 0));
        }
        solo.receive_frame(&Frame::Disclose(b"late".to_vec()));
        unexpected_disclose(&solo);
        assert!(solo.disclosed.is_empty());
        assert_violation_closed(&mut solo);
    }
}

#[test]
fn an_oversized_disclosure_fails_locally_and_sends_nothing_of_it() {
    let (mut solo, _) = victim(Reveal::default());
    solo.disclose = vec![0; MAX_DISCLOSURE + 1];
    solo.receive_frame(&Frame::Hello(hello(V2)));
    assert!(matches!(
        solo.report.as_ref().map(|report| &report.outcome),
        Some(Outcome::Failed(SessionError::DisclosureTooLarge { len, max }))
            if *len == MAX_DISCLOSURE + 1 && *max == MAX_DISCLOSURE
    ));
    assert_eq!(
        solo.take_frames(),
        vec![Frame::Close {
            reason: CloseReason::LocalFailure
        }]
    );
}

#[test]
fn a_disclosure_at_the_frame_cap_crosses() {
    let (mut solo, _) = victim(Reveal::default());
    solo.disclose = vec![0xab; MAX_DISCLOSURE];
    solo.receive_frame(&Frame::Hello(hello(V2)));
    let sent = solo.take_frames();
    assert!(
        matches!(sent.first(), Some(Frame::Disclose(bytes)) if bytes.len() == MAX_DISCLOSURE),
        "{:?}",
        names(&sent)
    );
    // and the receiving side takes it whole
    let (mut other, _) = victim(Reveal::default());
    other.receive_frame(&Frame::Hello(hello(V2)));
    other.receive_frame(&Frame::Disclose(vec![0xcd; MAX_DISCLOSURE]));
    assert_eq!(other.disclosed.len(), 1);
    assert_eq!(other.disclosed[0].0.len(), MAX_DISCLOSURE);
}

#[test]
fn both_disclosures_arrive_before_any_data_and_the_pull_completes() {
    let mut a = Peer::new("a", 1, &["sikoro/chw-01"]);
    let mut b = Peer::new("b", 2, &["sikoro/chw-01"]);
    fill(&mut a, 40);
    a.disclose = b"revocations known to a".to_vec();
    b.disclose = b"revocations known to b".to_vec();
    let run = sync_pair(&mut a, &mut b, &Link::perfect(), 11).expect("run completes");
    assert!(run.in_sync(), "{run:?}");
    assert_eq!(a.storage.state(), b.storage.state());
    // each side's driver heard the other's disclosure before its store wrote anything
    assert_eq!(
        run.b_disclosed,
        Some((b"revocations known to a".to_vec(), 0))
    );
    assert_eq!(
        run.a_disclosed,
        Some((b"revocations known to b".to_vec(), 0))
    );
    assert!(b.storage.writes() >= 40);
    // on the wire: hello, then the disclosure, then the first data frame; exactly once
    for sent in [&run.a_sent, &run.b_sent] {
        let sent = names(&frames(sent));
        assert_eq!(&sent[..3], ["hello", "disclose", "begin"], "{sent:?}");
        assert_eq!(sent.iter().filter(|name| **name == "disclose").count(), 1);
    }
    assert_eq!(run.a.docs_sent, 40);
    assert_eq!(run.b.docs_received, 40);
}

#[test]
fn nothing_changed_still_takes_one_round_trip_with_disclosures() {
    let mut a = Peer::new("a", 1, &["sikoro/chw-01"]);
    fill(&mut a, 120);
    let mut b = Peer::new("b", 2, &["sikoro/chw-01"]);
    b.storage = a.storage.clone();
    for start in [
        kafo_proto::testing::Start::Together,
        kafo_proto::testing::Start::FirstDials,
    ] {
        let link = Link {
            start,
            ..Link::perfect()
        };
        a.disclose = Vec::new();
        b.disclose = Vec::new();
        let plain = sync_pair(&mut a, &mut b, &link, 5).expect("run completes");
        a.disclose = vec![0x11; 2000];
        b.disclose = vec![0x22; 300];
        let run = sync_pair(&mut a, &mut b, &link, 5).expect("run completes");
        assert!(plain.in_sync() && run.in_sync(), "{run:?}");
        assert!(run.a_disclosed.is_some() && run.b_disclosed.is_some());
        // the same turns and the same virtual time as without disclosures
        assert_eq!(
            (run.a.round_trips, run.b.round_trips),
            (plain.a.round_trips, plain.b.round_trips),
            "{start:?}"
        );
        assert_eq!(run.elapsed, plain.elapsed, "{start:?}");
        assert_eq!(run.bytes(), plain.bytes() + (4 + 1 + 2000) + (4 + 1 + 300));
        assert_eq!(run.a.frames_sent, plain.a.frames_sent + 1);
        assert_eq!(
            (run.a.docs_sent, run.a.docs_received),
            (plain.a.docs_sent, plain.a.docs_received)
        );
    }
    // both start at once: one round trip in all
    let run = sync_pair(&mut a, &mut b, &Link::perfect(), 6).expect("run completes");
    assert!(
        run.round_trips() <= 1.0,
        "{} round trips",
        run.round_trips()
    );
}

#[test]
fn a_version_1_peer_syncs_with_a_version_2_peer_and_sees_no_disclosure() {
    for v1_first in [false, true] {
        let mut new = Peer::new("new", 1, &["sikoro/chw-01"]);
        let mut old = Peer::new("old", 2, &["sikoro/chw-01"]);
        fill(&mut new, 10);
        old.storage
            .create_household("old-h", "sikoro", "chw-01")
            .expect("valid");
        old.versions = V1;
        new.disclose = b"revocations".to_vec();
        old.disclose = b"ignored under v1".to_vec();
        let run = if v1_first {
            sync_pair(&mut old, &mut new, &Link::perfect(), 3)
        } else {
            sync_pair(&mut new, &mut old, &Link::perfect(), 3)
        }
        .expect("run completes");
        assert!(run.in_sync(), "{run:?}");
        assert_eq!(new.storage.state(), old.storage.state());
        assert_eq!(new.storage.len(), 11);
        assert_eq!(run.a_disclosed, None);
        assert_eq!(run.b_disclosed, None);
        for sent in [&run.a_sent, &run.b_sent] {
            let sent = frames(sent);
            assert!(!names(&sent).contains(&"disclose"), "{:?}", names(&sent));
        }
        // the old peer announced only version 1, in the version 1 layout
        let old_sent = if v1_first { &run.a_sent } else { &run.b_sent };
        assert!(matches!(
            frames(old_sent).first(),
            Some(Frame::Hello(hello)) if hello.versions == V1
        ));
    }
}

#[test]
fn a_session_with_a_disclosure_still_times_out_when_the_peer_goes_silent() {
    let (mut solo, _) = victim(Reveal::default());
    solo.receive_frame(&Frame::Hello(hello(V2)));
    solo.receive_frame(&Frame::Disclose(b"then silence".to_vec()));
    solo.advance(Duration::from_secs(31));
    assert!(matches!(
        solo.report.as_ref().map(|report| &report.outcome),
        Some(Outcome::TimedOut)
    ));
    // an input after the end changes nothing
    solo.input(Input::Refuse);
    assert!(matches!(
        solo.report.as_ref().map(|report| &report.outcome),
        Some(Outcome::TimedOut)
    ));
}
