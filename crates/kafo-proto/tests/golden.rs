//! Golden bytes: the exact encoding of every frame of protocol versions 1 and 2 (which
//! only adds `Disclose`). A change here is a wire-format change: bump the protocol
//! version and update docs/protocol.md. The version 1 bytes must never change.

use automerge::ChangeHash;
use kafo_model::Scope;
use kafo_proto::tree::{HeadPrefix, ItemTag, NodeId, Prefix, Summary, Tag};
use kafo_proto::wire::{
    Begin, CloseReason, DeviceId, EntryKind, Frame, FrameDecoder, Hello, NodeBody, NodeMessage,
    Nonce, Payload, PayloadEntry, VersionRange, WireItem, encode_entries,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn scope(text: &str) -> Scope {
    text.parse().expect("valid scope")
}

fn summary(count: u64, byte: u8) -> Summary {
    Summary {
        count,
        tag: Tag([byte; 8]),
    }
}

/// Encodes, compares with the golden hex, and checks the bytes decode back.
fn pin(frame: Frame, golden: &str) {
    let bytes = frame.to_bytes();
    assert_eq!(
        hex(&bytes),
        golden,
        "{} frame encoding changed",
        frame.name()
    );
    let mut decoder = FrameDecoder::new();
    let mut input = bytes.as_slice();
    assert_eq!(decoder.decode(&mut input), Ok(Some(frame)));
    assert!(input.is_empty());
}

#[test]
fn hello() {
    pin(
        Frame::Hello(Hello {
            versions: VersionRange { min: 1, max: 1 },
            device: DeviceId::new(vec![0xd1, 0xd2]).expect("short"),
            nonce: Nonce([0xab; 16]),
            window: 0x0040_0000,
            offers: vec![scope("sikoro")],
            accepts: vec![scope("sikoro/chw-01")],
            credentials: vec![0xcc],
        }),
        concat!(
            "00000039", // length 57
            "01",       // hello
            "4b41464f", // "KAFO"
            "0001",
            "0001",                             // versions 1..=1
            "02d1d2",                           // device
            "abababababababababababababababab", // nonce
            "00400000",                         // window 4 MiB
            "01",
            "06",
            "73696b6f726f", // offers ["sikoro"]
            "01",
            "0d",
            "73696b6f726f2f6368772d3031", // accepts ["sikoro/chw-01"]
            "01cc",                       // credentials
        ),
    );
}

#[test]
fn authorized() {
    pin(Frame::Authorized, "0000000108");
}

#[test]
fn begin() {
    pin(
        Frame::Begin(Begin {
            share: vec![scope("sikoro")],
            summary: summary(6840, 0x11),
        }),
        concat!(
            "00000013", // length 19
            "02",
            "01",
            "06",
            "73696b6f726f",     // share ["sikoro"]
            "b835",             // count 6840 (varint)
            "1111111111111111", // tag
        ),
    );
}

#[test]
fn reconcile_with_every_kind_of_range_message() {
    let chw = "chw-01".parse().expect("valid");
    let caseload = NodeId::Range {
        scope: 0,
        chw: Some(chw),
        prefix: Prefix::ROOT,
    };
    let mut buckets = [None; 16];
    buckets[0] = Some(summary(3, 0x22));
    buckets[15] = Some(summary(1, 0x33));
    let bucket = NodeId::Range {
        scope: 0,
        chw: Some("chw-01".parse().expect("valid")),
        prefix: Prefix::new(1, 0xf).expect("valid"),
    };
    pin(
        Frame::Reconcile(vec![
            NodeMessage {
                node: NodeId::Root,
                body: NodeBody::Scopes(vec![summary(2, 0x44)]),
            },
            NodeMessage {
                node: NodeId::scope(0),
                body: NodeBody::Caseloads(vec![(
                    "chw-01".parse().expect("valid"),
                    summary(4, 0x55),
                )]),
            },
            NodeMessage {
                node: caseload,
                body: NodeBody::Buckets(Box::new(buckets)),
            },
            NodeMessage {
                node: bucket.clone(),
                body: NodeBody::Tags(vec![ItemTag([0x66; 6])]),
            },
            NodeMessage {
                node: bucket,
                body: NodeBody::Items(vec![WireItem {
                    id: "h1".parse().expect("valid"),
                    heads: vec![HeadPrefix::of(&ChangeHash([0x77; 32]))],
                }]),
            },
        ]),
        concat!(
            "00000062", // length 98
            "03",
            "05", // five messages
            // root: scopes
            "00",
            "00",
            "01",
            "02",
            "4444444444444444",
            // scope 0 (area): caseloads
            "01",
            "00",
            "00",
            "00",
            "01",
            "01",
            "06",
            "6368772d3031",
            "04",
            "5555555555555555",
            // scope 0 / chw-01 (new chw): buckets 0 and 15
            "01",
            "02",
            "06",
            "6368772d3031",
            "00",
            "00",
            "02",
            "8001",
            "03",
            "2222222222222222",
            "01",
            "3333333333333333",
            // scope 0 / same chw / bucket f: tags
            "01",
            "01",
            "01",
            "0f",
            "03",
            "01",
            "666666666666",
            // scope 0 / same chw / bucket f: items
            "01",
            "01",
            "01",
            "0f",
            "04",
            "01",
            "02",
            "6831",
            "01",
            "7777777777777777",
        ),
    );
}

#[test]
fn payload_ack_done_close() {
    let entries = [PayloadEntry {
        id: "h1".parse().expect("valid"),
        kind: EntryKind::Changes,
        data: vec![0xaa, 0xbb],
    }];
    assert_eq!(
        hex(&encode_entries(&entries)),
        concat!("01", "00", "02", "6831", "02", "aabb")
    );
    pin(
        Frame::Payload(Payload {
            batch: 3,
            raw_len: 7,
            compressed: vec![1, 2, 3],
        }),
        concat!("00000006", "04", "03", "07", "010203"),
    );
    pin(Frame::Ack { batch: 300 }, concat!("00000003", "05", "ac02"));
    pin(Frame::Done { handled: 4 }, concat!("00000002", "06", "04"));
    for (reason, code) in [
        (CloseReason::Refused, "01"),
        (CloseReason::ProtocolViolation, "02"),
        (CloseReason::LocalFailure, "03"),
        (CloseReason::IncompatibleVersion, "04"),
        (CloseReason::TimedOut, "05"),
    ] {
        pin(Frame::Close { reason }, &format!("0000000207{code}"));
    }
}

#[test]
fn entry_kinds_have_fixed_codes() {
    for (kind, code) in [
        (EntryKind::Changes, "00"),
        (EntryKind::Document, "01"),
        (EntryKind::Sync, "02"),
    ] {
        let entries = [PayloadEntry {
            id: "h".parse().expect("valid"),
            kind,
            data: Vec::new(),
        }];
        assert_eq!(hex(&encode_entries(&entries)), format!("01{code}016800"));
    }
}

#[test]
fn disclose_version_2() {
    pin(
        Frame::Disclose(vec![0xde, 0xad, 0xbe, 0xef]),
        concat!(
            "00000005", // length 5
            "09",       // disclose
            "deadbeef", // the opaque bytes: the rest of the frame
        ),
    );
    pin(Frame::Disclose(Vec::new()), "0000000109");
}

#[test]
fn a_version_2_hello_keeps_the_version_1_layout() {
    let hello = |max| {
        Frame::Hello(Hello {
            versions: VersionRange { min: 1, max },
            device: DeviceId::new(vec![0xd1]).expect("short"),
            nonce: Nonce([0; 16]),
            window: 1,
            offers: Vec::new(),
            accepts: Vec::new(),
            credentials: Vec::new(),
        })
        .to_bytes()
    };
    let (v1, v2) = (hello(1), hello(2));
    assert_eq!(v1.len(), v2.len());
    // only the max version differs: after the length (4), type (1), magic (4) and min
    // version (2), it is bytes 11..13
    let differing: Vec<usize> = (0..v1.len()).filter(|&i| v1[i] != v2[i]).collect();
    assert_eq!(differing, vec![12]);
    assert_eq!(&v2[11..13], &[0x00, 0x02]);
}
