#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    token_core::fuzzing::cmcd::parse_never_panics(data);
});
