//! A fast reader for the one shape players send.
//!
//! Deployed players write their payloads the same way: lowercase registered keys separated by
//! bare commas, each key once; Integers; quoted Strings without escapes; Tokens from the key's
//! vocabulary; `bs` and `su` as bare keys; v2 numeric lists as `(3200;v 128;a)`.
//! [`read_canonical`] reads exactly that shape and hands each member, typed, to a [`Visit`]
//! — no Structured Field cursor, no intermediate bare items, no typing by dispatch, and no
//! allocation unless the visitor makes one — and gives up at the first byte outside it. The
//! general parser ([`super::sf`] and the typing of [`super::report`]) then reads the payload
//! from its start. Decoding into a [`Report`] takes this path first (`read_into`), and
//! so can a caller that keeps only some keys in its own structure (the CloudFront log ingest
//! does).
//!
//! Its grammar is a subset of RFC 8941's Dictionary, and every value it accepts is one the
//! general path types without a leniency and without a drop, so both paths give equal reports
//! under either [`super::Policy`] (a property test in this module checks it on arbitrary
//! input). It gives up on: whitespace; parameters other than one flag per numeric-list member;
//! escapes, control and non-ASCII bytes; custom and unknown keys; a key sent twice (in this
//! payload, or in an earlier header of the same request: [`Visit::holds`]), and any key dropped
//! earlier; a value the general path would drop or accept only leniently; empty payloads and
//! empty lists; lists of more than [`MAX_LIST_MEMBERS`] members.
//!
//! It does not check `v` against the versions this crate reads: the general path rejects a
//! payload with `v` > 2 as a whole ([`super::Error::UnsupportedVersion`]) after reading it, and
//! so must a visitor.

use std::borrow::Cow;
use std::ops::ControlFlow;

use super::key::{Key, Kind};
use super::report::{Report, token_value};
use super::sf::{self, Decimal};
use super::transport::percent_decode_nor;
use super::value::{
    EventType, NextObject, ObjectType, PlayerState, Sample, Samples, StreamType, StreamingFormat,
    Value,
};

/// Longest list the reader reads itself; a longer one is left to the general path.
pub const MAX_LIST_MEMBERS: usize = 16;

/// One member of a payload in canonical shape, typed as the general path types it, borrowing
/// the payload (or, for a v1 `nor`, its percent-decoded URL).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Canonical<'a> {
    /// Boolean keys (`bs`, `su`, …): a bare key is `true`.
    Boolean(bool),
    /// Non-negative Integer keys.
    Integer(u64),
    /// Decimal keys (`pr`).
    Decimal(Decimal),
    /// String keys (`sid`, `cid`, `nrr`, …), never empty and within the key's length limit.
    String(&'a str),
    /// `ot`.
    ObjectType(ObjectType),
    /// `sf`.
    StreamingFormat(StreamingFormat),
    /// `st`.
    StreamType(StreamType),
    /// `sta`.
    PlayerState(PlayerState),
    /// `e`.
    EventType(EventType),
    /// Numeric list keys (`br`, `bl`, `bsd`, …): a v1 scalar is one untagged sample.
    Samples(&'a [Sample]),
    /// `ec`: a v1 String is one text.
    Strings(&'a [&'a str]),
    /// `nor`: the v2 inner list's URLs as sent, or the v1 String's URL percent-decoded.
    NextObjects(&'a [&'a str]),
}

impl Canonical<'_> {
    /// The owned [`Value`] a [`Report`] holds for this member.
    pub fn to_value(&self) -> Value {
        match *self {
            Self::Boolean(b) => Value::Boolean(b),
            Self::Integer(n) => Value::Integer(n),
            Self::Decimal(d) => Value::Decimal(d),
            Self::String(s) => Value::String(s.to_owned()),
            Self::ObjectType(t) => Value::ObjectType(t),
            Self::StreamingFormat(t) => Value::StreamingFormat(t),
            Self::StreamType(t) => Value::StreamType(t),
            Self::PlayerState(t) => Value::PlayerState(t),
            Self::EventType(t) => Value::EventType(t),
            Self::Samples(s) => Value::Samples(match s {
                [one] => Samples::single(*one),
                many => Samples::new(many.to_vec()),
            }),
            Self::Strings(texts) => Value::Strings(texts.iter().map(|t| (*t).to_owned()).collect()),
            Self::NextObjects(urls) => {
                Value::NextObjects(urls.iter().map(|u| NextObject::new(*u)).collect())
            }
        }
    }
}

