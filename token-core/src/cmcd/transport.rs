//! Transports (CTA-5004-B §2): the `CMCD=` query argument, the four `CMCD-*` request headers,
//! and the event-mode POST body — each turned into a [`Report`].
//!
//! Does not: read sockets or HTTP messages (callers pass strings), follow redirects, or decide
//! which of several `CMCD=` arguments a proxy should forward (the first one is decoded).

use std::borrow::Cow;

use super::error::Error;
use super::key::Shard;
use super::report::{Leniency, Policy, Report};
use super::sf;

/// Largest accepted payload, in bytes: one query argument value (before percent-decoding), one
/// header value, or one body record. Larger payloads are [`Error::TooLarge`].
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024;

/// Largest accepted event-mode body, in bytes (64 records of the maximum size).
pub const MAX_BODY_LEN: usize = 64 * MAX_PAYLOAD_LEN;

/// Media types of an event-mode body: `application/cmcd` (CTA-5004-B) and `text/cmcd` (the
/// CTA-5004-A drafts).
pub const BODY_MEDIA_TYPES: [&str; 2] = ["application/cmcd", "text/cmcd"];

fn check_len(len: usize, limit: usize) -> Result<(), Error> {
    if len > limit { Err(Error::TooLarge { len, limit }) } else { Ok(()) }
}

/// Value of each byte as a hex digit; 0xFF for bytes that are not hex digits.
// Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
static HEX_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0u8;
    while i < 10 {
        table[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i = 0u8;
    while i < 6 {
        table[(b'a' + i) as usize] = 10 + i;
        table[(b'A' + i) as usize] = 10 + i;
        i += 1;
    }
    table
};

fn hex_value(b: u8) -> u8 {
    HEX_VALUES.get(usize::from(b)).copied().unwrap_or(0xFF)
}

/// Bits 7, 15, … set for the bytes of `word` equal to `byte`. Exact up to the lowest set bit
/// (a borrow can only add bits above a real match), which is all callers read.
const fn byte_mask(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * byte as u64);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Percent-decodes `%XX` escapes; a `%` not followed by two hex digits stays as is. With
/// `plus_is_space`, `+` is a space, as in `application/x-www-form-urlencoded` (WHATWG URL
/// §5.1: a query's `CMCD=` value); without, `+` stays (log fields, paths). Borrowed when there
/// is nothing to decode. Eight bytes are copied at a time between escapes.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::transport::percent_decode;
///
/// assert_eq!(&*percent_decode(b"a%3Db+c%2", true), b"a=b c%2");
/// assert_eq!(&*percent_decode(b"Mozilla%2F5.0+x", false), b"Mozilla/5.0+x");
/// ```
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Cow<'_, [u8]> {
    if !needs_decoding(input, plus_is_space) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::new();
    percent_decode_append(input, plus_is_space, &mut out);
    Cow::Owned(out)
}

/// [`percent_decode`] appending to `out`, so that a caller decoding many values can keep one
/// buffer instead of allocating one per value.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::transport::percent_decode_append;
///
/// let mut out = b"x=".to_vec();
/// percent_decode_append(b"a%3Db+c", true, &mut out);
/// assert_eq!(out, b"x=a=b c");
/// ```
pub fn percent_decode_append(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + input.len() + 8, 0);
    let written = out.get_mut(start..).map_or(0, |room| decode_into(input, plus_is_space, room));
    out.truncate(start + written);
}

fn needs_decoding(input: &[u8], plus_is_space: bool) -> bool {
    if plus_is_space {
        memchr::memchr2(b'%', b'+', input).is_some()
    } else {
        memchr::memchr(b'%', input).is_some()
    }
}

