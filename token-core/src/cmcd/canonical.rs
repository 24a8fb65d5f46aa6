//! A fast reader for the one shape players send.
//!
//! Deployed players write their payloads the same way: lowercase registered keys separated by
//! bare commas, each key once; Integers; quoted Strings without escapes; Tokens from the key's
//! vocabulary; `bs` and `su` as bare keys; v2 numeric lists as `(3200;v 128;a)`.
//! [`read_into`] reads exactly that shape straight into a [`Report`] — no Structured Field
//! cursor, no intermediate bare items, no typing by dispatch — and gives up at the first byte
//! outside it, leaving the report as it was. The general parser ([`super::sf`] and the typing of
//! [`super::report`]) then reads the payload from its start.
//!
//! Its grammar is a subset of RFC 8941's Dictionary, and every value it accepts is one the
//! general path types without a leniency and without a drop, so both paths give equal reports
//! under either [`super::Policy`] (a property test in this module checks it on arbitrary
//! input). It gives up on: whitespace; parameters other than one flag per numeric-list member;
//! escapes, control and non-ASCII bytes; custom and unknown keys; a key sent twice (in this
//! payload, or in an earlier header of the same request), and any key dropped earlier; a value
//! the general path would drop or accept only leniently; empty payloads and empty lists.

use std::borrow::Cow;

use super::key::{Key, Kind};
use super::report::{Report, token_value};
use super::sf::{self, Decimal};
use super::transport::percent_decode_nor;
use super::value::{NextObject, ObjectType, Sample, Samples, Value};

/// Reads `payload` into `report` when the whole payload is in canonical shape (see the module
/// docs); returns whether it did. On `false` the report is as it was before the call.
pub(crate) fn read_into(report: &mut Report, payload: &[u8]) -> bool {
    if payload.is_empty() || report.has_dropped() {
        return false;
    }
    let mut added = 0u64;
    let mut pos = 0;
    let complete = loop {
        let Some((key, value, end)) = member(payload, pos) else { break false };
        if report.contains(key) {
            break false;
        }
        report.set(key, value);
        added |= 1 << (key as u32);
        match payload.get(end) {
            None => break true,
            Some(b',') if end + 1 < payload.len() => pos = end + 1,
            _ => break false,
        }
    };
    if !complete {
        let mut bits = added;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(&key) = Key::ALL.get(k) {
                report.remove(key);
            }
        }
    }
    complete
}

/// The member starting at `start`: its key, typed value and the position after it.
fn member(p: &[u8], start: usize) -> Option<(Key, Value, usize)> {
    let key_end = lowercase_end(p, start);
    let key = Key::from_name_bytes(p.get(start..key_end)?)?;
    let kind = key.info().kind;
    if p.get(key_end) != Some(&b'=') {
        // A bare key is the Boolean true (RFC 8941 §3.2).
        return (kind == Kind::Boolean).then_some((key, Value::Boolean(true), key_end));
    }
    let (value, end) = value(key, kind, p, key_end + 1)?;
    Some((key, value, end))
}

