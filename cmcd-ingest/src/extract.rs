//! CMCD for one log record, and the SMD token session id.
//!
//! Where each CMCD key comes from (reference `cmcd.md` §4.3, §2.5):
//!
//! 1. The payload the player sent: the `CMCD-*` request headers found in `cs-headers` when any
//!    is there, otherwise the `CMCD=` argument of `cs-uri-query` (or of the query part of
//!    `cs-uri-stem`, which in real-time logs includes the query). CTA-5004-B §6: a receiver uses
//!    the headers and ignores the query when both are present. The payload is decoded with
//!    [`Policy::Lenient`]; accepted deviations are counted in `cmcd_lenient`, keys dropped for a
//!    wrong type in `cmcd_dropped`, and a payload rejected as a whole gives `cmcd_error`.
//! 2. The 18 `cmcd-*` cells (v1 keys only), when configured and not `-`: their value wins over
//!    the payload's for that key. Cells are parsed defensively because CloudFront's exact cell
//!    text is undocumented (§4.3): booleans accept `true/false/1/0/?1/?0`, strings lose one
//!    pair of quotes, a numeric cell starting with `(` is read as an inner list.
//!
//! List-valued keys (`br`, `bl`, `mtp`, `tb`, `pb`, `bsa`, `bsda`) become one number: the
//! member tagged with the request's `ot`, else the first member. `bsd` (durations of the
//! starvations completed since the previous report) becomes the sum of its members. `ec` is the
//! codes joined by `,`; `nor` is the first next-object URL.
//!
//! `cs-headers` is truncated by CloudFront at 800 bytes (§4.1). A truncation is detected when
//! the logged value reaches 800 bytes or holds fewer lines than `cs-headers-count`; the last,
//! possibly partial, header line is then not decoded and `cmcd_headers_truncated` is set.

use std::borrow::Cow;

use token_core::cmcd::{self, Key, ObjectType, PlayerState, Policy, Report, Samples, StreamType};
use token_core::cmcd::{StreamingFormat, Value, Version};

use crate::field::{Field, FieldSet};
use crate::line::Record;

mod canonical;

/// The length at which CloudFront truncates `cs-headers` (§4.1).
pub const HEADERS_TRUNCATION_LEN: usize = 800;

/// Where a row's CMCD came from (`cmcd_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The `cmcd-*` cells only.
    Cells,
    /// The `CMCD=` query argument.
    Query,
    /// The `CMCD-*` headers in `cs-headers`.
    Headers,
    /// Cells plus the query argument.
    CellsAndQuery,
    /// Cells plus headers.
    CellsAndHeaders,
}

impl Origin {
    /// The stable code stored in `cmcd_source`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Cells => "cells",
            Self::Query => "query",
            Self::Headers => "headers",
            Self::CellsAndQuery => "cells+query",
            Self::CellsAndHeaders => "cells+headers",
        }
    }
}

/// The typed CMCD columns of one request. Numbers are in the key's unit (kbps, ms, counts).
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)] // each field is the CMCD key of the same name (token_core::cmcd::key)
pub struct Cmcd {
    pub br: Option<i64>,
    pub bl: Option<i64>,
    pub bs: Option<bool>,
    pub cid: Option<String>,
    pub d: Option<i64>,
    pub dl: Option<i64>,
    pub mtp: Option<i64>,
    pub nor: Option<String>,
    pub nrr: Option<String>,
    pub ot: Option<ObjectType>,
    pub pr: Option<f64>,
    pub rtp: Option<i64>,
    pub sf: Option<StreamingFormat>,
    pub sid: Option<String>,
    pub st: Option<StreamType>,
    pub su: Option<bool>,
    pub tb: Option<i64>,
    pub v: Option<i64>,
    pub pt: Option<i64>,
    pub sta: Option<PlayerState>,
    pub ltc: Option<i64>,
    pub msd: Option<i64>,
    pub bsa: Option<i64>,
    pub bsd: Option<i64>,
    pub bsda: Option<i64>,
    pub pb: Option<i64>,
    pub sn: Option<i64>,
    pub ec: Option<String>,
    pub dfa: Option<i64>,
    /// The payload as decoded from the transport: the percent-decoded query value, or the
    /// `CMCD-*` header values joined by `,`.
    pub raw: Option<String>,
    /// Where the values came from; `None` when the request carried no CMCD.
    pub origin: Option<Origin>,
    /// Code of the error that rejected the payload as a whole (`syntax`, `too_large`, …).
    pub error: Option<&'static str>,
    /// Keys dropped for a wrong type or value, plus unreadable `cmcd-*` cells.
    pub dropped: i64,
    /// Non-conforming input accepted by the lenient decoder.
    pub lenient: i64,
    /// `cs-headers` was truncated by CloudFront.
    pub headers_truncated: bool,
}