/// Percent-decodes `input` into `out`, which must be at least 8 bytes longer than `input`;
/// returns the decoded length.
fn decode_into(input: &[u8], plus_is_space: bool, out: &mut [u8]) -> usize {
    // Eight bytes at a time: copy the word, then keep only the part before the first `%` (or
    // `+`), found with a SWAR byte search; then decode that one escape.
    let mut written = 0;
    let mut rest = input;
    loop {
        if let Some(chunk) = rest.first_chunk::<8>() {
            let word = u64::from_le_bytes(*chunk);
            let mut mask = byte_mask(word, b'%');
            if plus_is_space {
                mask |= byte_mask(word, b'+');
            }
            let plain = (mask.trailing_zeros() / 8) as usize;
            if let Some(dst) = out.get_mut(written..written + 8) {
                dst.copy_from_slice(chunk);
            }
            written += plain;
            rest = rest.get(plain..).unwrap_or_default();
            if plain == 8 {
                continue;
            }
        }
        let byte = match rest {
            [] => break,
            [b'%', h, l, after @ ..] if (hex_value(*h) | hex_value(*l)) < 16 => {
                rest = after;
                hex_value(*h) << 4 | hex_value(*l)
            }
            [b'+', after @ ..] if plus_is_space => {
                rest = after;
                b' '
            }
            [b, after @ ..] => {
                rest = after;
                *b
            }
        };
        if let Some(dst) = out.get_mut(written) {
            *dst = byte;
        }
        written += 1;
    }
    written
}

/// Query payloads up to this size are percent-decoded on the stack.
const STACK_DECODE_LEN: usize = 1024;

/// Removes the v1 inner percent-encoding of a `nor` string (CTA-5004 §3.3: "MUST be
/// URL-encoded"), when the result is still a valid RFC 8941 String; otherwise keeps it as sent.
pub(crate) fn percent_decode_nor(s: Cow<'_, str>) -> String {
    match percent_decode(s.as_bytes(), false) {
        Cow::Borrowed(_) => s.into_owned(),
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(decoded) if sf::is_valid_string(&decoded) => decoded,
            _ => s.into_owned(),
        },
    }
}

/// The raw (still percent-encoded) value of the first `CMCD` argument of a query string
/// (leading `?` allowed); `None` when there is none.
pub fn query_payload(query: &str) -> Option<&str> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut start = 0;
    for end in memchr::memchr_iter(b'&', query.as_bytes()).chain([query.len()]) {
        // `&` is ASCII: both ends are char boundaries.
        let pair = query.get(start..end).unwrap_or_default();
        if let Some(value) = pair.strip_prefix("CMCD=") {
            return Some(value);
        }
        if pair == "CMCD" {
            return Some("");
        }
        start = end + 1;
    }
    None
}

/// The query component of a URL (between `?` and `#`); `""` when there is none.
pub fn url_query(url: &str) -> &str {
    let before_fragment = url.split_once('#').map_or(url, |(a, _)| a);
    before_fragment.split_once('?').map_or("", |(_, q)| q)
}

/// Parses one dictionary straight into the report (no intermediate [`sf::Dictionary`]); the
/// caller applies [`Report::finish`] once all payloads are in.
fn parse_into(report: &mut Report, payload: &[u8], policy: Policy) -> Result<(), Error> {
    // Most payloads are in the one shape players write, read without the general machinery;
    // anything else is left as it was for the general parser.
    if super::canonical::read_into(report, payload) {
        return Ok(());
    }
    sf::parse_members_with(payload, |key, cursor| report.absorb_cursor(key, cursor, policy))?;
    Ok(())
}

/// The Structured-Field-level dictionary of a query's `CMCD=` argument, without CMCD typing
/// (for tools that show exactly what was sent). Empty when there is no `CMCD` argument.
///
/// # Errors
///
/// [`Error::TooLarge`] or [`Error::Syntax`] (offset into the percent-decoded payload).
pub fn query_dictionary(query: &str) -> Result<sf::Dictionary<'static>, Error> {
    let Some(raw) = query_payload(query) else { return Ok(sf::Dictionary::new()) };
    check_len(raw.len(), MAX_PAYLOAD_LEN)?;
    let payload = percent_decode(raw.as_bytes(), true);
    Ok(sf::parse_dictionary_bytes(&payload)?.into_owned())
}

