//! Bodies of the fuzz targets (`fuzz/`), shared with `tests/fuzz_inputs.rs` so
//! the stable test suite runs the same checks. Each decodes arbitrary bytes and,
//! when they decode, asserts the encoding is canonical: re-encoding gives the
//! same bytes back. A panic here is a bug.

use crate::{Chain, Credentials, Disclosure, Revocation, SignedEnvelope, TrustBook};

/// `Chain::decode`, then re-encode.
pub fn chain_decode(data: &[u8]) {
    if let Ok(chain) = Chain::decode(data) {
        assert_eq!(chain.encode(), data, "chain encoding is not canonical");
        let _ = chain.to_text();
    }
}

/// `Chain::from_text` on the bytes as (lossy) text, then a text round trip.
pub fn chain_from_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(chain) = Chain::from_text(&text) {
        assert_eq!(Chain::from_text(&chain.to_text()).ok(), Some(chain));
    }
}

/// `Revocation::decode`, then re-encode.
pub fn revocation_decode(data: &[u8]) {
    if let Ok(revocation) = Revocation::decode(data) {
        assert_eq!(
            revocation.encode(),
            data,
            "revocation encoding is not canonical"
        );
        let _ = revocation.verify(&revocation.program);
    }
}

/// `Credentials::decode`, then re-encode.
pub fn credentials_decode(data: &[u8]) {
    if let Ok(credentials) = Credentials::decode(data) {
        assert_eq!(
            credentials.encode(),
            data,
            "credentials encoding is not canonical"
        );
    }
}

/// `Disclosure::decode`, then re-encode.
pub fn disclosure_decode(data: &[u8]) {
    if let Ok(disclosure) = Disclosure::decode(data) {
        assert_eq!(
            disclosure.encode(),
            data,
            "disclosure encoding is not canonical"
        );
    }
}

/// `SignedEnvelope::decode`, then re-encode.
pub fn envelope_decode(data: &[u8]) {
    if let Ok(envelope) = SignedEnvelope::decode(data) {
        assert_eq!(
            envelope.encode(),
            data,
            "envelope encoding is not canonical"
        );
        for (hash, attestation) in &envelope.signatures {
            let _ = attestation.verify(hash);
        }
    }
}

/// `TrustBook::decode`, then re-encode.
pub fn book_decode(data: &[u8]) {
    if let Ok(book) = TrustBook::decode(data) {
        assert_eq!(book.encode(), data, "trust book encoding is not canonical");
    }
}

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by name (the fuzz target and corpus directory names).
pub const TARGETS: [(&str, Target); 7] = [
    ("chain_decode", chain_decode),
    ("chain_from_text", chain_from_text),
    ("revocation_decode", revocation_decode),
    ("credentials_decode", credentials_decode),
    ("disclosure_decode", disclosure_decode),
    ("envelope_decode", envelope_decode),
    ("book_decode", book_decode),
];
