//! Common Media Client Data (CMCD): a decoder, canonical encoder and validator for
//! CTA-5004 (v1) and CTA-5004-A/-B (v2) payloads.
//!
//! Players send CMCD on media requests as a `CMCD=` query argument or in four `CMCD-*` headers
//! (request mode), and in v2 also as POST bodies of LF-separated records (event mode). Every
//! payload is an RFC 8941 Dictionary ([`sf`]); the key registry ([`key`]) gives each of the 18
//! v1 and 49 v2 keys its type, unit, shard and limits; [`Report`] is the typed result.
//!
//! # Decoding
//!
//! | input | function |
//! |---|---|
//! | query string / URL | [`decode_query`], [`decode_url`]; [`decode_query_payload`] for a `CMCD=` value already percent-decoded |
//! | `CMCD-*` headers | [`decode_headers`] (and [`decode_request`], which prefers headers over the query as CTA-5004-B §6 requires) |
//! | bare dictionary | [`decode_dict`] |
//! | event-mode body | [`decode_body`] |
//!
//! Receiver rules (CTA-5004-B §6) are applied: unknown keys are ignored but kept
//! ([`Report::unknown`]); a value of the wrong type drops only that key, with a reason
//! ([`Report::dropped`]); custom keys are kept with any value ([`Report::custom`]); `v` > 2
//! rejects the payload ([`Error::UnsupportedVersion`]); syntax errors reject it with a byte
//! offset ([`Error::Syntax`]). [`Policy::Lenient`] additionally accepts what deployed players are
//! known to send and counts it ([`Report::leniencies`]). Every payload is capped at
//! [`MAX_PAYLOAD_LEN`] (16 KiB); no input makes the decoder panic (fuzzed).
//!
//! Payloads in the shape players write (registered keys once, no whitespace, Integers, Strings
//! without escapes, vocabulary Tokens, bare `true`, v2 numeric lists with one flag per member)
//! are read by a second, narrower reader ([`read_canonical`]) straight into the [`Report`] (or into
//! any other [`Visit`] implementation); it gives up on anything else — leaving the report untouched — and the
//! general parser reads the payload instead. The
//! two give equal reports on every input (a property test under both policies); on CloudFront
//! log ingest the narrow reader cut the instructions of the whole run by 4.6 %.
//!
//! ```
//! use token_core::cmcd::{self, ObjectType, Policy, Version};
//!
//! let url = "https://cdn.example/v/seg_42.m4s?CMCD=bl%3D21300%2Cbr%3D3200%2Cot%3Dv%2Csid%3D%226e2f%22%2Csu%3Dtrue";
//! let strict = cmcd::decode_url(url, Policy::Strict)?;
//! assert_eq!(strict.ot(), Some(ObjectType::Video));
//! assert_eq!(strict.su(), None); // `true` is a Token, not a Boolean
//! assert_eq!(strict.dropped()[0].reason().code(), "wrong_type");
//!
//! let lenient = cmcd::decode_url(url, Policy::Lenient)?;
//! assert_eq!(lenient.su(), Some(true));
//! assert_eq!(lenient.leniencies().total(), 1);
//!
//! assert_eq!(cmcd::encode(&lenient, Version::V2), r#"bl=(21300),br=(3200),ot=v,sid="6e2f",su,v=2"#);
//! # Ok::<(), cmcd::Error>(())
//! ```
//!
//! # Encoding and validation
//!
//! [`encode()`], [`encode_query`], [`encode_headers`] and [`encode_body`] write the canonical form
//! (alphabetical keys, bare `true`, rounding of `bl`/`dl`/`tbl`/`mtp`/`rtp`, v1 or v2 shapes).
//! [`validate`] lists what a player engineer should fix.
//!
//! # What this module does not do
//!
//! It does not read HTTP messages, clocks or files (callers pass strings); it does not parse
//! CloudFront log lines (that is the ingest crate's job); it does not accept RFC 9651 types
//! (Date, Display String) or CMCD v1's JSON transmission mode, which v2 removed; it does not
//! aggregate sessions or compute QoE metrics.
//!
//! # Own parser rather than the `sfv` crate
//!
//! Measured on the development machine (2 cores, shared; Rust 1.95, release with LTO), both
//! parsers in the same run: parsing the 60 percent-decoded v1 query payloads of
//! `bench/cmcd/inputs.json` into a dictionary (median of 31 samples), and building a
//! `wasm32-unknown-unknown` cdylib whose only export parses one dictionary (`opt-level = 3`,
//! LTO, `panic = "abort"`):
//!
//! | | own [`sf`] | `sfv` 0.16 (`Parser::parse::<Dictionary>`, RFC 8941 mode) | ratio |
//! |---|---|---|---|
//! | parse throughput | 539 MB/s (3.25 M payloads/s) | 128 MB/s (0.77 M payloads/s) | 4.2x faster |
//! | wasm32 module | 25.9 KB (9.9 KB gzipped) | 52.3 KB (19.3 KB gzipped) | 0.50x the size |
//!
//! The own parser also borrows from the input, reports byte offsets with stable codes, lets
//! the decoders read values without building intermediate vectors, and adds no dependency.
//! `sfv`'s zero-copy visitor API was not measured. The end-to-end decode numbers against the
//! SVTA JavaScript library are in `BENCHMARKS.md`.

pub mod canonical;
pub mod encode;
pub mod error;
pub mod key;
pub mod report;
pub mod sf;
pub mod transport;
pub mod validate;
pub mod value;

pub use canonical::{Canonical, Visit, read_canonical};
pub use encode::{encode, encode_body, encode_headers, encode_query, to_dictionary};
pub use error::{DropReason, Error};
pub use key::{Key, KeyInfo, Kind, Shard, Unit, is_custom_key};
pub use report::{Dropped, Iter, Leniencies, Leniency, Policy, Report};
pub use transport::{
    BODY_MEDIA_TYPES, MAX_BODY_LEN, MAX_PAYLOAD_LEN, decode_body, decode_dict, decode_headers,
    decode_query, decode_query_payload, decode_request, decode_url, header_dictionary,
    header_lines, is_body_media_type, query_dictionary, read_canonical_headers,
};
pub use value::{
    EventType, NextObject, ObjectType, PlayerState, Sample, Samples, StreamType, StreamingFormat,
    Value, Version,
};