/// The Structured-Field-level merge of the `CMCD-*` headers (later shards win), without CMCD
/// typing.
///
/// # Errors
///
/// [`Error::TooLarge`] or [`Error::Syntax`] (offset into the failing header's value).
pub fn header_dictionary<I, N, V>(headers: I) -> Result<sf::Dictionary<'static>, Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut merged = sf::Dictionary::new();
    for (name, value) in headers {
        if Shard::from_header_name(name.as_ref().trim()).is_none() {
            continue;
        }
        let value = value.as_ref();
        check_len(value.len(), MAX_PAYLOAD_LEN)?;
        for (k, m) in sf::parse_dictionary(value)? {
            merged.insert(k.into_owned(), m.into_owned());
        }
    }
    Ok(merged)
}

/// Decodes a bare dictionary: one header value, one body record, or an already-decoded query
/// payload.
///
/// # Errors
///
/// [`Error::TooLarge`] beyond [`MAX_PAYLOAD_LEN`]; [`Error::Syntax`] with the byte offset when
/// the input is not an RFC 8941 Dictionary; [`Error::UnsupportedVersion`] when `v` > 2.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, DropReason, Policy};
///
/// let report = cmcd::decode_dict(r#"br=3200,sid="6e2f",sta=x,v=2"#, Policy::Strict)?;
/// assert_eq!(report.br().and_then(|b| b.first()), Some(3200));
/// assert_eq!(report.dropped()[0].key(), "sta");
/// assert_eq!(report.dropped()[0].reason(), DropReason::InvalidToken);
///
/// let err = cmcd::decode_dict("br=1,", Policy::Strict).unwrap_err();
/// assert_eq!((err.code(), err.offset()), ("syntax", Some(5)));
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn decode_dict(input: &str, policy: Policy) -> Result<Report, Error> {
    check_len(input.len(), MAX_PAYLOAD_LEN)?;
    let mut report = Report::new();
    parse_into(&mut report, input.as_bytes(), policy)?;
    report.finish()
}

/// Decodes the `CMCD=` argument of a query string (with or without the leading `?`).
///
/// The argument value is percent-decoded once (`+` is a space, CTA-5004-B §2.2); a query
/// without a `CMCD` argument gives an empty report. Under [`Policy::Lenient`] a payload that
/// only parses after a second percent-decode is accepted and counted as
/// [`Leniency::DoubleEncodedQuery`].
///
/// # Errors
///
/// As [`decode_dict`]; syntax offsets point into the percent-decoded payload.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, Policy, StreamType};
///
/// let r = cmcd::decode_query("?a=1&CMCD=bl%3D21300%2Csid%3D%22a%2Bb%22%2Cst%3Dv", Policy::Strict)?;
/// assert_eq!(r.bl().and_then(|b| b.first()), Some(21300));
/// assert_eq!(r.sid(), Some("a+b"));
/// assert_eq!(r.st(), Some(StreamType::Vod));
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn decode_query(query: &str, policy: Policy) -> Result<Report, Error> {
    let Some(raw) = query_payload(query) else { return Ok(Report::new()) };
    check_len(raw.len(), MAX_PAYLOAD_LEN)?;
    let mut stack = [0u8; STACK_DECODE_LEN];
    let payload: Cow<'_, [u8]> =
        if raw.len() + 8 <= STACK_DECODE_LEN && needs_decoding(raw.as_bytes(), true) {
            let written = decode_into(raw.as_bytes(), true, &mut stack);
            Cow::Borrowed(stack.get(..written).unwrap_or_default())
        } else {
            percent_decode(raw.as_bytes(), true)
        };
    decode_query_payload(&payload, policy)
}

