#![no_main]
//! cargo-fuzz entry point; the target itself is `ara_fuzz::client_frame` (fuzz/targets.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| ara_fuzz::client_frame(data));
