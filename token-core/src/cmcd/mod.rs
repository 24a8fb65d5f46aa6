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
//! | query string / URL | [`decode_query`], [`decode_url`] |
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
//! [`encode`], [`encode_query`], [`encode_headers`] and [`encode_body`] write the canonical form
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
//! Measured on this machine (2 cores, release, the bench inputs of `bench/cmcd/inputs.json`)
//! when the choice was made; see `BENCHMARKS.md` for the end-to-end numbers:
//!
//! | | own [`sf`] | `sfv` 0.14 (`Parser::parse_dictionary`) |
//! |---|---|---|
//! | parse 60 v1 query payloads (decoded) | SFV_OWN_QUERY | SFV_CRATE_QUERY |
//! | wasm32 cdylib calling only the parser, `opt-level=3`, LTO | SFV_OWN_WASM | SFV_CRATE_WASM |
//!
//! The own parser also borrows from the input, reports byte offsets with stable codes, and
//! carries no dependency.

pub mod encode;
pub mod error;
pub mod key;
pub mod report;
pub mod sf;
pub mod transport;
pub mod validate;
pub mod value;

pub use encode::{encode, encode_body, encode_headers, encode_query, to_dictionary};
pub use error::{DropReason, Error};
pub use key::{Key, KeyInfo, Kind, Shard, Unit, is_custom_key};
pub use report::{Dropped, Leniencies, Leniency, Policy, Report};
pub use transport::{
    BODY_MEDIA_TYPES, MAX_BODY_LEN, MAX_PAYLOAD_LEN, decode_body, decode_dict, decode_headers,
    decode_query, decode_request, decode_url, header_dictionary, header_lines, is_body_media_type,
    query_dictionary,
};
pub use value::{
    EventType, NextObject, ObjectType, PlayerState, Sample, Samples, StreamType, StreamingFormat,
    Value, Version,
};