/// Decodes the value of a `CMCD=` query argument that the caller has already percent-decoded
/// once (`+` as a space): what [`decode_query`] does after its own percent-decode, including
/// the lenient second decode. For callers that keep the decoded payload too (a log pipeline
/// storing it as text), so that it is decoded once, not twice.
///
/// # Errors
///
/// As [`decode_query`]; [`Error::TooLarge`] when `payload` exceeds [`MAX_PAYLOAD_LEN`].
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, Policy};
///
/// let query = "CMCD=bl%3D21300%2Csid%3D%22a%2Bb%22";
/// let r = cmcd::decode_query_payload(br#"bl=21300,sid="a+b""#, Policy::Strict)?;
/// assert_eq!(r, cmcd::decode_query(query, Policy::Strict)?);
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn decode_query_payload(payload: &[u8], policy: Policy) -> Result<Report, Error> {
    check_len(payload.len(), MAX_PAYLOAD_LEN)?;
    let mut report = Report::new();
    match parse_into(&mut report, payload, policy) {
        Err(Error::Syntax(first)) if policy == Policy::Lenient && payload.contains(&b'%') => {
            let twice = percent_decode(payload, true);
            let mut retry = Report::new();
            if parse_into(&mut retry, &twice, policy).is_err() {
                return Err(Error::Syntax(first));
            }
            retry.leniencies_mut().add(Leniency::DoubleEncodedQuery);
            retry.finish()
        }
        Err(e) => Err(e),
        Ok(()) => report.finish(),
    }
}

/// Decodes the `CMCD=` argument of a full URL (or a path with a query).
///
/// # Errors
///
/// As [`decode_query`].
pub fn decode_url(url: &str, policy: Policy) -> Result<Report, Error> {
    decode_query(url_query(url), policy)
}

/// Decodes and merges the `CMCD-Object`, `CMCD-Request`, `CMCD-Session` and `CMCD-Status`
/// headers (names compared case-insensitively; other headers are skipped). A key sent in two
/// shards keeps the later value; a key in the "wrong" shard is still decoded (see
/// [`super::validate`] to flag it).
///
/// # Errors
///
/// As [`decode_dict`], for the first failing header; syntax offsets point into that header's
/// value.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, Policy};
///
/// let headers = [("cmcd-object", "br=3000,ot=v"), ("Host", "cdn.example"), ("CMCD-Session", "sid=\"s\",v=2")];
/// let r = cmcd::decode_headers(headers, Policy::Strict)?;
/// assert_eq!((r.br().and_then(|b| b.first()), r.sid(), r.v()), (Some(3000), Some("s"), Some(2)));
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn decode_headers<I, N, V>(headers: I, policy: Policy) -> Result<Report, Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    decode_headers_inner(headers, policy).map(|(report, _)| report)
}

fn decode_headers_inner<I, N, V>(headers: I, policy: Policy) -> Result<(Report, bool), Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut report = Report::new();
    let mut seen = false;
    for value in shard_values(headers) {
        seen = true;
        parse_into(&mut report, value?.as_ref().as_bytes(), policy)?;
    }
    Ok((report.finish()?, seen))
}

/// The values of the `CMCD-*` headers among `headers` (names compared trimmed and
/// case-insensitively; other headers skipped), each checked against the size limits: one
/// value, and all of them together.
fn shard_values<I, N, V>(headers: I) -> impl Iterator<Item = Result<V, Error>>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut total = 0usize;
    headers
        .into_iter()
        .filter(|(name, _)| Shard::from_header_name(name.as_ref().trim()).is_some())
        .map(move |(_, value)| {
            let len = value.as_ref().len();
            check_len(len, MAX_PAYLOAD_LEN)?;
            total = total.saturating_add(len);
            check_len(total, Shard::ALL.len() * MAX_PAYLOAD_LEN)?;
            Ok(value)
        })
}