impl Cmcd {
    /// Whether the request is a media object (`ot` is a, v or av).
    pub fn is_media(&self) -> bool {
        matches!(self.ot, Some(ObjectType::Audio | ObjectType::Video | ObjectType::Muxed))
    }

    /// Whether the request is video (`ot` is v or av): the rows bitrate metrics use.
    pub fn is_video(&self) -> bool {
        matches!(self.ot, Some(ObjectType::Video | ObjectType::Muxed))
    }

    /// Clears every value decoded from a payload, keeping `raw` and `headers_truncated`.
    fn clear_values(&mut self) {
        *self = Self {
            raw: self.raw.take(),
            headers_truncated: self.headers_truncated,
            ..Self::default()
        };
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn pick(samples: Option<&Samples>, ot: Option<ObjectType>) -> Option<i64> {
    let s = samples?;
    ot.and_then(|o| s.iter().find(|m| m.object == Some(o)).map(|m| m.value))
        .or_else(|| s.first())
        .map(to_i64)
}

/// The CMCD of one record (see the module docs for the rules).
pub fn extract(fields: &FieldSet, record: &Record<'_>) -> Cmcd {
    let mut out = Cmcd::default();
    extract_into(fields, record, &mut out);
    out
}

/// [`extract`] into `out`, replacing what it held; its text buffers (`cid`, `sid`, `nor`,
/// `nrr`, `raw`) take the new texts instead of new allocations (rows are
/// extracted one after the other into the same few requests).
pub fn extract_into(fields: &FieldSet, record: &Record<'_>, out: &mut Cmcd) {
    let mut spare = std::mem::take(out);
    let (report, origin) = decode_payload(record, out, &mut spare);
    if let Some(r) = report {
        fill_from_report(r, out);
    }
    let cells = apply_cells(fields, record, out);
    out.origin = match (cells, origin) {
        (true, Some(Origin::Query)) => Some(Origin::CellsAndQuery),
        (true, Some(Origin::Headers)) => Some(Origin::CellsAndHeaders),
        (true, _) => Some(Origin::Cells),
        (false, o) => o,
    };
}

/// `text` in `spare`'s buffer when it has one (taken), else in a new one.
pub(crate) fn reuse(spare: &mut Option<String>, text: &str) -> String {
    match spare.take() {
        Some(mut buffer) => {
            buffer.clear();
            buffer.push_str(text);
            buffer
        }
        None => text.to_owned(),
    }
}

fn decode_payload(
    record: &Record<'_>,
    out: &mut Cmcd,
    spare: &mut Cmcd,
) -> (Option<Report>, Option<Origin>) {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(block) = record.text(Field::CsHeaders) {
        // One pass over the lines: the CMCD ones are kept, the others counted.
        let mut lines = 0;
        let mut last_kept = false;
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', block.as_bytes()).chain([block.len()]);
        for end in ends {
            // `\n` is ASCII: both ends are char boundaries.
            let line = block.get(start..end).unwrap_or_default();
            start = end + 1;
            lines += 1;
            last_kept = false;
            if let Some(header) = cmcd_header(line) {
                headers.push(header);
                last_kept = true;
            }
        }
        let counted = record.int(Field::CsHeadersCount);
        // The logged length when the record was parsed from a line; else the block encoded
        // again as CloudFront logs it.
        let logged_full = match record.headers_logged_len() {
            Some(logged) => logged >= HEADERS_TRUNCATION_LEN,
            None => encoded_len_reaches(block, HEADERS_TRUNCATION_LEN),
        };
        let truncated =
            logged_full || counted.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n > lines));
        out.headers_truncated = truncated;
        // The last line of a truncated block may be cut anywhere: it is not decoded.
        if truncated && last_kept {
            headers.pop();
        }
    }
    if !headers.is_empty() {
        let mut raw = spare.raw.take().unwrap_or_default();
        raw.clear();
        raw.reserve(headers.iter().map(|(_, v)| v.len() + 1).sum());
        for (i, (_, value)) in headers.iter().enumerate() {
            if i > 0 {
                raw.push(',');
            }
            raw.push_str(value);
        }
        out.raw = Some(raw);
        if canonical::read_headers(&headers, out, spare) {
            return (None, Some(Origin::Headers));
        }
        return match cmcd::decode_headers(headers, Policy::Lenient) {
            Ok(r) => (Some(r), Some(Origin::Headers)),
            Err(e) => {
                out.error = Some(e.code());
                (None, Some(Origin::Headers))
            }
        };
    }
    let query = record.text(Field::CsUriQuery).or_else(|| {
        record.text(Field::CsUriStem).and_then(|s| split_at_byte(s, b'?').map(|(_, q)| q))
    });
    let Some(query) = query else { return (None, None) };
    let Some(raw) = cmcd::transport::query_payload(query) else { return (None, None) };
    // Decoded once, for `cmcd_raw` and for the decoder (`+` is a space: the payload is form
    // data, CTA-5004-B §2.2).
    // Into the previous row's `cmcd_raw` allocation: no allocation per row.
    let mut bytes = spare.raw.take().map(String::into_bytes).unwrap_or_default();
    bytes.clear();
    cmcd::transport::percent_decode_append(raw.as_bytes(), true, &mut bytes);
    // `cmcd_raw` is the decoded payload as text: decoded bytes that are valid UTF-8 become
    // the string without a copy; invalid ones are kept for the decoder, and the text is lossy.
    let (text, invalid) = match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let bytes = e.into_bytes();
            (String::from_utf8_lossy(&bytes).into_owned(), Some(bytes))
        }
    };
    let fits = raw.len() <= cmcd::MAX_PAYLOAD_LEN;
    let read = invalid.is_none() && fits && canonical::read_query(&text, out, spare);
    let raw_text = out.raw.insert(text);
    if read {
        return (None, Some(Origin::Query));
    }
    let report = if fits {
        let payload = invalid.as_deref().unwrap_or(raw_text.as_bytes());
        cmcd::decode_query_payload(payload, Policy::Lenient)
    } else {
        cmcd::decode_query(query, Policy::Lenient) // refused on the sent length, as it says
    };
    match report {
        Ok(r) => (Some(r), Some(Origin::Query)),
        Err(e) => {
            out.error = Some(e.code());
            (None, Some(Origin::Query))
        }
    }
}

