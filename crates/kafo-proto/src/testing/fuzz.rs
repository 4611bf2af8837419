//! The bodies of the fuzz targets, shared by `fuzz/` (cargo-fuzz) and the proptest-driven
//! test that runs on stable: any panic in here is a finding.

use std::time::Duration;

use kafo_model::Fingerprint;

use super::docs::test_actor;
use super::memory::MemoryStorage;
use super::solo::{Solo, config};
use crate::tree::{Salt, Summary};
use crate::wire::{
    Begin, DeviceId, Frame, FrameDecoder, Hello, MAX_ENTRY, Nonce, VersionRange, decode_entries,
    decompress,
};

thread_local! {
    /// The victim's store: 20 households in `sikoro/chw-01`, built once per thread.
    static BASE: MemoryStorage = {
        let mut storage = MemoryStorage::new(test_actor(1));
        for n in 0..20 {
            let _ = storage.create_household(&format!("h{n:02}"), "sikoro", "chw-01");
        }
        storage
    };
}

/// Decodes `data` as a byte stream cut into chunks whose sizes come from the data; every
/// frame decoded must encode and decode back to itself, and payloads are inflated
/// (bounded) and their entries decoded.
pub fn decode_stream(data: &[u8]) {
    let Some((&chunk_seed, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk_seed).max(1);
    let mut decoder = FrameDecoder::new();
    for piece in stream.chunks(chunk) {
        let mut input = piece;
        while !input.is_empty() {
            match decoder.decode(&mut input) {
                Ok(Some(frame)) => check_frame(&frame),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(decoder.buffered() <= 4 + crate::wire::MAX_FRAME_LEN as usize);
    }
}

fn check_frame(frame: &Frame) {
    let bytes = frame.to_bytes();
    assert_eq!(
        Frame::decode(&bytes[4..]).as_ref(),
        Ok(frame),
        "decode(encode(frame)) differs"
    );
    if let Frame::Payload(payload) = frame {
        let raw_len = payload.raw_len.min(MAX_ENTRY as u64) as usize;
        if let Ok(raw) = decompress(&payload.compressed, raw_len) {
            assert_eq!(raw.len(), raw_len);
            let _ = decode_entries(&raw);
        }
    }
}

/// Drives a session holding a few documents with `data` as the peer's bytes. The first
/// byte picks how far a valid script goes first (`mode % 3`: nothing, hello, hello and
/// begin) and whether the scripted peer speaks version 2 and discloses after its hello
/// (`mode / 3` odd; the victim then discloses too), the second the chunk size. The
/// session must never panic and only send valid frames.
pub fn drive_session(data: &[u8]) {
    let [mode, chunk_seed, stream @ ..] = data else {
        return;
    };
    let storage = BASE.with(|base| base.clone());
    let mut solo = Solo::new(
        config("fuzz", &["sikoro/chw-01"]),
        storage,
        u64::from(*mode),
    );
    let v2 = (mode / 3) % 2 == 1;
    solo.disclose = b"victim disclosure".to_vec();
    // Sometimes the victim's driver refuses whatever the peer discloses.
    solo.refuse_disclosures = (mode / 6) % 2 == 1;
    let frames = solo.take_frames();
    let Some(Frame::Hello(own)) = frames.first() else {
        panic!("a session opens with its hello");
    };
    let peer_nonce = Nonce([0x5a; 16]);
    let salt = Salt::new(&own.nonce.0, &peer_nonce.0);
    let scopes = vec!["sikoro/chw-01".parse().expect("valid scope")];
    if mode % 3 >= 1 {
        solo.receive_frame(&Frame::Hello(Hello {
            versions: VersionRange {
                min: 1,
                max: if v2 { 2 } else { 1 },
            },
            device: DeviceId::new(b"fuzzer".to_vec()).expect("short id"),
            nonce: peer_nonce,
            window: 4 * 1024 * 1024,
            offers: scopes.clone(),
            accepts: scopes.clone(),
            credentials: Vec::new(),
        }));
        if v2 {
            solo.receive_frame(&Frame::Disclose(b"fuzzer disclosure".to_vec()));
        }
    }
    if mode % 3 == 2 {
        // Claims 12 items: the victim compares its caseload item by item.
        solo.receive_frame(&Frame::Begin(Begin {
            share: scopes,
            summary: Summary {
                count: 12,
                tag: salt.tag(&Fingerprint([*mode; 32])),
            },
        }));
    }
    let chunk = usize::from(*chunk_seed).max(1);
    for piece in stream.chunks(chunk) {
        solo.receive(piece);
        let _ = solo.take_frames();
        if solo.session.is_finished() {
            break;
        }
    }
    solo.advance(Duration::from_secs(60));
    let _ = solo.take_frames();
    assert!(
        solo.session.is_finished(),
        "a silent peer always ends the session"
    );
}
