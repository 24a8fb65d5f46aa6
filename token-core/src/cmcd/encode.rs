//! The canonical encoder (CTA-5004-B §4; CTA-5004 §3.2): keys in alphabetical order, `true`
//! booleans as bare keys, `false` booleans omitted, `pr` omitted at 1.0, `bl`/`dl`/`tbl` rounded
//! to 100 ms and `mtp`/`rtp` to 100 kbps (half up), and the v1 or v2 value shapes.
//!
//! [`Version::V1`] writes only v1 keys (plus custom keys): numeric lists become one scalar (the
//! member tagged with the report's `ot`, else the first), `nor` becomes one percent-encoded
//! String and its range moves to `nrr`. [`Version::V2`] writes v2 keys with list syntax even for
//! one member, `nor` as a list with `r` parameters (an `nrr` becomes the first member's `r`), and
//! always `v=2`.
//!
//! Does not: write unknown keys (they are not CMCD), write `bg=?0` except on an `e=b` report,
//! or write event-only keys into headers (they have no shard).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::key::{Key, Shard};
use super::report::Report;
use super::sf::{self, BareItem, Decimal, Dictionary, InnerList, Item, Member};
use super::value::{EventType, Samples, Value, Version};

fn round(key: Key, n: u64) -> i64 {
    let n = match key.info().round_to {
        Some(step) if step > 0 => {
            let up = n.saturating_add(step / 2) / step * step;
            if up > sf::MAX_INTEGER.unsigned_abs() { up.saturating_sub(step) } else { up }
        }
        _ => n,
    };
    i64::try_from(n).unwrap_or(sf::MAX_INTEGER)
}

fn token(t: &'static str) -> Member<'static> {
    Member::Item(Item::new(BareItem::Token(Cow::Borrowed(t))))
}

fn string(s: &str) -> Member<'_> {
    Member::Item(Item::new(BareItem::String(Cow::Borrowed(s))))
}

/// Characters `encodeURIComponent` leaves alone (ECMA-262 §19.2.6.5): the form players use.
fn uri_component_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

/// Percent-encodes everything but the `encodeURIComponent` unreserved set, hex in upper case.
pub(crate) fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if uri_component_safe(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn samples_member(
    key: Key,
    samples: &Samples,
    report: &Report,
    version: Version,
) -> Option<Member<'static>> {
    match version {
        Version::V1 => {
            let ot = report.ot();
            let pick = samples
                .iter()
                .find(|s| ot.is_some() && s.object == ot)
                .or_else(|| samples.iter().next())?;
            Some(Member::Item(Item::new(BareItem::Integer(round(key, pick.value)))))
        }
        Version::V2 => Some(Member::InnerList(InnerList {
            items: samples
                .iter()
                .map(|s| Item {
                    bare: BareItem::Integer(round(key, s.value)),
                    params: s
                        .object
                        .map(|o| (Cow::Borrowed(o.as_str()), BareItem::Boolean(true)))
                        .into_iter()
                        .collect(),
                })
                .collect(),
            params: Vec::new(),
        })),
    }
}

/// The Structured Field dictionary the canonical encoding of `report` serializes, keys in
/// alphabetical order. Strings borrow from the report.
pub fn to_dictionary(report: &Report, version: Version) -> Dictionary<'_> {
    let mut members: Vec<(Cow<'_, str>, Member<'_>)> = Vec::with_capacity(report.len() + 2);
    let event = report.e();
    let mut derived_nrr = None;
    for (key, value) in report.iter() {
        let info = key.info();
        if key == Key::V || !info.in_version(version) {
            continue;
        }
        let member = match value {
            Value::Boolean(true) => Member::Item(Item::new(BareItem::Boolean(true))),
            Value::Boolean(false) => {
                if key == Key::Bg
                    && event == Some(EventType::Backgrounded)
                    && version == Version::V2
                {
                    Member::Item(Item::new(BareItem::Boolean(false)))
                } else {
                    continue;
                }
            }
            Value::Integer(n) => Member::Item(Item::new(BareItem::Integer(round(key, *n)))),
            Value::Decimal(d) => {
                if key == Key::Pr && *d == Decimal::ONE && event != Some(EventType::PlaybackRate) {
                    continue;
                }
                Member::Item(Item::new(BareItem::Decimal(*d)))
            }
            Value::String(s) => string(s),
            Value::ObjectType(t) => token(t.as_str()),
            Value::StreamingFormat(t) => token(t.as_str()),
            Value::StreamType(t) => token(t.as_str()),
            Value::PlayerState(t) => token(t.as_str()),
            Value::EventType(t) => token(t.as_str()),
            Value::Samples(s) => match samples_member(key, s, report, version) {
                Some(m) => m,
                None => continue,
            },
            Value::Strings(list) => Member::InnerList(InnerList {
                items: list
                    .iter()
                    .map(|s| Item::new(BareItem::String(Cow::Borrowed(s.as_str()))))
                    .collect(),
                params: Vec::new(),
            }),
            Value::NextObjects(list) => match version {
                Version::V1 => {
                    let Some(first) = list.first() else { continue };
                    // An empty v2 range has no v1 form: `nrr` must not be empty (a decoder
                    // drops `nrr=""`).
                    derived_nrr = first.range.as_deref().filter(|r| !r.is_empty());
                    Member::Item(Item::new(BareItem::String(Cow::Owned(encode_uri_component(
                        &first.url,
                    )))))
                }
                Version::V2 => Member::InnerList(InnerList {
                    items: list
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let range = n
                                .range
                                .as_deref()
                                .or_else(|| if i == 0 { report.nrr() } else { None });
                            Item {
                                bare: BareItem::String(Cow::Borrowed(n.url.as_str())),
                                params: range
                                    .map(|r| {
                                        (Cow::Borrowed("r"), BareItem::String(Cow::Borrowed(r)))
                                    })
                                    .into_iter()
                                    .collect(),
                            }
                        })
                        .collect(),
                    params: Vec::new(),
                }),
            },
        };
        members.push((Cow::Borrowed(key.name()), member));
    }
    if version == Version::V1
        && report.nrr().is_none()
        && let Some(r) = derived_nrr
    {
        members.push((Cow::Borrowed("nrr"), string(r)));
    }
    if version == Version::V2 {
        members.push((Cow::Borrowed("v"), Member::Item(Item::new(BareItem::Integer(2)))));
    }
    for (name, member) in report.custom() {
        members.push((Cow::Borrowed(name), member.clone()));
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let mut dict = Dictionary::new();
    for (k, m) in members {
        dict.insert(k, m);
    }
    dict
}

