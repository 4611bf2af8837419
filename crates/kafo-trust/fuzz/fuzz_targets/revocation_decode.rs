//! Arbitrary bytes into `Revocation::decode`; decoded values must re-encode canonically.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafo_trust::fuzz::revocation_decode(data);
});
