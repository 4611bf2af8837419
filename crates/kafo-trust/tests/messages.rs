//! Session messages: credentials, disclosures, attestations and envelopes.

mod common;

use common::{Device, Fixture, NOW};
use kafo_trust::{
    Attestation, Credentials, DecodeErrorKind, Disclosure, Frontier, MAX_DISCLOSED_REVOCATIONS,
    MAX_ENVELOPE_BODY, MAX_ENVELOPE_CHAINS, MAX_ENVELOPE_SIGNATURES, Settlement, SignedEnvelope,
};

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn credentials_are_empty_when_unenrolled_and_round_trip_a_chain() {
    let f = Fixture::new();
    assert!(Credentials { chain: None }.encode().is_empty());
    assert_eq!(Credentials::decode(&[]), Ok(Credentials { chain: None }));
    let credentials = Credentials {
        chain: Some(f.chw.chain().clone()),
    };
    let bytes = credentials.encode();
    assert_eq!(bytes[0], 1);
    assert_eq!(Credentials::decode(&bytes), Ok(credentials));
    let error = Credentials::decode(&[7, 1]).expect_err("unknown version");
    assert_eq!(error.kind, DecodeErrorKind::UnsupportedVersion(7));
    assert_eq!(error.field, "credentials.version");
}

#[test]
fn disclosures_round_trip_and_are_bounded() {
    let f = Fixture::new();
    let disclosure = Disclosure {
        revocations: vec![
            f.program
                .revoke(f.chw_device.key, "lost", NOW, Frontier::new())
                .expect("issued"),
            f.program
                .revoke(
                    Device::new().key,
                    "broken",
                    NOW,
                    [(b"x".to_vec(), 4)].into(),
                )
                .expect("issued"),
        ],
        settlements: Vec::new(),
    };
    assert_eq!(disclosure.encode()[0], 1, "no settlement: version 1");
    assert_eq!(
        Disclosure::decode(&disclosure.encode()),
        Ok(disclosure.clone())
    );
    let settlement = Settlement::issue(
        &f.supervisor,
        &f.supervisor_device.keypair,
        "sikoro-chw-01-h0001",
        [[7; 32], [9; 32]].into(),
        NOW,
    )
    .expect("a supervisor settles");
    assert_eq!(
        settlement.verify(&f.program.id()),
        Ok(f.supervisor.scopes.clone())
    );
    assert!(settlement.accepts(&[9; 32]) && !settlement.accepts(&[8; 32]));
    let with_settlement = Disclosure {
        settlements: vec![settlement.clone()],
        ..disclosure
    };
    assert_eq!(with_settlement.encode()[0], 2);
    assert_eq!(
        Disclosure::decode(&with_settlement.encode()),
        Ok(with_settlement)
    );
    // A CHW may not settle; a settlement altered after signing does not verify.
    assert!(
        Settlement::issue(
            &f.chw,
            &f.chw_device.keypair,
            "sikoro-chw-01-h0001",
            [[7; 32]].into(),
            NOW
        )
        .is_err()
    );
    let mut bytes = settlement.encode();
    let at = bytes.len() - 70;
    bytes[at] ^= 1;
    assert!(
        Settlement::decode(&bytes)
            .map(|forged| forged.verify(&f.program.id()).is_err())
            .unwrap_or(true)
    );
    assert_eq!(
        Disclosure::decode(&Disclosure::default().encode()),
        Ok(Disclosure::default())
    );
    // A count above the bound, and a count the remaining bytes cannot hold.
    let mut too_many = vec![1];
    too_many.extend(varint(MAX_DISCLOSED_REVOCATIONS as u64 + 1));
    let error = Disclosure::decode(&too_many).expect_err("too many");
    assert_eq!((error.field, error.offset), ("disclosure.count", 1));
    assert!(matches!(error.kind, DecodeErrorKind::TooLarge { .. }));
    let mut hollow = vec![1];
    hollow.extend(varint(4000));
    assert!(matches!(
        Disclosure::decode(&hollow)
            .expect_err("no bytes for them")
            .kind,
        DecodeErrorKind::Truncated { .. }
    ));
}

