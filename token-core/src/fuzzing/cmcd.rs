//! CMCD invariants, shared by the `cmcd_parse` and `cmcd_roundtrip` fuzz targets and by the
//! stable seed-corpus test (`tests/cmcd_fuzz_seeds.rs`).

// Breaking an invariant must panic: that is how a fuzzer reports it.
#![allow(clippy::expect_used)]

use crate::cmcd::validate::{self, Mode};
use crate::cmcd::{self, MAX_PAYLOAD_LEN, Policy, Report, Version, canonical, sf};

/// Feeds arbitrary bytes to every decoder, raw parser and validator under both policies: none
/// may panic. A dictionary that parses must serialize, and the serialization must parse back
/// to the same dictionary (RFC 8941 §4.1 / §4.2 agree).
pub fn parse_never_panics(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for policy in [Policy::Strict, Policy::Lenient] {
        let _ = cmcd::decode_dict(&text, policy);
        let _ = cmcd::decode_query(&text, policy);
        let _ = cmcd::decode_url(&text, policy);
        let _ = cmcd::decode_headers(cmcd::header_lines(&text), policy);
        let _ = cmcd::decode_request(&text, cmcd::header_lines(&text), policy);
        let _ = cmcd::decode_body(&text, policy);
    }
    let _ = cmcd::query_dictionary(&text);
    let _ = cmcd::header_dictionary(cmcd::header_lines(&text));
    let _ = validate::validate_dict(&text, Mode::Request);
    let _ = validate::validate_query(&text);
    let _ = validate::validate_headers(cmcd::header_lines(&text));
    let _ = validate::validate_body(&text);

    // The decoders' direct path (no intermediate dictionary) agrees with typing the parsed
    // dictionary, for inputs without repeated keys (with them, leniencies counted for an
    // overwritten value stay counted on the direct path).
    let mut members = 0usize;
    if text.len() <= MAX_PAYLOAD_LEN
        && sf::parse_members(text.as_bytes(), |_, _| members += 1).is_ok()
        && let Ok(dict) = sf::parse_dictionary(&text)
        && dict.len() == members
    {
        for policy in [Policy::Strict, Policy::Lenient] {
            let direct = cmcd::decode_dict(&text, policy);
            let via_dictionary = Report::from_dictionary(&dict, policy);
            assert_eq!(
                direct, via_dictionary,
                "direct decoding differs from typing the dictionary"
            );
        }
    }

    // The narrow reader of player-shaped payloads either gives up without a trace or reads
    // what the general parser reads, under both policies.
    if data.len() <= MAX_PAYLOAD_LEN {
        let mut narrow = Report::new();
        if canonical::read_into(&mut narrow, data) {
            for policy in [Policy::Strict, Policy::Lenient] {
                let mut general = Report::new();
                sf::parse_members_with(data, |key, cursor| {
                    general.absorb_cursor(key, cursor, policy);
                })
                .expect("what the narrow reader reads parses");
                assert_eq!(narrow, general, "the narrow reader differs from the general parser");
            }
        } else {
            assert_eq!(narrow, Report::new(), "the narrow reader left a trace");
        }
    }

    if let Ok(dict) = sf::parse_dictionary_bytes(data) {
        let serialized = sf::serialize_dictionary(&dict).expect("a parsed dictionary serializes");
        let again = sf::parse_dictionary(&serialized).expect("a serialized dictionary parses");
        assert_eq!(again, dict, "serialize/parse round trip");
    }
}

/// Decodes arbitrary bytes leniently; whatever decodes must encode canonically (v1 and v2) to
/// something that decodes strictly without drops or leniencies, re-encodes to the same bytes,
/// and carries the same data through the query and header forms.
pub fn roundtrip(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(report) = cmcd::decode_dict(&text, Policy::Lenient) else { return };
    for version in [Version::V1, Version::V2] {
        let dict = cmcd::encode(&report, version);
        if dict.len() > MAX_PAYLOAD_LEN {
            continue;
        }
        let decoded = cmcd::decode_dict(&dict, Policy::Strict).expect("canonical output decodes");
        assert!(decoded.dropped().is_empty(), "canonical output drops nothing: {dict}");
        assert!(decoded.leniencies().is_empty(), "canonical output is strict: {dict}");
        assert!(decoded.unknown().next().is_none(), "canonical output has no unknown keys: {dict}");
        assert_eq!(cmcd::encode(&decoded, version), dict, "encoding is a fixpoint");

        let query = cmcd::encode_query(&report, version);
        if query.len() <= MAX_PAYLOAD_LEN {
            let from_query =
                cmcd::decode_query(&query, Policy::Strict).expect("query form decodes");
            assert_eq!(from_query, decoded, "query form carries the same data");
        }

        let shards = cmcd::encode_headers(&report, version);
        let headers = shards.iter().map(|(shard, value)| (shard.header_name(), value.as_str()));
        let from_headers =
            cmcd::decode_headers(headers, Policy::Strict).expect("header form decodes");
        assert_eq!(from_headers, without_event_keys(decoded), "header form carries the same data");
    }
}

fn without_event_keys(mut report: Report) -> Report {
    for key in cmcd::Key::ALL.iter().filter(|k| k.info().event_only) {
        report.remove(*key);
    }
    report
}
