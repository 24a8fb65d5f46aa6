//! Conformance checks for player engineers: everything a strict receiver would drop, plus what
//! CTA-5004 says a sender MUST or SHOULD do — shard placement, rounding, string lengths, key
//! order, value shapes per version, event-mode requirements, query encoding.
//!
//! The decoders never need this; it is for `smd-cli cmcd validate` and test suites. It does not
//! judge semantics a single payload cannot show (e.g. whether `bs` follows a real stall, or
//! whether `sn` increments).

use std::borrow::Cow;

use super::error::Error;
use super::key::{Key, Kind, Shard, is_custom_key};
use super::report::{Policy, Report};
use super::sf::{self, BareItem, Decimal, Member};
use super::transport::{MAX_BODY_LEN, MAX_PAYLOAD_LEN, percent_decode, query_payload};
use super::value::{EventType, ObjectType, StreamType, StreamingFormat, Value, Version};

/// How serious an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A receiver drops the key or the payload, or a MUST is violated.
    Error,
    /// A SHOULD is violated or data is likely wrong.
    Warning,
    /// Valid but not canonical.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// Which reporting mode a payload belongs to (CTA-5004-B §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Request mode: query argument or headers on a media request.
    #[default]
    Request,
    /// Event mode: records of a POST body.
    Event,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Issue {
    /// How serious.
    pub severity: Severity,
    /// Stable machine-readable code: `syntax`, `too_large`, `unsupported_version`, a
    /// [`super::DropReason`] code (`wrong_type`, `invalid_token`, `too_long`, `empty`,
    /// `out_of_range`), `unknown_key`, `custom_value_type`, `duplicate_key`, `key_order`,
    /// `wrong_shard`, `event_only_key`, `not_in_version`, `token_not_in_version`,
    /// `scalar_for_list`, `list_in_v1`, `not_rounded`, `false_boolean`, `default_value`,
    /// `redundant_version`, `missing_key`, `response_key_without_rr`, `duration_for_object_type`,
    /// `nor_not_encoded`, `query_not_encoded`, `double_encoded_query`, `no_cmcd`.
    pub code: &'static str,
    /// The key concerned, if any.
    pub key: Option<String>,
    /// Human-readable explanation.
    pub message: String,
    /// Byte offset for syntax errors.
    pub offset: Option<usize>,
    /// Index of the body record (event mode), if any.
    pub record: Option<usize>,
}

impl Issue {
    fn new(
        severity: Severity,
        code: &'static str,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            code,
            key: key.map(str::to_owned),
            message: message.into(),
            offset: None,
            record: None,
        }
    }
}

/// Whether any issue has [`Severity::Error`].
pub fn has_errors(issues: &[Issue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Error)
}

struct Payload<'a> {
    bytes: Cow<'a, [u8]>,
    shard: Option<Shard>,
}

fn error_issue(e: &Error) -> Issue {
    let mut issue = Issue::new(Severity::Error, e.code(), None, e.to_string());
    issue.offset = e.offset();
    issue
}