#[test]
fn attestations_sign_verify_and_encode_in_96_bytes() {
    let device = Device::new();
    let hash = [42u8; 32];
    let attestation = Attestation::sign(&device.keypair, &hash);
    assert_eq!(attestation.author, device.key);
    assert!(attestation.verify(&hash));
    assert!(!attestation.verify(&[43u8; 32]));
    let bytes = attestation.encode();
    assert_eq!(bytes.len(), 96);
    assert_eq!(Attestation::decode(&bytes), Ok(attestation));
    let mut tampered = bytes;
    tampered[95] ^= 1;
    assert!(
        !Attestation::decode(&tampered)
            .expect("structure intact")
            .verify(&hash)
    );
    let mut other_author = attestation;
    other_author.author = Device::new().key;
    assert!(!other_author.verify(&hash));
    assert!(Attestation::decode(&bytes[..95]).is_err());
    assert_eq!(
        Attestation::decode(&[bytes.as_slice(), &[0]].concat())
            .expect_err("97 bytes")
            .kind,
        DecodeErrorKind::TrailingBytes(1)
    );
    // An attestation signature does not pass as another domain's: the tag separates them.
    let raw = device.keypair.sign(&hash);
    let mut forged = attestation;
    forged.signature.copy_from_slice(&raw);
    assert!(!forged.verify(&hash));
}

#[test]
fn envelopes_round_trip() {
    let f = Fixture::new();
    let hashes = [[1u8; 32], [2u8; 32]];
    let envelope = SignedEnvelope {
        body: b"automerge bytes".to_vec(),
        chains: vec![f.chw.chain().clone(), f.supervisor.chain().clone()],
        signatures: hashes
            .iter()
            .map(|h| (*h, Attestation::sign(&f.chw_device.keypair, h)))
            .collect(),
    };
    let bytes = envelope.encode();
    let decoded = SignedEnvelope::decode(&bytes).expect("decodes");
    assert_eq!(decoded, envelope);
    assert!(decoded.signatures.iter().all(|(h, a)| a.verify(h)));
    for cut in 0..bytes.len() {
        assert!(SignedEnvelope::decode(&bytes[..cut]).is_err());
    }
    assert_eq!(
        SignedEnvelope::decode(&SignedEnvelope::default().encode()),
        Ok(SignedEnvelope::default())
    );
}

#[test]
fn envelope_bounds_are_checked_before_allocating() {
    let mut big_body = vec![1];
    big_body.extend(varint(MAX_ENVELOPE_BODY as u64 + 1));
    let error = SignedEnvelope::decode(&big_body).expect_err("body too large");
    assert_eq!((error.field, error.offset), ("envelope.body", 1));
    assert!(matches!(error.kind, DecodeErrorKind::TooLarge { .. }));

    let mut many_chains = vec![1, 0];
    many_chains.extend(varint(MAX_ENVELOPE_CHAINS as u64 + 1));
    let error = SignedEnvelope::decode(&many_chains).expect_err("too many chains");
    assert_eq!((error.field, error.offset), ("envelope.chains", 2));

    let mut many_signatures = vec![1, 0, 0];
    many_signatures.extend(varint(MAX_ENVELOPE_SIGNATURES as u64 + 1));
    let error = SignedEnvelope::decode(&many_signatures).expect_err("too many signatures");
    assert_eq!((error.field, error.offset), ("envelope.signatures", 3));
    assert!(matches!(error.kind, DecodeErrorKind::TooLarge { .. }));

    let mut hollow = vec![1, 0, 0];
    hollow.extend(varint(MAX_ENVELOPE_SIGNATURES as u64));
    assert!(matches!(
        SignedEnvelope::decode(&hollow)
            .expect_err("no bytes for them")
            .kind,
        DecodeErrorKind::Truncated { .. }
    ));
    // An overlong varint length.
    let error = SignedEnvelope::decode(&[
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ])
    .expect_err("overlong varint");
    assert_eq!(error.kind, DecodeErrorKind::BadVarint);
}
