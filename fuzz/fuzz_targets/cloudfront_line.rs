#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cmcd_ingest::fuzzing::cloudfront_line(data);
});