fn check(payloads: &[Payload<'_>], mode: Mode, out: &mut Vec<Issue>) {
    // 1. Syntax, size, raw members (duplicates included).
    let mut raw: Vec<(Option<Shard>, &str, Member<'_>)> = Vec::new();
    for p in payloads {
        if p.bytes.len() > MAX_PAYLOAD_LEN {
            out.push(error_issue(&Error::TooLarge { len: p.bytes.len(), limit: MAX_PAYLOAD_LEN }));
            return;
        }
        let start = raw.len();
        if let Err(e) = sf::parse_members(&p.bytes, |k, m| raw.push((p.shard, k, m))) {
            out.push(error_issue(&Error::Syntax(e)));
            return;
        }
        let names: Vec<&str> =
            raw.get(start..).unwrap_or_default().iter().map(|(_, k, _)| *k).collect();
        if names.windows(2).any(|w| matches!(w, [a, b] if a > b)) {
            out.push(Issue::new(
                Severity::Info,
                "key_order",
                None,
                "keys are not in alphabetical order (CTA-5004-B §4.1 recommends it against fingerprinting)",
            ));
        }
    }
    for (i, (_, k, _)) in raw.iter().enumerate() {
        if raw.get(..i).unwrap_or_default().iter().any(|(_, prev, _)| prev == k) {
            out.push(Issue::new(
                Severity::Warning,
                "duplicate_key",
                Some(k),
                format!("`{k}` is sent more than once; receivers keep the last value"),
            ));
        }
    }

    // 2. Strict typing.
    let mut report = Report::new();
    for (_, name, member) in &raw {
        report.absorb_member(name, member.clone(), Policy::Strict, false);
    }
    let report = match report.finish() {
        Ok(r) => r,
        Err(e) => {
            out.push(error_issue(&e));
            return;
        }
    };
    for d in report.dropped() {
        out.push(Issue::new(
            Severity::Error,
            d.reason().code(),
            Some(d.key()),
            format!("`{}` is ignored by receivers: {}", d.key(), d.reason()),
        ));
    }
    let version = report.version();

    // 3. Per raw member: registry placement and shapes.
    for (shard, name, member) in &raw {
        let Some(key) = Key::from_name(name) else {
            if is_custom_key(name) {
                check_custom(name, member, out);
            } else {
                out.push(Issue::new(
                    Severity::Warning,
                    "unknown_key",
                    Some(name),
                    format!("`{name}` is neither a CMCD key nor a custom key (`com.example-{name}`); receivers ignore it"),
                ));
            }
            continue;
        };
        let info = key.info();
        if info.event_only && mode == Mode::Request {
            out.push(Issue::new(
                Severity::Error,
                "event_only_key",
                Some(name),
                format!("`{name}` is only allowed in event mode"),
            ));
        } else if !info.in_version(version) {
            let hint = if version == Version::V1 { "; add v=2" } else { "" };
            out.push(Issue::new(
                Severity::Warning,
                "not_in_version",
                Some(name),
                format!("`{name}` is not defined in CMCD v{}{hint}", version.number()),
            ));
        }
        if let (Some(got), Some(want)) = (shard, info.shard(version))
            && *got != want
        {
            out.push(Issue::new(
                Severity::Warning,
                "wrong_shard",
                Some(name),
                format!(
                    "`{name}` belongs in {} for v{}, not {}",
                    want.header_name(),
                    version.number(),
                    got.header_name()
                ),
            ));
        }
        let is_list_kind =
            matches!(info.kind, Kind::IntegerList | Kind::StringList | Kind::NextObjects);
        match (version, member, is_list_kind) {
            (Version::V2, Member::Item(_), true) if info.in_v2 => out.push(Issue::new(
                Severity::Warning,
                "scalar_for_list",
                Some(name),
                format!(
                    "`{name}` must use inner-list syntax in v2, even for one value: {name}=(…)"
                ),
            )),
            (Version::V1, Member::InnerList(_), true) if info.in_v1 => out.push(Issue::new(
                Severity::Warning,
                "list_in_v1",
                Some(name),
                format!("`{name}` is a single value in v1; inner lists need v=2"),
            )),
            _ => {}
        }
        if let (Key::Nor, Member::Item(sf::Item { bare: BareItem::String(s), .. })) = (key, member)
            && s.bytes().any(|b| !b.is_ascii_alphanumeric() && !b"-_.!~*'()%".contains(&b))
        {
            out.push(Issue::new(
                Severity::Warning,
                "nor_not_encoded",
                Some(name),
                "a v1 `nor` string must itself be URL-encoded (e.g. `/` as %2F)",
            ));
        }
        if let (Version::V1, Member::Item(sf::Item { bare: BareItem::Boolean(false), .. })) =
            (version, member)
        {
            out.push(Issue::new(
                Severity::Warning,
                "false_boolean",
                Some(name),
                format!("`{name}` must not be sent when false in v1; omit it"),
            ));
        }
    }

    // 4. Typed values.
    check_values(&report, version, mode, out);
}

fn check_custom(name: &str, member: &Member<'_>, out: &mut Vec<Issue>) {
    match member {
        Member::Item(sf::Item { bare: BareItem::String(s) | BareItem::Token(s), .. }) => {
            if s.len() > 64 {
                out.push(Issue::new(
                    Severity::Warning,
                    "too_long",
                    Some(name),
                    format!("custom key `{name}` is longer than 64 characters"),
                ));
            }
        }
        _ => out.push(Issue::new(
            Severity::Warning,
            "custom_value_type",
            Some(name),
            format!("custom key `{name}` should carry a String or Token"),
        )),
    }
}

fn check_values(report: &Report, version: Version, mode: Mode, out: &mut Vec<Issue>) {
    for (key, value) in report.iter() {
        let name = key.name();
        if let Some(step) = key.info().round_to {
            let values: Vec<u64> = match value {
                Value::Integer(n) => vec![*n],
                Value::Samples(s) => s.iter().map(|s| s.value).collect(),
                _ => Vec::new(),
            };
            if values.iter().any(|v| v % step != 0) {
                out.push(Issue::new(
                    Severity::Warning,
                    "not_rounded",
                    Some(name),
                    format!("`{name}` must be rounded to the nearest {step}"),
                ));
            }
        }
    }
    if version == Version::V1 {
        if let Some(cid) = report.cid().filter(|c| c.len() > 64) {
            out.push(Issue::new(
                Severity::Error,
                "too_long",
                Some("cid"),
                format!("`cid` is limited to 64 characters in v1 (got {})", cid.len()),
            ));
        }
        if report.sf() == Some(StreamingFormat::Hesp) || report.st() == Some(StreamType::LowLatency)
        {
            let key = if report.sf() == Some(StreamingFormat::Hesp) { "sf" } else { "st" };
            out.push(Issue::new(
                Severity::Warning,
                "token_not_in_version",
                Some(key),
                format!("this `{key}` token was added in v2; add v=2"),
            ));
        }
    }
    if report.v() == Some(1) {
        out.push(Issue::new(
            Severity::Info,
            "redundant_version",
            Some("v"),
            "`v` should be omitted for version 1",
        ));
    }
    if report.pr() == Some(Decimal::ONE) && report.e() != Some(EventType::PlaybackRate) {
        out.push(Issue::new(
            Severity::Info,
            "default_value",
            Some("pr"),
            "`pr` should only be sent when it is not 1",
        ));
    }
    if let (Some(_), Some(ot)) = (report.d(), report.ot())
        && matches!(ot, ObjectType::Manifest | ObjectType::Init | ObjectType::Key)
    {
        out.push(Issue::new(
            Severity::Info,
            "duration_for_object_type",
            Some("d"),
            format!("`d` is meaningless for ot={ot}"),
        ));
    }
    if mode == Mode::Event {
        let mut require = |present: bool, key: &str, why: &str| {
            if !present {
                out.push(Issue::new(
                    Severity::Error,
                    "missing_key",
                    Some(key),
                    format!("`{key}` is required {why}"),
                ));
            }
        };
        require(report.v() == Some(2), "v", "(v=2) in event mode");
        require(report.e().is_some(), "e", "on every event report");
        require(report.ts().is_some(), "ts", "on every event report");
        match report.e() {
            Some(EventType::Custom) => require(report.cen().is_some(), "cen", "when e=ce"),
            Some(EventType::Error) => require(report.ec().is_some(), "ec", "when e=e"),
            Some(EventType::PlayState) => require(report.sta().is_some(), "sta", "when e=ps"),
            Some(EventType::ResponseReceived) => {
                require(report.url().is_some(), "url", "when e=rr")
            }
            _ => {}
        }
        if report.e() != Some(EventType::ResponseReceived) {
            for key in [
                Key::Cmsdd,
                Key::Cmsds,
                Key::Rc,
                Key::Smrt,
                Key::Ttfb,
                Key::Ttfbb,
                Key::Ttlb,
                Key::Url,
            ] {
                if report.get(key).is_some() {
                    out.push(Issue::new(
                        Severity::Warning,
                        "response_key_without_rr",
                        Some(key.name()),
                        format!("`{key}` is only meaningful on e=rr reports"),
                    ));
                }
            }
        }
    }
}

/// Checks one bare dictionary (a header value or a body record) in the given mode.
pub fn validate_dict(input: &str, mode: Mode) -> Vec<Issue> {
    let mut out = Vec::new();
    check(&[Payload { bytes: Cow::Borrowed(input.as_bytes()), shard: None }], mode, &mut out);
    out
}

/// Checks the `CMCD=` argument of a query string: encoding, then the payload in request mode.
pub fn validate_query(query: &str) -> Vec<Issue> {
    let mut out = Vec::new();
    let Some(raw) = query_payload(query) else {
        out.push(Issue::new(Severity::Info, "no_cmcd", None, "no CMCD argument in the query"));
        return out;
    };
    if raw.len() > MAX_PAYLOAD_LEN {
        out.push(error_issue(&Error::TooLarge { len: raw.len(), limit: MAX_PAYLOAD_LEN }));
        return out;
    }
    if raw.bytes().any(|b| matches!(b, b'=' | b',' | b'"' | b' ' | b';')) {
        out.push(Issue::new(
            Severity::Warning,
            "query_not_encoded",
            None,
            "the CMCD argument value must be percent-encoded",
        ));
    }
    let once = percent_decode(raw.as_bytes(), true);
    if sf::parse_dictionary_bytes(&once).is_err() && once.contains(&b'%') {
        let twice = percent_decode(&once, true).into_owned();
        if sf::parse_dictionary_bytes(&twice).is_ok() {
            out.push(Issue::new(
                Severity::Error,
                "double_encoded_query",
                None,
                "the payload is percent-encoded twice; strict receivers reject it",
            ));
            return out;
        }
    }
    check(&[Payload { bytes: once, shard: None }], Mode::Request, &mut out);
    out
}

/// Checks a set of request headers: shard placement, then the merged payload in request mode.
pub fn validate_headers<I, N, V>(headers: I) -> Vec<Issue>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let payloads: Vec<Payload<'_>> = headers
        .into_iter()
        .filter_map(|(n, v)| {
            let shard = Shard::from_header_name(n.as_ref().trim())?;
            Some(Payload { bytes: Cow::Owned(v.as_ref().as_bytes().to_vec()), shard: Some(shard) })
        })
        .collect();
    let mut out = Vec::new();
    if payloads.is_empty() {
        out.push(Issue::new(Severity::Info, "no_cmcd", None, "no CMCD-* header"));
        return out;
    }
    check(&payloads, Mode::Request, &mut out);
    out
}

/// Checks an event-mode body, record by record ([`Issue::record`] says which).
pub fn validate_body(body: &str) -> Vec<Issue> {
    let mut out = Vec::new();
    if body.len() > MAX_BODY_LEN {
        out.push(error_issue(&Error::TooLarge { len: body.len(), limit: MAX_BODY_LEN }));
        return out;
    }
    for (i, line) in body
        .split('\n')
        .map(|l| l.trim_end_matches('\r').trim_matches(' '))
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let mut issues = Vec::new();
        check(
            &[Payload { bytes: Cow::Borrowed(line.as_bytes()), shard: None }],
            Mode::Event,
            &mut issues,
        );
        out.extend(issues.into_iter().map(|mut issue| {
            issue.record = Some(i);
            issue
        }));
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn codes(issues: &[Issue]) -> Vec<&'static str> {
        issues.iter().map(|i| i.code).collect()
    }

    #[test]
    fn v1_header_shards_and_rounding() {
        let issues = validate_headers([
            ("CMCD-Session", "pr=1.08,sid=\"s\""),
            ("CMCD-Request", "bl=21345,mtp=(100)"),
        ]);
        assert_eq!(codes(&issues), ["list_in_v1", "not_rounded"]);
        let issues = validate_headers([("CMCD-Session", "pr=1.08,v=2")]);
        assert_eq!(codes(&issues), ["wrong_shard"]);
    }

    #[test]
    fn event_requirements() {
        assert_eq!(codes(&validate_body("e=ps,ts=1,v=2")), ["missing_key"]);
        assert_eq!(codes(&validate_body("e=t,ts=1764752400000,v=2")), Vec::<&str>::new());
        assert_eq!(
            codes(&validate_dict("e=t,ts=1,v=2", Mode::Request)),
            ["event_only_key", "event_only_key"]
        );
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            codes(&validate_query("CMCD=bl%253D20200%252Cbr%253D6000")),
            ["double_encoded_query"]
        );
        assert_eq!(codes(&validate_query("CMCD=ot=i,sid=\"x\"")), ["query_not_encoded"]);
        assert_eq!(codes(&validate_query("CMCD=su%3Dtrue")), ["wrong_type"]);
    }
}