/// The value of `key` starting at `at`, typed as the general path types it; `None` outside the
/// canonical shape or where the general path would drop it or need a leniency.
fn value(key: Key, kind: Kind, p: &[u8], at: usize) -> Option<(Value, usize)> {
    let list = p.get(at) == Some(&b'(');
    Some(match kind {
        Kind::Integer => {
            let (n, end) = integer(p, at)?;
            if key == Key::V && n == 0 {
                return None; // out of range: dropped
            }
            (Value::Integer(n), end)
        }
        Kind::Decimal => decimal(p, at)?,
        Kind::Boolean => match p.get(at..at + 2)? {
            b"?1" => (Value::Boolean(true), at + 2),
            b"?0" => (Value::Boolean(false), at + 2),
            _ => return None,
        },
        Kind::String => {
            let (s, end) = string(p, at)?;
            if s.is_empty() || key.info().max_len.is_some_and(|max| s.len() > max) {
                return None; // dropped as empty or too long
            }
            (Value::String(s.to_owned()), end)
        }
        Kind::Token => {
            let end = lowercase_end(p, at);
            let token = std::str::from_utf8(p.get(at..end)?).ok()?;
            (token_value(key, token)?, end)
        }
        Kind::IntegerList if list => samples(p, at + 1)?,
        Kind::IntegerList => {
            let (n, end) = integer(p, at)?;
            (Value::Samples(Samples::one(n)), end)
        }
        Kind::StringList if list => {
            let (texts, end) = strings(p, at + 1)?;
            (Value::Strings(texts), end)
        }
        Kind::StringList => {
            let (s, end) = string(p, at)?;
            (Value::Strings(vec![s.to_owned()]), end)
        }
        // The inner-list form carries URLs as sent; the v1 String form is percent-decoded.
        Kind::NextObjects if list => {
            let (urls, end) = strings(p, at + 1)?;
            (Value::NextObjects(urls.into_iter().map(NextObject::new).collect()), end)
        }
        Kind::NextObjects => {
            let (s, end) = string(p, at)?;
            let url = percent_decode_nor(Cow::Borrowed(s));
            (Value::NextObjects(vec![NextObject::new(url)]), end)
        }
    })
}

/// The end of the run of `a`–`z` starting at `at`.
fn lowercase_end(p: &[u8], at: usize) -> usize {
    let run = p.get(at..).unwrap_or_default();
    at + run.iter().position(|b| !b.is_ascii_lowercase()).unwrap_or(run.len())
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
fn decimal(p: &[u8], at: usize) -> Option<(Value, usize)> {
    let (int, end) = integer(p, at)?;
    let int = i64::try_from(int).ok()?;
    if p.get(end) != Some(&b'.') {
        return Some((Value::Decimal(Decimal::from_integer(int)?), end));
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
    Some((Value::Decimal(Decimal::from_thousandths(int * 1000 + frac * scale)?), frac_end))
}

/// A String without escapes at `at`: its content and the position after the closing quote.
fn string(p: &[u8], at: usize) -> Option<(&str, usize)> {
    if p.get(at) != Some(&b'"') {
        return None;
    }
    let body = p.get(at + 1..)?;
    let len = body.iter().position(|&b| !sf::is_plain_string_byte(b))?;
    if body.get(len) != Some(&b'"') {
        return None; // an escape, a control or a non-ASCII byte
    }
    let text = std::str::from_utf8(body.get(..len)?).ok()?;
    Some((text, at + len + 2))
}

/// The members of an inner list of Strings without parameters, `at` just after its `(`; the
/// texts and the position after the `)`.
fn strings(p: &[u8], mut at: usize) -> Option<(Vec<String>, usize)> {
    let mut texts = Vec::new();
    loop {
        let (text, end) = string(p, at)?;
        texts.push(text.to_owned());
        match p.get(end) {
            Some(b' ') => at = end + 1,
            Some(b')') => return Some((texts, end + 1)),
            _ => return None,
        }
    }
}

/// A numeric list (`(3200;v 128;a)`), `at` just after its `(`: each member an Integer with at
/// most one flag parameter, which tags it when it names an object type.
fn samples(p: &[u8], mut at: usize) -> Option<(Value, usize)> {
    let mut first = None;
    let mut rest = Vec::new();
    loop {
        let (value, mut end) = integer(p, at)?;
        let mut object = None;
        if p.get(end) == Some(&b';') {
            let flag_end = lowercase_end(p, end + 1);
            let flag = p.get(end + 1..flag_end).filter(|f| !f.is_empty())?;
            object = ObjectType::from_token(std::str::from_utf8(flag).ok()?);
            end = flag_end;
        }
        let sample = Sample { value, object };
        if first.is_none() {
            first = Some(sample);
        } else {
            rest.push(sample);
        }
        match p.get(end) {
            Some(b' ') => at = end + 1,
            Some(b')') => {
                let samples = if rest.is_empty() {
                    Samples::single(first?)
                } else {
                    rest.insert(0, first?);
                    Samples::new(rest)
                };
                return Some((Value::Samples(samples), end + 1));
            }
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
        "nrr=\"0-99\"",
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
