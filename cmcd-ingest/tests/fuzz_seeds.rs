//! Runs the `cloudfront_line` fuzz invariant over its seed corpus on stable.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

#[test]
fn cloudfront_line_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/cloudfront_line");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "only {} seeds", files.len());
    for path in files {
        // Test code reads its fixtures.
        #[allow(clippy::disallowed_methods)]
        let data = std::fs::read(&path).unwrap();
        cmcd_ingest::fuzzing::cloudfront_line(&data);
    }
}

#[test]
fn generated_lines_hold_the_invariant() {
    let cfg = cmcd_ingest::generate::Config {
        sessions: 5,
        minutes: 3,
        seed: 11,
        bad_line_every: 50,
        ..Default::default()
    };
    for line in cmcd_ingest::generate::Generator::new(cfg) {
        cmcd_ingest::fuzzing::cloudfront_line(line.as_bytes());
    }
}
