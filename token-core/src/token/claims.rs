//! The strict profile's typed claims, and how a payload becomes them.
//!
//! [`Claims::parse`] has two paths with one meaning. `serde_json` with the derived `Deserialize`
//! is the definition: strict types, a repeated known claim rejected, unknown claims ignored. In
//! front of it sits a scanner for the JSON that generators actually write (`JSON.stringify`
//! output: no whitespace, no escapes, integers, strings, arrays of strings), which builds the same
//! value several times faster in WebAssembly (measured in Node: ~590 ns per SMD payload through
//! `serde_json`). The scanner never decides a case it is not sure of: on anything else (an escape,
//! whitespace, a float, a nested value in an unknown claim, a repeated claim, a type serde would
//! reject) it gives up and `serde_json` parses the payload from the start, so the outcome is
//! always `serde_json`'s. A property test checks that they agree wherever the scanner answers.
//!
//! This module does not validate claim values beyond their JSON types (times, paths and bindings
//! are checked by `strict`).

use std::borrow::Cow;

use serde::Deserialize;

/// The claims, strictly typed. serde rejects a repeated known claim ("duplicate field").
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Claims<'a> {
    #[serde(default)]
    pub(crate) ip: bool,
    #[serde(default)]
    pub(crate) co: bool,
    #[serde(default)]
    pub(crate) cty: bool,
    #[serde(default)]
    pub(crate) reg: bool,
    #[serde(default)]
    pub(crate) ssn: bool,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    #[serde(borrow, default)]
    pub(crate) headers: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) qs: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) intsig: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) paths: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    pub(crate) exc: Vec<Cow<'a, str>>,
    pub(crate) ip_ver: Option<u8>,
    #[serde(default)]
    pub(crate) co_fallback: bool,
    #[serde(default)]
    pub(crate) reg_fallback: bool,
}

impl<'a> Claims<'a> {
    /// The claims of a JWS payload (the decoded JSON bytes).
    ///
    /// # Errors
    /// `serde_json`'s error when the payload is not a JSON object of correctly typed claims.
    pub(crate) fn parse(payload: &'a [u8]) -> Result<Self, serde_json::Error> {
        match Scanner::scan(payload) {
            Some(claims) => Ok(claims),
            None => serde_json::from_slice(payload),
        }
    }
}

/// The fast path. Every method returns `None` for "not sure": the caller then asks `serde_json`.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

/// Which known claims were seen (one bit each), to leave a repeated one to serde, which rejects
/// it.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn first(&mut self, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        let fresh = self.0 & mask == 0;
        self.0 |= mask;
        fresh.then_some(())
    }
}

