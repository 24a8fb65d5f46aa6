//! Runs the `token_verify` fuzz target's invariants over its seed corpus on stable, so they hold
//! in every `cargo test` even where the fuzzer does not run.

// Reading the corpus is the point of this test; the crate's sans-IO ban is for library code.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::path::Path;

#[test]
fn token_verify_seeds_hold_the_invariants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/token_verify");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        token_core::fuzzing::token::verify_never_panics(&data);
        token_core::fuzzing::token::sign_then_verify(&data);
        seen += 1;
    }
    assert!(seen >= 10, "expected the seed corpus in {}", dir.display());
    // A few structured extremes beyond the files.
    for data in [&b""[..], b"\xff\xff\xff", &[b'/'; 9000], b"/\xff::::::::::\xff"] {
        token_core::fuzzing::token::verify_never_panics(data);
        token_core::fuzzing::token::sign_then_verify(data);
    }
}
