//! Arbitrary bytes, cut anywhere, into the frame decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafo_proto::testing::fuzz::decode_stream(data);
});
