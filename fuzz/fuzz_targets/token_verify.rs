#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    token_core::fuzzing::token::verify_never_panics(data);
    token_core::fuzzing::token::sign_then_verify(data);
});
