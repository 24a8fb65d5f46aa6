//! Invariant functions for the fuzz targets in `fuzz/`; they also run on stable over the seed
//! corpus (`tests/fuzz_seeds.rs`). Not part of the stable API.

use crate::field::FieldSet;
use crate::line;
use crate::request::Request;

/// `cloudfront_line`: any bytes, parsed as a line of the full field set and of a small one,
/// never panic; a line that parses is typed (CMCD extracted) without panicking and writes back
/// to a line that parses to the same record.
///
/// # Panics
///
/// When an invariant does not hold (that is the point).
pub fn cloudfront_line(data: &[u8]) {
    let all = FieldSet::all();
    let small = FieldSet::parse_names(
        "timestamp,cs-uri-stem,cs-uri-query,cs-headers,cs-headers-count,cmcd-encoded-bitrate,cmcd-object-type,cmcd-session-id",
    );
    for fields in [Some(all), small.ok()].into_iter().flatten() {
        let Ok(record) = line::parse(&fields, data) else { continue };
        let request = Request::from_record(&fields, record.clone());
        for col in &crate::schema::requests().columns {
            let _ = request.datum(col.source);
        }
        if let Ok(text) = line::write(&fields, &record) {
            #[allow(clippy::expect_used)] // the invariant under test
            let again = line::parse(&fields, text.as_bytes()).expect("written line parses");
            assert_eq!(again, record, "write → parse is the identity");
        }
    }
}