/// A `CMCD-*: value` line of `cs-headers` as (name, value), the name trimmed of whitespace,
/// the value of spaces and TABs; `None` for any other line. The name needs a suffix after
/// `cmcd-` to be a CMCD header.
fn cmcd_header(line: &str) -> Option<(&str, &str)> {
    if !line.trim_start().get(..5)?.eq_ignore_ascii_case("cmcd-") {
        return None;
    }
    let (name, value) = split_at_byte(line, b':')?;
    let name = name.trim();
    (name.len() > 5).then(|| (name, trim_blanks(value)))
}

/// `text` without leading and trailing spaces and TABs (bytes compared, not chars: both are
/// ASCII, so the cuts are char boundaries).
fn trim_blanks(text: &str) -> &str {
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|c| !blank(c)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|c| !blank(c)).map_or(start, |i| i + 1);
    text.get(start..end).unwrap_or_default()
}

/// `text` split around the first `byte` (ASCII), found with `memchr` (std's `split_once` on
/// a `char` measured slower on these short strings).
fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(byte, text.as_bytes())?;
    // An ASCII byte: both sides are char boundaries.
    Some((text.get(..i)?, text.get(i + 1..)?))
}

/// Whether `decoded`, percent-encoded again the way CloudFront logs it, is at least `limit`
/// bytes long. Encoding at most triples a byte, so most blocks are decided by their length.
fn encoded_len_reaches(decoded: &str, limit: usize) -> bool {
    if decoded.len() >= limit {
        return true;
    }
    if decoded.len() * 3 < limit {
        return false;
    }
    let encoded: usize =
        decoded.bytes().map(|b| if crate::line::encoded_by_cloudfront(b) { 3 } else { 1 }).sum();
    encoded >= limit
}

