//! Runs the fuzz targets' invariants over their seed corpora on stable, so the invariants are
//! exercised by `cargo test` even where the fuzzer is not.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    // Test code reads its fixtures; the sans-IO rule is for the library.
    #[allow(clippy::disallowed_methods)]
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("readable seed"))).collect()
}

#[test]
fn cmcd_parse_seeds() {
    let seeds = seeds("cmcd_parse");
    assert!(seeds.len() >= 20, "only {} seeds", seeds.len());
    for (path, data) in seeds {
        eprintln!("{}", path.display());
        token_core::fuzzing::cmcd::parse_never_panics(&data);
    }
}

#[test]
fn cmcd_roundtrip_seeds() {
    let seeds = seeds("cmcd_roundtrip");
    assert!(seeds.len() >= 20, "only {} seeds", seeds.len());
    let mut decoded = 0;
    for (path, data) in seeds {
        eprintln!("{}", path.display());
        token_core::fuzzing::cmcd::roundtrip(&data);
        if token_core::cmcd::decode_dict(
            &String::from_utf8_lossy(&data),
            token_core::cmcd::Policy::Lenient,
        )
        .is_ok()
        {
            decoded += 1;
        }
    }
    // The invariant only bites on inputs that decode: most seeds must.
    assert!(decoded >= 20, "only {decoded} seeds decode");
}