/// What receives the members [`read_canonical`] reads.
pub trait Visit {
    /// Whether `key` already holds a value (from an earlier header of the same request): the
    /// reader gives up on it, as the general path lets the later value win.
    fn holds(&self, key: Key) -> bool;

    /// Receives one member; [`ControlFlow::Break`] makes the reader give up.
    fn member(&mut self, key: Key, value: Canonical<'_>) -> ControlFlow<()>;
}

/// Reads `payload` member by member into `visitor` when the whole payload is in canonical
/// shape (see the module docs); returns whether it did. On `false` the visitor may have
/// received the members before the point where the reader gave up: discard them and decode the
/// payload with the general path.
///
/// # Examples
///
/// ```
/// use std::ops::ControlFlow;
/// use token_core::cmcd::{Canonical, Key, Visit, read_canonical};
///
/// #[derive(Default)]
/// struct Bitrate(Option<u64>);
///
/// impl Visit for Bitrate {
///     fn holds(&self, _: Key) -> bool {
///         false
///     }
///     fn member(&mut self, key: Key, value: Canonical<'_>) -> ControlFlow<()> {
///         if let (Key::Br, Canonical::Samples([first, ..])) = (key, value) {
///             self.0 = Some(first.value);
///         }
///         ControlFlow::Continue(())
///     }
/// }
///
/// let mut br = Bitrate::default();
/// assert!(read_canonical(r#"br=3200,ot=v,sid="s1""#, &mut br));
/// assert_eq!(br.0, Some(3200));
/// assert!(!read_canonical("br=3200, ot=v", &mut Bitrate::default())); // whitespace
/// ```
pub fn read_canonical<V: Visit + ?Sized>(payload: &str, visitor: &mut V) -> bool {
    let p = payload.as_bytes();
    if p.is_empty() {
        return false;
    }
    let mut read = 0u64;
    let mut pos = 0;
    loop {
        let key_end = lowercase_end(p, pos);
        let Some(key) = p.get(pos..key_end).and_then(Key::from_name_bytes) else { return false };
        let bit = 1u64 << (key as u32);
        if read & bit != 0 || visitor.holds(key) {
            return false;
        }
        read |= bit;
        let Some(end) = member(payload, key, key_end, visitor) else { return false };
        match p.get(end) {
            None => return true,
            Some(b',') if end + 1 < p.len() => pos = end + 1,
            _ => return false,
        }
    }
}

/// Reads `payload` into `report` when the whole payload is in canonical shape; returns whether
/// it did. On `false` the report is as it was before the call.
pub(crate) fn read_into(report: &mut Report, payload: &[u8]) -> bool {
    if payload.is_empty() || report.has_dropped() {
        return false;
    }
    let Ok(payload) = std::str::from_utf8(payload) else { return false };
    let before = report.present_keys();
    if read_canonical(payload, report) {
        return true;
    }
    let mut added = report.present_keys() & !before;
    while added != 0 {
        let k = added.trailing_zeros() as usize;
        added &= added - 1;
        if let Some(&key) = Key::ALL.get(k) {
            report.remove(key);
        }
    }
    false
}

impl Visit for Report {
    fn holds(&self, key: Key) -> bool {
        self.contains(key)
    }