fn write_dict<'a>(out: &mut String, members: impl Iterator<Item = (&'a str, &'a Member<'a>)>) {
    let mut scratch = String::new();
    for (key, member) in members {
        scratch.clear();
        // Every value in a Report is representable, so this cannot fail; a member that did
        // would be skipped rather than corrupt the output.
        if sf::is_valid_key(key) && sf::write_member_value(&mut scratch, member).is_ok() {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(key);
            out.push_str(&scratch);
        }
    }
}

/// Encodes a report as a bare dictionary (a header value or a body record).
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, Policy, Version};
///
/// let report = cmcd::decode_dict("sid=\"s\",bl=21345,br=(3000;v 128;a),ot=a,su=?1", Policy::Strict)?;
/// assert_eq!(cmcd::encode(&report, Version::V1), "bl=21300,br=128,ot=a,sid=\"s\",su");
/// assert_eq!(cmcd::encode(&report, Version::V2), "bl=(21300),br=(3000;v 128;a),ot=a,sid=\"s\",su,v=2");
/// # Ok::<(), cmcd::Error>(())
/// ```
pub fn encode(report: &Report, version: Version) -> String {
    let dict = to_dictionary(report, version);
    let mut out = String::new();
    write_dict(&mut out, dict.iter());
    out
}

/// Encodes a report as a query argument, `CMCD=` followed by the percent-encoded dictionary
/// (`encodeURIComponent` style, as players send it); `""` when there is nothing to send.
pub fn encode_query(report: &Report, version: Version) -> String {
    let dict = encode(report, version);
    if dict.is_empty() { String::new() } else { format!("CMCD={}", encode_uri_component(&dict)) }
}

/// Encodes a report as header shards (CTA-5004-B §2.1), in [`Shard::ALL`] order, omitting empty
/// shards. Custom keys go to `CMCD-Request`; event-only keys are not written.
pub fn encode_headers(report: &Report, version: Version) -> Vec<(Shard, String)> {
    let dict = to_dictionary(report, version);
    Shard::ALL
        .into_iter()
        .filter_map(|shard| {
            let mut out = String::new();
            write_dict(
                &mut out,
                dict.iter().filter(|(name, _)| match Key::from_name(name) {
                    Some(key) => key.info().shard(version) == Some(shard),
                    None => shard == Shard::Request,
                }),
            );
            (!out.is_empty()).then_some((shard, out))
        })
        .collect()
}

/// Encodes reports as an event-mode body (CTA-5004-B §3.3): one record per line, LF-separated,
/// no trailing LF.
pub fn encode_body(reports: &[Report], version: Version) -> String {
    let mut out = String::new();
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&encode(report, version));
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Found by fuzzing (`cmcd_roundtrip`): a v2 `nor` whose `r` parameter is empty wrote
    /// `nrr=""` in v1, which a strict decoder drops.
    #[test]
    fn an_empty_v2_range_writes_no_v1_nrr() {
        let report =
            crate::cmcd::decode_dict(r#"nor=("1.mp4";r=""),v=2"#, crate::cmcd::Policy::Lenient)
                .unwrap();
        let v1 = encode(&report, Version::V1);
        assert_eq!(v1, r#"nor="1.mp4""#);
        let again = crate::cmcd::decode_dict(&v1, crate::cmcd::Policy::Strict).unwrap();
        assert!(again.dropped().is_empty());
    }

    #[test]
    fn uri_component_matches_ecma() {
        assert_eq!(
            encode_uri_component("br=(1000),x=\"a b\";/?"),
            "br%3D(1000)%2Cx%3D%22a%20b%22%3B%2F%3F"
        );
    }

    #[test]
    fn rounding_is_half_up_and_bounded() {
        assert_eq!(round(Key::Bl, 21_350), 21_400);
        assert_eq!(round(Key::Bl, 21_349), 21_300);
        assert_eq!(round(Key::Mtp, 999_999_999_999_999), 999_999_999_999_900);
        assert_eq!(round(Key::Br, 21_349), 21_349);
    }
}