impl<'a> Scanner<'a> {
    fn scan(payload: &'a [u8]) -> Option<Claims<'a>> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut s = Scanner { text, pos: 0 };
        let mut claims = Claims::default();
        let mut seen = Seen::default();
        s.eat(b'{')?;
        if s.peek()? == b'}' {
            s.pos += 1;
        } else {
            loop {
                let key = s.string()?;
                s.eat(b':')?;
                s.claim(key, &mut claims, &mut seen)?;
                match s.next()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        // Nothing may follow the object (serde would reject trailing characters; whitespace is
        // left to serde too).
        (s.pos == text.len()).then_some(claims)
    }

    fn claim(&mut self, key: &'a str, claims: &mut Claims<'a>, seen: &mut Seen) -> Option<()> {
        let bit = match key {
            "ip" => (claims.ip = self.boolean()?, 0).1,
            "co" => (claims.co = self.boolean()?, 1).1,
            "cty" => (claims.cty = self.boolean()?, 2).1,
            "reg" => (claims.reg = self.boolean()?, 3).1,
            "ssn" => (claims.ssn = self.boolean()?, 4).1,
            "exp" => (claims.exp = self.nullable(Self::integer)?, 5).1,
            "nbf" => (claims.nbf = self.nullable(Self::integer)?, 6).1,
            "headers" => (claims.headers = self.strings()?, 7).1,
            "qs" => (claims.qs = self.strings()?, 8).1,
            "intsig" => (claims.intsig = self.nullable(|s| s.string().map(Cow::from))?, 9).1,
            "paths" => (claims.paths = self.nullable(Self::strings)?, 10).1,
            "exc" => (claims.exc = self.strings()?, 11).1,
            "ip_ver" => {
                let version = self.nullable(|s| s.integer().and_then(|n| u8::try_from(n).ok()))?;
                (claims.ip_ver = version, 12).1
            }
            "co_fallback" => (claims.co_fallback = self.boolean()?, 13).1,
            "reg_fallback" => (claims.reg_fallback = self.boolean()?, 14).1,
            // An unknown claim (SMD writes `iat`): skipped when it is a simple value.
            _ => {
                return match self.peek()? {
                    b'"' => self.string().map(drop),
                    b't' | b'f' => self.boolean().map(drop),
                    b'n' => self.literal("null"),
                    _ => self.integer().map(drop),
                };
            }
        };
        seen.first(bit)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if !self.text.get(self.pos..)?.starts_with(word) {
            return None;
        }
        self.pos += word.len();
        Some(())
    }

    fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| true),
            b'f' => self.literal("false").map(|()| false),
            _ => None,
        }
    }

    /// `null` as `None`, else `value`.
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal("null").map(|()| None)
        } else {
            value(self).map(Some)
        }
    }

    /// An integer without leading zeros, sign `-` allowed, at most 18 digits (so it fits an
    /// `i64` without overflow checks); a fraction or exponent is left to serde.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value * 10 + i64::from(digit - b'0');
            self.pos += 1;
            if self.pos - start > 18 {
                return None;
            }
        }
        let digits = self.pos - start;
        let leading_zero = digits > 1 && self.text.as_bytes().get(start) == Some(&b'0');
        // serde_json reads `-0` as a float, which no integer claim accepts.
        let negative_zero = negative && value == 0;
        if digits == 0
            || leading_zero
            || negative_zero
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        Some(if negative { -value } else { value })
    }

    /// A string without escapes or control characters, borrowed from the payload.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = self.text.as_bytes().get(self.pos..)?;
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        let body = rest.get(..len)?;
        if rest.get(len) != Some(&b'"') || body.iter().any(|b| *b < 0x20) {
            return None;
        }
        let out = self.text.get(self.pos..self.pos + len)?;
        self.pos += len + 1;
        Some(out)
    }

    /// An array of such strings.
    fn strings(&mut self) -> Option<Vec<Cow<'a, str>>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(out);
        }
        loop {
            out.push(Cow::Borrowed(self.string()?));
            match self.next()? {
                b',' => {}
                b']' => return Some(out),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SMD: &str = r#"{"ip":false,"co":false,"cty":false,"reg":false,"ssn":true,"exp":1700021600,"headers":["user-agent","referer"],"qs":[],"intsig":"ytZyBF8VvmshU9rdybF1S_RwEefGNR5z3yqUgHF4ekU","paths":["/out/v1/8c0f6e2b4d1a4f3e9b7c5a2d1e0f9a8b/","/v1/master/1a2b3c/live-1/"],"exc":["/ads/"],"nbf":1645000000,"iat":1700000000}"#;

    fn serde(payload: &str) -> Option<Claims<'_>> {
        serde_json::from_str(payload).ok()
    }

    #[test]
    fn generator_output_takes_the_fast_path_and_matches_serde() {
        let fast = Scanner::scan(SMD.as_bytes()).expect("the scanner handles SMD's output");
        assert_eq!(Some(&fast), serde(SMD).as_ref());
        assert_eq!(fast.headers, ["user-agent", "referer"]);
        assert_eq!(fast.exp, Some(1_700_021_600));
        let ipv6 = r#"{"ip":true,"ip_ver":6,"exp":-5,"paths":null,"intsig":null,"x":"y","n":null}"#;
        assert_eq!(Scanner::scan(ipv6.as_bytes()), serde(ipv6));
        assert!(Scanner::scan(ipv6.as_bytes()).is_some());
    }

    #[test]
    fn unsure_cases_are_left_to_serde() {
        for payload in [
            r#"{"exp":1,"exp":2}"#,
            r#"{ "exp":1}"#,
            r#"{"exp":1} "#,
            r#"{"exp":1.0}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":01}"#,
            r#"{"exp":12345678901234567890}"#,
            r#"{"ip_ver":256}"#,
            r#"{"headers":null}"#,
            r#"{"headers":["a\"b"]}"#,
            r#"{"\u0065xp":1}"#,
            r#"{"x":[1]}"#,
            r#"{"x":{}}"#,
            r#"{"ssn":1}"#,
            "{\"paths\":[\"a\tb\"]}",
            r#"{"exp":1}x"#,
            r#"[]"#,
            r#"{"exp":1,}"#,
        ] {
            assert_eq!(Scanner::scan(payload.as_bytes()), None, "{payload}");
        }
        // …and serde still decides them: some are fine, some are errors.
        assert_eq!(Claims::parse(br#"{ "exp":1}"#).unwrap().exp, Some(1));
        assert_eq!(Claims::parse(br#"{"\u0065xp":1}"#).unwrap().exp, Some(1));
        assert!(Claims::parse(br#"{"exp":1,"exp":2}"#).is_err());
        assert!(Claims::parse(br#"{"exp":1.5}"#).is_err());
    }

    const KEYS: &[&str] = &[
        "ip",
        "co",
        "cty",
        "reg",
        "ssn",
        "exp",
        "nbf",
        "headers",
        "qs",
        "intsig",
        "paths",
        "exc",
        "ip_ver",
        "co_fallback",
        "reg_fallback",
        "iat",
        "x",
        "\\u0065xp",
        "",
    ];
    const VALUES: &[&str] = &[
        "true",
        "false",
        "null",
        "0",
        "-0",
        "7",
        "-12",
        "255",
        "256",
        "01",
        "1.5",
        "1e2",
        "-",
        "123456789012345678",
        "1234567890123456789",
        "\"\"",
        "\"a/b\"",
        "\"é\"",
        "\"a\\nb\"",
        "[]",
        "[\"a\"]",
        "[\"a\",\"b\"]",
        "[1]",
        "[\"a\",]",
        "{}",
        "[null]",
        "tru",
        "\"\t\"",
    ];

    /// Every claim with every value, alone and next to each of a few others: the scanner's
    /// answer, when it gives one, is serde's.
    #[test]
    fn scanner_agrees_with_serde_on_every_key_and_value_pair() {
        let mut answered = 0;
        for key in KEYS {
            for value in VALUES {
                for other in
                    ["", r#","exp":5"#, r#","ip":true"#, r#","x":1"#, r#","paths":["/a/"]"#]
                {
                    let payload = format!("{{\"{key}\":{value}{other}}}");
                    if let Some(fast) = Scanner::scan(payload.as_bytes()) {
                        assert_eq!(Some(fast), serde(&payload), "{payload}");
                        answered += 1;
                    }
                    assert_eq!(
                        Claims::parse(payload.as_bytes()).ok(),
                        serde(&payload),
                        "{payload}"
                    );
                }
            }
        }
        // The fast path really ran on a good share of the cases.
        assert!(answered > 300, "{answered}");
    }

    /// Claim-shaped JSON built from pieces that are valid, invalid and in between.
    fn payload() -> impl Strategy<Value = String> {
        let key = prop::sample::select(KEYS.to_vec());
        let value = prop::sample::select(VALUES.to_vec());
        let sep = prop::sample::select(vec![",", ",", ",", ",", " ,", ""]);
        prop::collection::vec((key, value, sep), 0..6).prop_map(|fields| {
            let mut out = String::from("{");
            let count = fields.len();
            for (i, (key, value, sep)) in fields.into_iter().enumerate() {
                out.push_str(&format!("\"{key}\":{value}"));
                if i + 1 < count {
                    out.push_str(sep);
                }
            }
            out.push('}');
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn scanner_agrees_with_serde_whenever_it_answers(payload in payload()) {
            if let Some(fast) = Scanner::scan(payload.as_bytes()) {
                prop_assert_eq!(Some(fast), serde(&payload), "{}", payload);
            }
            let parsed = Claims::parse(payload.as_bytes()).ok();
            prop_assert_eq!(parsed, serde(&payload));
        }
    }
}
