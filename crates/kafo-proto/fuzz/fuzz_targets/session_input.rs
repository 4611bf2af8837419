//! Arbitrary peer bytes into a session, from the start or after a valid hello / begin.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafo_proto::testing::fuzz::drive_session(data);
});