    fn member(&mut self, key: Key, value: Canonical<'_>) -> ControlFlow<()> {
        self.set(key, value.to_value());
        ControlFlow::Continue(())
    }
}

/// The value of `key`, its `=` at `key_end` (or absent: a bare key), handed to `visitor`; the
/// position after it, or `None` outside the canonical shape or when the visitor stops.
fn member<V: Visit + ?Sized>(
    payload: &str,
    key: Key,
    key_end: usize,
    visitor: &mut V,
) -> Option<usize> {
    let p = payload.as_bytes();
    let kind = key.info().kind;
    let at = key_end + 1;
    let (value, end) = if p.get(key_end) != Some(&b'=') {
        // A bare key is the Boolean true (RFC 8941 §3.2).
        if kind != Kind::Boolean {
            return None;
        }
        (Canonical::Boolean(true), key_end)
    } else if p.get(at) == Some(&b'(') {
        return list(payload, key, kind, at + 1, visitor);
    } else {
        match kind {
            Kind::Integer => {
                let (n, end) = integer(p, at)?;
                if key == Key::V && n == 0 {
                    return None; // out of range: dropped
                }
                (Canonical::Integer(n), end)
            }
            Kind::Decimal => {
                let (d, end) = decimal(p, at)?;
                (Canonical::Decimal(d), end)
            }
            Kind::Boolean => match p.get(at..at + 2)? {
                b"?1" => (Canonical::Boolean(true), at + 2),
                b"?0" => (Canonical::Boolean(false), at + 2),
                _ => return None,
            },
            Kind::String => {
                let (s, end) = string(payload, at)?;
                if s.is_empty() || key.info().max_len.is_some_and(|max| s.len() > max) {
                    return None; // dropped as empty or too long
                }
                (Canonical::String(s), end)
            }
            Kind::Token => {
                let end = lowercase_end(p, at);
                let value = match token_value(key, payload.get(at..end)?)? {
                    Value::ObjectType(t) => Canonical::ObjectType(t),
                    Value::StreamingFormat(t) => Canonical::StreamingFormat(t),
                    Value::StreamType(t) => Canonical::StreamType(t),
                    Value::PlayerState(t) => Canonical::PlayerState(t),
                    Value::EventType(t) => Canonical::EventType(t),
                    _ => return None,
                };
                (value, end)
            }
            Kind::IntegerList => {
                let (n, end) = integer(p, at)?;
                visitor.member(key, Canonical::Samples(&[Sample::new(n)])).continue_value()?;
                return Some(end);
            }
            Kind::StringList => {
                let (s, end) = string(payload, at)?;
                visitor.member(key, Canonical::Strings(&[s])).continue_value()?;
                return Some(end);
            }
            // The v1 String form is percent-decoded; the inner-list form carries URLs as sent.
            Kind::NextObjects => {
                let (s, end) = string(payload, at)?;
                let url = percent_decode_nor(Cow::Borrowed(s));
                visitor.member(key, Canonical::NextObjects(&[url.as_str()])).continue_value()?;
                return Some(end);
            }
        }
    };
    visitor.member(key, value).continue_value()?;
    Some(end)
}

/// An inner list, `at` just after its `(`, handed to `visitor`; the position after its `)`.
fn list<V: Visit + ?Sized>(
    payload: &str,
    key: Key,
    kind: Kind,
    at: usize,
    visitor: &mut V,
) -> Option<usize> {
    match kind {
        Kind::IntegerList => {
            let mut members = [Sample::new(0); MAX_LIST_MEMBERS];
            let (n, end) = samples(payload, at, &mut members)?;
            visitor.member(key, Canonical::Samples(members.get(..n)?)).continue_value()?;
            Some(end)
        }
        Kind::StringList | Kind::NextObjects => {
            let mut texts = [""; MAX_LIST_MEMBERS];
            let (n, end) = strings(payload, at, &mut texts)?;
            let texts = texts.get(..n)?;
            let value = if kind == Kind::StringList {
                Canonical::Strings(texts)
            } else {
                Canonical::NextObjects(texts)
            };
            visitor.member(key, value).continue_value()?;
            Some(end)
        }
        _ => None,
    }
}

/// The end of the run of `a`–`z` starting at `at` (key names and tokens: a few bytes).
#[inline]
fn lowercase_end(p: &[u8], at: usize) -> usize {
    let mut end = at;
    while p.get(end).is_some_and(u8::is_ascii_lowercase) {
        end += 1;
    }
    end
}

/// A non-negative Integer of 1–15 digits (RFC 8941 §3.3.1) at `at`, and its end.
fn integer(p: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut n = 0u64;
    let mut end = at;
    while let Some(&b) = p.get(end)
        && b.is_ascii_digit()
    {
        if end - at == 15 {
            return None; // 16 digits: not an Integer
        }
        n = n * 10 + u64::from(b - b'0');
        end += 1;
    }
    (end > at).then_some((n, end))
}

/// A non-negative Decimal (or Integer, which a Decimal key accepts) at `at`, and its end.
fn decimal(p: &[u8], at: usize) -> Option<(Decimal, usize)> {
    let (int, end) = integer(p, at)?;
    let int = i64::try_from(int).ok()?;
    if p.get(end) != Some(&b'.') {
        return Some((Decimal::from_integer(int)?, end));
    }
    if end - at > 12 {
        return None; // a Decimal has at most 12 integer digits
    }
    let (frac, frac_end) = integer(p, end + 1)?;
    let scale = match frac_end - (end + 1) {
        1 => 100,
        2 => 10,
        3 => 1,
        _ => return None, // at most 3 fractional digits
    };
    let frac = i64::try_from(frac).ok()?;
    Some((Decimal::from_thousandths(int * 1000 + frac * scale)?, frac_end))
}

/// A String without escapes at `at`: its content and the position after the closing quote.
fn string(payload: &str, at: usize) -> Option<(&str, usize)> {
    let p = payload.as_bytes();
    if p.get(at) != Some(&b'"') {
        return None;
    }
    let body = p.get(at + 1..)?;
    let len = plain_run(body);
    if body.get(len) != Some(&b'"') {
        return None; // an escape, a control or a non-ASCII byte
    }
    // Plain string bytes are ASCII: both ends are char boundaries.
    Some((payload.get(at + 1..at + 1 + len)?, at + len + 2))
}

/// The length of the run of plain String bytes (printable ASCII other than `"` and `\`) that
/// starts `body`, eight bytes at a time while no byte in the word ends it.
fn plain_run(body: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `v` is zero (exact for "some byte is", which is all that is asked).
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let mut at = 0;
    while let Some(word) = body.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let w = u64::from_le_bytes(word);
        let ends = w & HIGHS != 0 // non-ASCII
            || w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0 // a control byte (< 0x20)
            || has_zero(w ^ (ONES * 0x7f))
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')));
        if ends {
            break;
        }
        at += 8;
    }
    let rest = body.get(at..).unwrap_or_default();
    at + rest.iter().position(|&b| !sf::is_plain_string_byte(b)).unwrap_or(rest.len())
}