/// The text of a String key, moved out of the report (no copy).
fn take_string(r: &mut Report, key: Key) -> Option<String> {
    match r.remove(key)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn fill_from_report(mut r: Report, out: &mut Cmcd) {
    // The text keys first, moved out of the report; `remove` leaves the others in place.
    out.cid = take_string(&mut r, Key::Cid);
    out.sid = take_string(&mut r, Key::Sid);
    out.nrr = take_string(&mut r, Key::Nrr);
    out.nor = match r.remove(Key::Nor) {
        Some(Value::NextObjects(n)) => n.into_iter().next().map(|n| n.url),
        _ => None,
    };
    let ot = r.ot();
    out.ot = ot;
    out.br = pick(r.br(), ot);
    out.bl = pick(r.bl(), ot);
    out.bs = r.bs();
    out.d = r.d().map(to_i64);
    out.dl = r.dl().map(to_i64);
    out.mtp = pick(r.mtp(), ot);
    out.pr = r.pr().map(|d| d.to_f64());
    out.rtp = r.rtp().map(to_i64);
    out.sf = r.sf();
    out.st = r.st();
    out.su = r.su();
    out.tb = pick(r.tb(), ot);
    out.v = r.v().map(to_i64);
    out.pt = r.pt().map(to_i64);
    out.sta = r.sta();
    out.ltc = r.ltc().map(to_i64);
    out.msd = r.msd().map(to_i64);
    out.bsa = pick(r.bsa(), ot);
    out.bsd = r.bsd().map(|s| s.iter().fold(0i64, |acc, m| acc.saturating_add(to_i64(m.value))));
    out.bsda = pick(r.bsda(), ot);
    out.pb = pick(r.pb(), ot);
    out.sn = r.sn().map(to_i64);
    out.ec = r.ec().map(|codes| codes.join(","));
    out.dfa = r.dfa().map(to_i64);
    out.dropped = i64::try_from(r.dropped().len()).unwrap_or(i64::MAX);
    out.lenient = i64::from(r.leniencies().total());
}

/// Applies the `cmcd-*` cells; returns whether any cell supplied a value.
fn apply_cells(fields: &FieldSet, record: &Record<'_>, out: &mut Cmcd) -> bool {
    if !fields.contains(Field::CmcdSessionId) && !fields.contains(Field::CmcdObjectType) {
        // Fast path for the common configurations; the loop below handles any subset.
        if !fields.fields().iter().any(|f| f.kind() == crate::field::Kind::Cmcd) {
            return false;
        }
    }
    // `ot` first: list cells pick the member tagged with it.
    let mut any = false;
    if let Some(cell) = record.text(Field::CmcdObjectType) {
        match ObjectType::from_token(&unquote(cell)) {
            Some(ot) => {
                out.ot = Some(ot);
                any = true;
            }
            None => out.dropped += 1,
        }
    }
    let ot = out.ot;
    macro_rules! cell {
        ($field:ident, $slot:expr, $parse:expr) => {
            if let Some(text) = record.text(Field::$field) {
                match $parse(text) {
                    Some(v) => {
                        $slot = Some(v);
                        any = true;
                    }
                    None => out.dropped += 1,
                }
            }
        };
    }
    // A text cell usually repeats the payload's value: kept without a new allocation then.
    macro_rules! text_cell {
        ($field:ident, $slot:expr) => {
            if let Some(text) = record.text(Field::$field) {
                let value = unquote(text);
                if $slot.as_deref() != Some(&*value) {
                    $slot = Some(value.into_owned());
                }
                any = true;
            }
        };
    }
    let num = |t: &str| cell_number(t, ot);
    cell!(CmcdEncodedBitrate, out.br, num);
    cell!(CmcdBufferLength, out.bl, num);
    cell!(CmcdBufferStarvation, out.bs, cell_bool);
    text_cell!(CmcdContentId, out.cid);
    cell!(CmcdObjectDuration, out.d, num);
    cell!(CmcdDeadline, out.dl, num);
    cell!(CmcdMeasuredThroughput, out.mtp, num);
    text_cell!(CmcdNextObjectRequest, out.nor);
    text_cell!(CmcdNextRangeRequest, out.nrr);
    cell!(CmcdPlaybackRate, out.pr, |t: &str| unquote(t)
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && *p >= 0.0));
    cell!(CmcdRequestedMaximumThroughput, out.rtp, num);
    cell!(CmcdStreamingFormat, out.sf, |t: &str| StreamingFormat::from_token(&unquote(t)));
    text_cell!(CmcdSessionId, out.sid);
    cell!(CmcdStreamType, out.st, |t: &str| StreamType::from_token(&unquote(t)));
    cell!(CmcdStartup, out.su, cell_bool);
    cell!(CmcdTopBitrate, out.tb, num);
    cell!(CmcdVersion, out.v, |t: &str| cell_number(t, None)
        .filter(|v| u64::try_from(*v).ok().and_then(Version::from_number).is_some()));
    any
}

/// Strips one pair of surrounding double quotes and undoes `\"` and `\\` (borrowed unless
/// there was an escape).
fn unquote(text: &str) -> Cow<'_, str> {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if memchr::memchr(b'\\', inner.as_bytes()).is_none() => Cow::Borrowed(inner),
        Some(inner) => Cow::Owned(inner.replace("\\\"", "\"").replace("\\\\", "\\")),
        None => Cow::Borrowed(text),
    }
}