/// Reads the `CMCD-*` headers among `headers` with [`read_canonical`](super::read_canonical)
/// into `visitor`, under [`decode_headers`]' rules (other headers skipped, the same size
/// limits). `false` when a header is over a limit or not in canonical shape: decode them with
/// [`decode_headers`] then (the visitor may hold members read before the reader gave up).
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, Report, Policy};
///
/// let headers = [("CMCD-Object", "br=3000,ot=v"), ("Host", "cdn.example"), ("cmcd-session", r#"sid="s""#)];
/// let mut report = Report::new();
/// assert!(cmcd::read_canonical_headers(headers, &mut report));
/// assert_eq!(report, cmcd::decode_headers(headers, Policy::Strict)?);
/// assert!(!cmcd::read_canonical_headers([("CMCD-Object", "br=3000, ot=v")], &mut Report::new()));
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn read_canonical_headers<I, N, V, T>(headers: I, visitor: &mut T) -> bool
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
    T: super::Visit + ?Sized,
{
    shard_values(headers)
        .all(|value| value.is_ok_and(|value| super::read_canonical(value.as_ref(), visitor)))
}

/// Decodes a media request the way a CDN must (CTA-5004-B §6): from its CMCD headers when any is
/// present, otherwise from the `CMCD=` argument of `query`.
///
/// # Errors
///
/// As [`decode_headers`] or [`decode_query`], whichever form was used.
pub fn decode_request<I, N, V>(query: &str, headers: I, policy: Policy) -> Result<Report, Error>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let (report, seen) = decode_headers_inner(headers, policy)?;
    if seen { Ok(report) } else { decode_query(query, policy) }
}

/// Splits a block of `Name: value` lines (LF or CRLF separated, as in an HTTP/1.1 message or a
/// log) into header pairs; lines without a colon are skipped and values are trimmed.
pub fn header_lines(block: &str) -> impl Iterator<Item = (&str, &str)> {
    block
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim(), v.trim_matches([' ', '\t'])))
}

/// Whether a `Content-Type` value names a CMCD event body ([`BODY_MEDIA_TYPES`]; parameters
/// and case are ignored).
pub fn is_body_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    BODY_MEDIA_TYPES.iter().any(|t| t.eq_ignore_ascii_case(essence))
}