/// The members of an inner list of Strings without parameters, `at` just after its `(`, into
/// `texts`; how many and the position after the `)`.
fn strings<'a>(
    payload: &'a str,
    mut at: usize,
    texts: &mut [&'a str; MAX_LIST_MEMBERS],
) -> Option<(usize, usize)> {
    let p = payload.as_bytes();
    let mut n = 0;
    loop {
        let (text, end) = string(payload, at)?;
        *texts.get_mut(n)? = text;
        n += 1;
        match p.get(end) {
            Some(b' ') => at = end + 1,
            Some(b')') => return Some((n, end + 1)),
            _ => return None,
        }
    }
}

/// A numeric list (`(3200;v 128;a)`), `at` just after its `(`, into `members`: each member an
/// Integer with at most one flag parameter, which tags it when it names an object type; how
/// many and the position after the `)`.
fn samples(
    payload: &str,
    mut at: usize,
    members: &mut [Sample; MAX_LIST_MEMBERS],
) -> Option<(usize, usize)> {
    let p = payload.as_bytes();
    let mut n = 0;
    loop {
        let (value, mut end) = integer(p, at)?;
        let mut object = None;
        if p.get(end) == Some(&b';') {
            let flag_end = lowercase_end(p, end + 1);
            let flag = payload.get(end + 1..flag_end).filter(|f| !f.is_empty())?;
            object = ObjectType::from_token(flag);
            end = flag_end;
        }
        *members.get_mut(n)? = Sample { value, object };
        n += 1;
        match p.get(end) {
            Some(b' ') => at = end + 1,
            Some(b')') => return Some((n, end + 1)),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmcd::Policy;

    /// The general path alone: parse and type every member.
    fn general(report: &mut Report, payload: &[u8], policy: Policy) -> Result<(), sf::Error> {
        sf::parse_members_with(payload, |key, cursor| report.absorb_cursor(key, cursor, policy))
    }

    fn fast(payload: &str) -> Option<Report> {
        let mut report = Report::new();
        read_into(&mut report, payload.as_bytes()).then_some(report)
    }

    /// Asserts the canonical reader accepts `payload` and agrees with the general path.
    fn accepted(payload: &str) -> Report {
        let report = fast(payload).unwrap_or_else(|| panic!("not canonical: {payload}"));
        for policy in [Policy::Strict, Policy::Lenient] {
            let mut expected = Report::new();
            general(&mut expected, payload.as_bytes(), policy).unwrap();
            assert_eq!(report, expected, "{payload} under {policy:?}");
        }
        report
    }

    #[test]
    fn player_payloads_are_read() {
        // hls.js and dash.js (v1, keys sorted, `nor` percent-encoded inside the String).
        let r = accepted(
            r#"br=3200,bl=21300,cid="faec5fc2-ac30-11ea-bb37-0242ac130002",d=4004,dl=18500,mtp=48100,nor="..%2F300kbps%2Fsegment35.m4v",ot=v,pr=1.08,rtp=12000,sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v,su,tb=6000"#,
        );
        assert_eq!(r.nor().map(|n| n[0].url.as_str()), Some("../300kbps/segment35.m4v"));
        assert_eq!(r.pr().map(Decimal::thousandths), Some(1080));
        assert_eq!(r.su(), Some(true));
        // v2 shards.
        let r = accepted("br=(3200;v 128;a),d=4004,ot=av,tb=(6000;v 192;a)");
        assert_eq!(r.br().map(Samples::len), Some(2));
        accepted(
            r#"bl=(21300;v 21100;a),bsa=(2),bsd=(1200 300),dfa=7,mtp=(48100),pb=(3200;v),pt=1234567,sn=412,sta=p"#,
        );
        accepted(
            r#"cid="c",ec=("e1" "e2"),msd=1250,nor=("../a.m4s" "../b.m4s"),sf=h,sid="s",st=l,v=2"#,
        );
        accepted("bs=?1,pr=1,su=?0,v=1");
    }

    #[test]
    fn gives_up_outside_the_canonical_shape_and_leaves_the_report_as_it_was() {
        let shapes = [
            "",
            "br=3200, bl=100",         // whitespace
            " br=3200",                // leading space
            "br=3200,",                // trailing comma
            "br=3200,br=100",          // a key twice
            "br=3200,zz=1",            // unknown key
            "br=3200,com.example-x=1", // custom key
            r#"sid="a\"b""#,           // escape
            "sid=\"é\"",               // non-ASCII
            "d=1.5",                   // Decimal for an Integer (lenient or dropped)
            "sid=abc",                 // Token for a String
            "st=\"v\"",                // String for a Token
            "su=true",                 // Token for a Boolean
            "d=(4000)",                // list for a scalar
            "br=(3000;ot=v)",          // `ot` parameter
            "br=(3000;v;a)",           // two parameters
            "br=3000;v",               // parameter outside a list
            "br=()",                   // empty list
            "br=( 3000)",              // space in a list
            "v=0",                     // out of range: dropped
            "ot=x",                    // not in the vocabulary: dropped
            "sid=\"\"",                // empty: dropped
            "d",                       // bare key for an Integer: dropped
            "d=-1",                    // negative
            "d=1234567890123456",      // 16 digits: a syntax error
            "pr=1.2345",               // 4 fractional digits: a syntax error
            "pr=1234567890123.5",      // 13 integer digits: a syntax error
            "ec=(\"a\";x)",            // parameter on a String member
            "nor=\"a\";r=\"0-1\"",     // parameter outside a list
        ];
        for shape in shapes {
            let mut report = Report::new();
            general(&mut report, b"cid=\"before\",d=1", Policy::Strict).unwrap();
            let before = report.clone();
            assert!(!read_into(&mut report, shape.as_bytes()), "accepted {shape:?}");
            assert_eq!(report, before, "{shape:?} changed the report");
        }
        let long_sid = format!("sid=\"{}\"", "s".repeat(65));
        assert!(fast(&long_sid).is_none(), "too long: dropped");
        assert!(fast(&format!("sid=\"{}\"", "s".repeat(64))).is_some());
    }

    #[test]
    fn a_key_from_an_earlier_header_or_an_earlier_drop_is_left_to_the_general_path() {
        let mut report = Report::new();
        general(&mut report, b"br=100", Policy::Strict).unwrap();
        assert!(!read_into(&mut report, b"br=200"), "a key twice across headers");
        let mut report = Report::new();
        general(&mut report, b"st=x", Policy::Strict).unwrap();
        assert!(!read_into(&mut report, b"br=200"), "an earlier drop");
    }

    /// Fragments from which arbitrary payloads are built: canonical ones and every way out.
    const KEYS: &[&str] = &[
        "br", "bl", "bs", "cid", "d", "ec", "nor", "nrr", "ot", "pr", "sf", "sid", "st", "su",
        "sta", "v", "bsd", "e", "ts", "zz", "com.x-y", "Br", "*a", "",
    ];
    const VALUES: &[&str] = &[
        "3200",
        "0",
        "1",
        "2",
        "3",
        "007",
        "999999999999999",
        "1234567890123456",
        "1.5",
        "1.",
        "1.25",
        "1.2345",
        "999999999999.999",
        "-5",
        "\"abc\"",
        "\"\"",
        "\"a\\\"b\"",
        "\"a%2Fb\"",
        "\"a%2\"",
        "\"é\"",
        "v",
        "av",
        "x",
        "l",
        "p",
        "ps",
        "?1",
        "?0",
        "?2",
        "(3200;v 128;a)",
        "(1)",
        "()",
        "( 1)",
        "(1;ot=v)",
        "(1;x)",
        "(1;v;a)",
        "(1  2)",
        "(\"a\" \"b\")",
        "(\"a\";r=\"0-1\")",
        "(\"a\")",
        "true",
        "abc",
        "*t",
    ];
    const SEPARATORS: &[&str] = &[",", ",", ",", ", ", ",,", ";", " ", ""];

    fn payload() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let member = (0..KEYS.len(), proptest::option::of(0..VALUES.len()), 0..SEPARATORS.len());
        proptest::collection::vec(member, 0..8).prop_map(|members| {
            let mut out = String::new();
            let last = members.len().saturating_sub(1);
            for (i, (k, v, s)) in members.into_iter().enumerate() {
                out.push_str(KEYS[k]);
                if let Some(v) = v {
                    out.push('=');
                    out.push_str(VALUES[v]);
                }
                if i < last || s == 1 {
                    out.push_str(SEPARATORS[s]);
                }
            }
            out
        })
    }

    /// Members in canonical shape, one or more per kind of key (some repeat a key).
    const CANONICAL: &[&str] = &[
        "br=3200",
        "br=(3200;v 128;a)",
        "bl=(1 2;x)",
        "bs",
        "bs=?0",
        "cid=\"abc\"",
        "d=4004",
        "ec=(\"a\" \"b\")",
        "ec=\"e\"",
        "ec=\"\"",
        "nor=\"..%2Fa\"",
        "nor=\"%zz\"",
        "nor=(\"a\" \"b\")",
        "nor=(\"a\";r=\"\" \"\";r=\"0-99\")",
        "nrr=\"0-99\"",
        "nrr=\"\"",
        "ot=v",
        "pr=1.08",
        "pr=2",
        "pr=0.5",
        "sf=d",
        "sid=\"s\"",
        "st=v",
        "su",
        "sta=p",
        "v=1",
        "v=2",
        "v=3",
        "bsd=(100 200)",
        "e=ps",
        "ts=1700000000000",
        "tbl=(100;v)",
        "nr",
        "cs=\"x\"",
        "mtp=(48100)",
        "pb=(1;a 2;zz)",
    ];

    /// Payloads made mostly of canonical members, sometimes with one fragment that is not.
    fn canonical_payload() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let member = prop_oneof![
            8 => proptest::sample::select(CANONICAL).prop_map(str::to_owned),
            1 => (0..KEYS.len(), 0..VALUES.len()).prop_map(|(k, v)| format!("{}={}", KEYS[k], VALUES[v])),
        ];
        proptest::collection::vec(member, 1..10).prop_map(|members| members.join(","))
    }

    fn any_payload() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![payload(), canonical_payload()]
    }

    proptest::proptest! {
        /// The word-at-a-time scan stops where the byte-by-byte definition stops.
        #[test]
        fn plain_run_matches_the_byte_definition(
            body in proptest::collection::vec(
                proptest::prop_oneof![0x20u8..0x7f, proptest::num::u8::ANY],
                0..40,
            ),
        ) {
            let naive = body.iter().position(|&b| !sf::is_plain_string_byte(b)).unwrap_or(body.len());
            proptest::prop_assert_eq!(plain_run(&body), naive);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Whatever the input, the canonical reader either gives up without a trace or reads
        /// what the general path reads, under both policies; the two-step path (canonical,
        /// then general) always equals the general path.
        #[test]
        fn agrees_with_the_general_path(first in any_payload(), second in any_payload()) {
            for policy in [Policy::Strict, Policy::Lenient] {
                // One payload, then a second one into the same report (a later header).
                let mut expected = Report::new();
                let e1 = general(&mut expected, first.as_bytes(), policy);
                let e2 = general(&mut expected, second.as_bytes(), policy);
                let mut got = Report::new();
                let g1 = if read_into(&mut got, first.as_bytes()) {
                    Ok(())
                } else {
                    general(&mut got, first.as_bytes(), policy)
                };
                let g2 = if read_into(&mut got, second.as_bytes()) {
                    proptest::prop_assert!(e2.is_ok(), "read {second:?}, which does not parse");
                    Ok(())
                } else {
                    general(&mut got, second.as_bytes(), policy)
                };
                proptest::prop_assert_eq!(&g1, &e1);
                proptest::prop_assert_eq!(&g2, &e2);
                if e1.is_ok() && e2.is_ok() {
                    proptest::prop_assert_eq!(&got, &expected, "{:?} then {:?}", first, second);
                }
            }
        }
    }
}