fn cell_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "?1" => Some(true),
        "0" | "?0" => Some(false),
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A non-negative number cell: an integer, a decimal (rounded half up) or an inner list
/// `(5000;v 320;a)` (the member tagged with `ot`, else the first).
fn cell_number(text: &str, ot: Option<ObjectType>) -> Option<i64> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        let members: Vec<(Option<i64>, Vec<&str>)> = inner
            .split_whitespace()
            .map(|m| {
                let mut parts = m.split(';');
                let value = parts.next().and_then(scalar_number);
                (value, parts.collect())
            })
            .collect();
        let tagged = ot.and_then(|o| {
            members.iter().find(|(_, params)| {
                params.iter().any(|p| *p == o.as_str() || p.strip_prefix("ot=") == Some(o.as_str()))
            })
        });
        return tagged.or_else(|| members.first()).and_then(|(v, _)| *v);
    }
    scalar_number(text)
}

fn scalar_number(text: &str) -> Option<i64> {
    // Plain digits, the common cell, read as the log's integer cells are.
    if let Some(n) = crate::line::parse_int(text.as_bytes()) {
        return Some(n);
    }
    if let Ok(n) = text.parse::<i64>() {
        return (n >= 0).then_some(n);
    }
    let f: f64 = text.parse().ok()?;
    #[allow(clippy::cast_possible_truncation)] // range-checked just before
    (0.0..9.0e15).contains(&f).then(|| f.round() as i64)
}

/// The SMD session id of a token path (`/<sid>.<jwt>/…`, reference: the token format of
/// `token_core::token`): the first path segment must be `<sid>.<header>.<payload>.<signature>`
/// with a session id of 1–200 characters from `A-Z a-z 0-9 _ - ~` and base64url JWT parts.
/// `None` for paths without a session token.
pub fn smd_session_id(uri_stem: &str) -> Option<&str> {
    // Called for every row: byte searches instead of pattern searchers, and `://` only looked
    // for when the path has a `:` at all.
    let end = memchr::memchr2(b'?', b'#', uri_stem.as_bytes()).unwrap_or(uri_stem.len());
    let path = uri_stem.get(..end)?;
    let path = match memchr::memchr(b':', path.as_bytes()).and_then(|_| path.find("://")) {
        Some(i) => path.get(i + 3..).and_then(|rest| rest.find('/').and_then(|j| rest.get(j..)))?,
        None => path,
    };
    let rest = path.strip_prefix('/')?;
    let segment = rest.get(..memchr::memchr(b'/', rest.as_bytes()).unwrap_or(rest.len()))?;
    // `<sid>.<header>.<payload>.<signature>`: a table lookup per byte (the JWT is most of
    // the path and every row asks).
    let (sid, jwt) = split_at_byte(segment, b'.')?;
    let sid_ok = (1..=200).contains(&sid.len())
        && sid.bytes().all(|b| TOKEN_BYTES[usize::from(b)] & (BASE64URL | SID_EXTRA) != 0);
    if !sid_ok {
        return None;
    }
    // Thirty-two bytes at a time while whole blocks remain, then byte by byte.
    let mut dots = 0;
    let mut previous = b'.';
    let mut blocks = jwt.as_bytes().chunks_exact(32);
    for block in &mut blocks {
        let (valid, block_dots) = jwt_block(block.try_into().ok()?);
        // Every byte base64url or `.`; no `.` right after a `.` (an empty part), also across
        // the block boundary.
        if valid != u32::MAX
            || block_dots & (block_dots << 1) != 0
            || (previous == b'.' && block_dots & 1 != 0)
        {
            return None;
        }
        dots += block_dots.count_ones();
        previous = block.last().copied().unwrap_or(previous);
    }
    for &b in blocks.remainder() {
        if b == b'.' {
            if previous == b'.' {
                return None; // an empty part
            }
            dots += 1;
        } else if TOKEN_BYTES[usize::from(b)] & BASE64URL == 0 {
            return None;
        }
        previous = b;
    }
    (dots == 2 && previous != b'.').then_some(sid)
}

/// For 32 bytes of a JWT: a bit mask of the bytes that are base64url or `.`, and one of the
/// `.` bytes (bit `i` for byte `i`).
fn jwt_block(block: [u8; 32]) -> (u32, u32) {
    use wide::u8x32;
    let bytes = u8x32::new(block);
    // `lo <= b <= hi` as `max(b - lo, hi - lo) == hi - lo` (wrapping, unsigned).
    let within = |v: u8x32, lo: u8, hi: u8| {
        let span = u8x32::splat(hi - lo);
        (v - u8x32::splat(lo)).max(span).simd_eq(span)
    };
    // ASCII letters are `a`-`z` once bit 5 is set; no other byte lands there.
    let letter = within(bytes | u8x32::splat(0x20), b'a', b'z');
    let digit = within(bytes, b'0', b'9');
    let dot = bytes.simd_eq(u8x32::splat(b'.'));
    let other = bytes.simd_eq(u8x32::splat(b'_')) | bytes.simd_eq(u8x32::splat(b'-'));
    ((letter | digit | dot | other).to_bitmask(), dot.to_bitmask())
}