/// Decodes an event-mode body (CTA-5004-B §3.3): one dictionary per LF-separated line, leading
/// and trailing spaces ignored, no percent-decoding; blank lines are skipped.
///
/// # Errors
///
/// [`Error::TooLarge`] beyond [`MAX_BODY_LEN`] (or a record beyond [`MAX_PAYLOAD_LEN`]); the
/// first record's [`Error::Syntax`] (offset into the whole body) or
/// [`Error::UnsupportedVersion`].
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, EventType, Policy};
///
/// let reports = cmcd::decode_body("e=t,ts=1764752400000,v=2\ne=ps,sta=p,ts=1764752401000,v=2", Policy::Strict)?;
/// assert_eq!(reports.len(), 2);
/// assert_eq!(reports[1].e(), Some(EventType::PlayState));
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn decode_body(body: &str, policy: Policy) -> Result<Vec<Report>, Error> {
    check_len(body.len(), MAX_BODY_LEN)?;
    let mut reports = Vec::new();
    let mut offset = 0usize;
    for line in body.split('\n') {
        let start = offset;
        offset += line.len() + 1;
        let record = line.strip_suffix('\r').unwrap_or(line);
        let trimmed_start = record.len() - record.trim_start_matches(' ').len();
        let record = record.trim_matches(' ');
        if record.is_empty() {
            continue;
        }
        check_len(record.len(), MAX_PAYLOAD_LEN)?;
        let mut report = Report::new();
        parse_into(&mut report, record.as_bytes(), policy)
            .map_err(|e| e.shifted(start + trimmed_start))?;
        reports.push(report.finish()?);
    }
    Ok(reports)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_follows_whatwg() {
        assert_eq!(&*percent_decode(b"a%3Db+c%2", true), b"a=b c%2");
        assert_eq!(&*percent_decode(b"%zz%4", true), b"%zz%4");
        assert!(matches!(percent_decode(b"plain", true), Cow::Borrowed(_)));
        assert_eq!(percent_decode_nor(Cow::Borrowed("..%2Fa%0A")), "..%2Fa%0A");
        assert_eq!(percent_decode_nor(Cow::Borrowed("..%2Fa")), "../a");
    }

    /// Byte-at-a-time reference for the word-at-a-time decoder.
    fn naive_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            let pair = (
                input.get(i + 1).copied().map(hex_value),
                input.get(i + 2).copied().map(hex_value),
            );
            match (b, pair) {
                (b'%', (Some(h), Some(l))) if h < 16 && l < 16 => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                (b'+', _) if plus_is_space => out.push(b' '),
                _ => out.push(b),
            }
            i += 1;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn word_decoder_matches_the_reference(
            input in proptest::collection::vec(proptest::sample::select(b"%+aF2z0 %%".to_vec()), 0..64),
            plus in proptest::bool::ANY,
        ) {
            proptest::prop_assert_eq!(percent_decode(&input, plus).into_owned(), naive_decode(&input, plus));
        }

        /// Appending keeps what the buffer held and adds exactly the decoded bytes.
        #[test]
        fn append_keeps_the_prefix(
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..16),
            input in proptest::collection::vec(proptest::sample::select(b"%+aF2z0 %%".to_vec()), 0..64),
            plus in proptest::bool::ANY,
        ) {
            let mut out = prefix.clone();
            percent_decode_append(&input, plus, &mut out);
            let mut expected = prefix;
            expected.extend(naive_decode(&input, plus));
            proptest::prop_assert_eq!(out, expected);
        }

        /// A caller that decodes the `CMCD=` value itself gets what `decode_query` gives,
        /// double-encoded payloads (lenient) and errors included.
        #[test]
        fn a_decoded_payload_decodes_like_its_query(
            value in "(br%3D[0-9]{1,4}|sid%3D%22[a-z+ ]{0,6}%22|bs|ot%3Dv|%252C|%2C|\\+|%|x){0,8}",
            lenient in proptest::bool::ANY,
        ) {
            let policy = if lenient { Policy::Lenient } else { Policy::Strict };
            let query = format!("a=1&CMCD={value}");
            let payload = percent_decode(value.as_bytes(), true);
            proptest::prop_assert_eq!(
                decode_query_payload(&payload, policy),
                decode_query(&query, policy)
            );
        }
    }

    #[test]
    fn query_argument_lookup() {
        assert_eq!(query_payload("?x=1&CMCD=a&CMCD=b"), Some("a"));
        assert_eq!(query_payload("cmcd=a"), None);
        assert_eq!(query_payload("a&CMCD"), Some(""));
        assert_eq!(query_payload("&&CMCD=x&"), Some("x"));
        assert_eq!(query_payload(""), None);
        assert_eq!(query_payload("?"), None);
        assert_eq!(query_payload("xCMCD=1&CMCDx=2"), None);
        assert_eq!(url_query("https://h/p.m4s?CMCD=br%3D1#frag"), "CMCD=br%3D1");
    }

    #[test]
    fn headers_win_over_query() {
        let r = decode_request("CMCD=br%3D1", [("CMCD-Object", "br=2")], Policy::Strict).unwrap();
        assert_eq!(r.br().and_then(|b| b.first()), Some(2));
        let none: [(&str, &str); 0] = [];
        let r = decode_request("CMCD=br%3D1", none, Policy::Strict).unwrap();
        assert_eq!(r.br().and_then(|b| b.first()), Some(1));
    }

    #[test]
    fn body_offsets_are_global_and_media_types_match() {
        let err = decode_body("br=1\n  br=?", Policy::Strict).unwrap_err();
        assert_eq!(err.offset(), Some(11));
        assert!(is_body_media_type("Application/CMCD; charset=utf-8"));
        assert!(is_body_media_type("text/cmcd"));
        assert!(!is_body_media_type("text/plain"));
    }

    #[test]
    fn size_cap() {
        let big = "a".repeat(MAX_PAYLOAD_LEN + 1);
        assert_eq!(decode_dict(&big, Policy::Strict).unwrap_err().code(), "too_large");
    }
}