/// [`TOKEN_BYTES`] class: the base64url alphabet.
const BASE64URL: u8 = 1;
/// [`TOKEN_BYTES`] class: the further byte a session id may hold (`~`).
const SID_EXTRA: u8 = 2;

/// Byte classes of an SMD token path segment.
static TOKEN_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            t[b] = BASE64URL;
        }
        b += 1;
    }
    t[b'~' as usize] = SID_EXTRA;
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The CMCD of a record holding only `query` as `cs-uri-query`.
    fn from_query(query: &str) -> Cmcd {
        let mut record = Record::new(1_714_650_000_000);
        record.set(Field::CsUriQuery, crate::line::Cell::Text(Cow::Borrowed(query)));
        extract(&FieldSet::parse_names("timestamp,cs-uri-query").unwrap(), &record)
    }

    /// A `cs-headers` block that reaches 800 bytes as logged is truncated: a parsed record
    /// decides on the logged cell; a record built without a line on the block encoded again
    /// as CloudFront does. The two agree on CloudFront's encoding, at every length around the
    /// limit; where a line encodes more than CloudFront would (`%41` for `A`), the logged
    /// length counts.
    #[test]
    fn header_truncation_is_decided_on_the_logged_length() {
        let fields = FieldSet::parse_names("timestamp,cs-headers").unwrap();
        let decide = |logged: &str| -> (bool, bool) {
            let line = format!("1714650000.000\t{logged}");
            let parsed = crate::line::parse(&fields, line.as_bytes()).unwrap();
            assert_eq!(parsed.headers_logged_len(), Some(logged.len()));
            let mut built = Record::new(1_714_650_000_000);
            let block = parsed.text(Field::CsHeaders).unwrap().to_owned();
            built.set(Field::CsHeaders, crate::line::Cell::Text(Cow::Owned(block)));
            assert_eq!(built.headers_logged_len(), None);
            (
                extract(&fields, &parsed).headers_truncated,
                extract(&fields, &built).headers_truncated,
            )
        };
        let head = "host:a.example%0Acmcd%2Dobject:br=1500,ot=v%0Ax%2Dpad:";
        for len in HEADERS_TRUNCATION_LEN - 4..HEADERS_TRUNCATION_LEN + 4 {
            // Padding of plain bytes and of escapes (three logged bytes each).
            let plain = format!("{head}{}", "p".repeat(len - head.len()));
            let escaped = len - head.len();
            let escapes = format!("{head}{}{}", "%20".repeat(escaped / 3), "q".repeat(escaped % 3));
            for logged in [plain, escapes] {
                assert_eq!(logged.len(), len);
                let full = len >= HEADERS_TRUNCATION_LEN;
                assert_eq!(decide(&logged), (full, full), "{len} bytes");
            }
        }
        // 800 logged bytes, most of them `%41` (`A`, which CloudFront does not encode): about
        // 300 bytes when encoded again.
        let over = format!("{head}{}", "%41".repeat(250));
        let over = &over[..HEADERS_TRUNCATION_LEN];
        assert_eq!(decide(over), (true, false));
    }

    /// Extracting into the previous row's values (whose text buffers are reused) gives what a
    /// fresh extraction gives, whatever the previous row held: payloads with and without the
    /// text keys, in the query and in headers, none at all.
    #[test]
    fn extracting_into_a_used_value_equals_a_fresh_extraction() {
        let fields = FieldSet::parse_names("timestamp,cs-uri-query,cs-headers").unwrap();
        let rows = [
            ("CMCD=cid%3D%22c1%22%2Cnor%3D%22a.m4s%22%2Csid%3D%22s1%22", "-"),
            ("-", "cmcd-session:sid=\"a-much-longer-session-id\",cid=\"c2\""),
            ("CMCD=br%3D800", "-"),
            ("-", "-"),
            ("CMCD=nrr%3D%2210-20%22%2Csid%3D%22s%22", "host:x"),
            ("-", "cmcd-request:nor=\"b.m4s\"%0Acmcd-object:ot=v"),
            ("CMCD=sid%3D%22s1%22%2C%20br%3D1", "-"),
        ];
        let mut used = Cmcd::default();
        for (query, headers) in rows.iter().chain(rows.iter().rev()) {
            let line = format!("1714650000.000\t{query}\t{headers}");
            let record = crate::line::parse(&fields, line.as_bytes()).unwrap();
            extract_into(&fields, &record, &mut used);
            assert_eq!(used, extract(&fields, &record), "{line}");
        }
    }

    #[test]
    fn query_payloads_take_the_direct_path_or_the_general_one() {
        // Player-shaped: read directly.
        let c = from_query("CMCD=br%3D3200%2Cot%3Dv%2Csid%3D%22s1%22");
        assert_eq!(
            (c.br, c.sid.as_deref(), c.origin),
            (Some(3200), Some("s1"), Some(Origin::Query))
        );
        assert_eq!(c.raw.as_deref(), Some(r#"br=3200,ot=v,sid="s1""#));
        // Not player-shaped (a space after a comma): the general decoder, same columns.
        let c = from_query("CMCD=br%3D3200%2C%20ot%3Dv");
        assert_eq!((c.br, c.ot, c.error), (Some(3200), Some(ObjectType::Video), None));
        // Decoded bytes that are not UTF-8: `cmcd_raw` is lossy, the decoder sees the bytes
        // (and rejects the String's byte as RFC 8941 does).
        let c = from_query("CMCD=br%3D3200%2Csid%3D%22a%FFb%22");
        assert_eq!(c.raw.as_deref(), Some("br=3200,sid=\"a\u{FFFD}b\""));
        let expected = cmcd::decode_query_payload(b"br=3200,sid=\"a\xFFb\"", Policy::Lenient);
        assert_eq!(c.error, expected.as_ref().err().map(cmcd::Error::code));
        assert_eq!(c.sid, None);
    }

    #[test]
    fn cells() {
        assert_eq!(cell_number("3200", None), Some(3200));
        assert_eq!(cell_number("1.5", None), Some(2));
        assert_eq!(cell_number("(5000;v 320;a)", Some(ObjectType::Audio)), Some(320));
        assert_eq!(cell_number("(5000;v 320;a)", None), Some(5000));
        assert_eq!(cell_number("(5000;ot=v 320;ot=a)", Some(ObjectType::Audio)), Some(320));
        assert_eq!(cell_number("-5", None), None);
        assert_eq!(cell_number("x", None), None);
        assert_eq!(cell_bool("?1"), Some(true));
        assert_eq!(cell_bool("FALSE"), Some(false));
        assert_eq!(cell_bool("yes"), None);
        assert_eq!(unquote(r#""a\"b""#), "a\"b");
        assert_eq!(unquote("plain"), "plain");
    }

    #[test]
    fn cmcd_header_lines() {
        assert_eq!(cmcd_header("CMCD-Request:bl=21300"), Some(("CMCD-Request", "bl=21300")));
        assert_eq!(
            cmcd_header("  cmcd-session \t:  sid=\"a b\" \t"),
            Some(("cmcd-session", "sid=\"a b\""))
        );
        assert_eq!(cmcd_header("\rCMCD-Object:\tbr=3200\r"), Some(("CMCD-Object", "br=3200\r")));
        assert_eq!(cmcd_header("CMCD-Status:"), Some(("CMCD-Status", "")));
        assert_eq!(cmcd_header("CMCD-: br=1"), None, "no suffix");
        assert_eq!(cmcd_header("CMCD-Request br=1"), None, "no colon");
        assert_eq!(cmcd_header("X-CMCD-Request: br=1"), None);
        assert_eq!(cmcd_header("Host: example.com"), None);
        assert_eq!(cmcd_header("CMCé-Request: br=1"), None);
        assert_eq!(cmcd_header(""), None);
        assert_eq!(trim_blanks(" \t "), "");
        assert_eq!(trim_blanks("é "), "é");
    }

    #[test]
    fn session_ids() {
        assert_eq!(smd_session_id("/AbC123.eyJh.eyJi.c2ln/out/v1/index.m3u8"), Some("AbC123"));
        assert_eq!(smd_session_id("https://d1.cloudfront.net/s_1.a.b.c/x?y=1"), Some("s_1"));
        assert_eq!(smd_session_id("/eyJh.eyJi.c2ln/out/index.m3u8"), None);
        assert_eq!(smd_session_id("/vod/bbb/seg.m4s"), None);
        assert_eq!(smd_session_id("/a.b.c.d.e/x"), None);
        assert_eq!(smd_session_id("/a%20.b.c.d/x"), None);
        assert_eq!(smd_session_id(""), None);
        assert_eq!(smd_session_id("/s.a.b.c?x=1/y"), Some("s"));
        assert_eq!(smd_session_id("/s.a.b.c#f"), Some("s"));
        assert_eq!(smd_session_id("/s.a.b.c/x/http://h/t.a.b.c/y"), Some("t"));
        assert_eq!(smd_session_id("s.a.b.c/x"), None);
        assert_eq!(smd_session_id("/s..b.c/x"), None);
        assert_eq!(smd_session_id("/s.a.b./x"), None);
        assert_eq!(smd_session_id("/s.a.b/x"), None);
        assert_eq!(smd_session_id("/s./x"), None);
        assert_eq!(smd_session_id("/.a.b.c/x"), None);
        assert_eq!(smd_session_id("/~s-_.a.b.c/x"), Some("~s-_"));
        assert_eq!(smd_session_id("/s.a.b.c~/x"), None);
        assert_eq!(smd_session_id("/s.a.b.\u{e9}/x"), None);
    }

    /// The definition the byte-search version must match: std's pattern splits.
    fn naive_session_id(uri_stem: &str) -> Option<&str> {
        let path = uri_stem.split(['?', '#']).next()?;
        let path = match path.find("://") {
            Some(i) => path.get(i + 3..).and_then(|r| r.find('/').and_then(|j| r.get(j..)))?,
            None => path,
        };
        let segment = path.strip_prefix('/')?.split('/').next()?;
        let parts: Vec<&str> = segment.split('.').collect();
        let [sid, h, p, s] = parts.as_slice() else { return None };
        let sid_ok = (1..=200).contains(&sid.len())
            && sid.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-~".contains(&b));
        let b64 = |t: &str| {
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        };
        (sid_ok && b64(h) && b64(p) && b64(s)).then_some(*sid)
    }

    /// Every position of a long token, and so every place relative to the 32-byte blocks,
    /// holding each byte class boundary, a `.` or an extra `.`.
    #[test]
    fn token_bytes_at_every_position_match_the_definition() {
        let jwt = format!("{}.{}.{}", "eyJhbGciOiJIUzI1NiJ9", "a".repeat(70), "Zz09_-".repeat(5));
        let replacements = [b'.', b'/', b':', b'@', b'[', b'`', b'{', b'~', b'+', b'A', b'z'];
        for at in 0..jwt.len() {
            for &b in &replacements {
                let mut bytes = jwt.clone().into_bytes();
                bytes[at] = b;
                let changed = String::from_utf8(bytes).unwrap();
                let path = format!("/sid-1.{changed}/seg_1.m4s");
                assert_eq!(smd_session_id(&path), naive_session_id(&path), "{path}");
            }
            let inserted = format!("/sid-1.{}.{}", &jwt[..at], &jwt[at..]);
            assert_eq!(smd_session_id(&inserted), naive_session_id(&inserted), "{inserted}");
        }
        assert_eq!(smd_session_id(&format!("/sid-1.{jwt}")), Some("sid-1"));
        // Two dots and three parts only in count: `..` anywhere (an empty part), at the start
        // or at the end.
        let plain = "eyJhbGciOiJIUzI1NiJ9".repeat(5);
        for at in 0..=plain.len() {
            let path = format!("/sid-1.{}..{}", &plain[..at], &plain[at..]);
            assert_eq!(smd_session_id(&path), None, "{path}");
            assert_eq!(naive_session_id(&path), None, "{path}");
        }
    }

    /// The definition the digit fast path of `scalar_number` must match.
    fn naive_scalar_number(text: &str) -> Option<i64> {
        if let Ok(n) = text.parse::<i64>() {
            return (n >= 0).then_some(n);
        }
        let f: f64 = text.parse().ok()?;
        #[allow(clippy::cast_possible_truncation)]
        (0.0..9.0e15).contains(&f).then(|| f.round() as i64)
    }

    proptest::proptest! {
        #[test]
        fn number_cells_match_the_definition(s in "[0-9]{1,20}|[0-9]{0,3}[.][0-9]{0,3}|[+-]?[0-9]{1,4}|[0-9]e[0-9]|") {
            proptest::prop_assert_eq!(scalar_number(&s), naive_scalar_number(&s));
        }

        /// Token segments long enough for the 32-byte blocks, with bytes on both sides of
        /// every class boundary and `.` runs.
        #[test]
        fn long_token_segments_match_the_definition(
            s in "/[a-zA-Z0-9_~-]{1,6}[.]([a-zA-Z0-9_-]{0,14}[.]{0,2}){1,9}([:@`{/+=é~ ][a-zA-Z0-9_-]{0,40})?(/x)?"
        ) {
            proptest::prop_assert_eq!(smd_session_id(&s), naive_session_id(&s));
        }

        #[test]
        fn session_id_matches_the_definition(s in "(https?://[a-z.]{0,6})?(/|[a-c]|[.]|[?#:~_-]|%20){0,24}") {
            proptest::prop_assert_eq!(smd_session_id(&s), naive_session_id(&s));
        }
    }
}
