//! Property tests: canonical reports survive encode → decode in every form, and no input makes
//! a decoder panic.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::borrow::Cow;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use token_core::cmcd::sf::{self, BareItem, Decimal, Item, Member};
use token_core::cmcd::{
    self, EventType, Key, Kind, NextObject, ObjectType, PlayerState, Policy, Report, Sample,
    Samples, StreamType, StreamingFormat, Value, Version,
};

fn sf_string(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~]{{1,{max}}}")).expect("regex")
}

fn any_sf_string() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~]{0,24}").expect("regex")
}

fn integer(key: Key) -> BoxedStrategy<u64> {
    match key.info().round_to {
        Some(step) => (0..=9_999_999_999_999u64).prop_map(move |n| n * step).boxed(),
        None => (0..=999_999_999_999_999u64).boxed(),
    }
}

fn object_type() -> impl Strategy<Value = ObjectType> {
    proptest::sample::select(ObjectType::ALL)
}

/// A value the canonical encoder writes unchanged in `version` (rounded where rounding applies,
/// `true` booleans, `pr` ≠ 1, v1 lists of one untagged sample, v1 `nor` of one range-less URL).
fn value(key: Key, version: Version) -> BoxedStrategy<Value> {
    let info = key.info();
    match info.kind {
        Kind::Integer => integer(key).prop_map(Value::Integer).boxed(),
        Kind::Decimal => (0..=999_999_999_999_999i64)
            .prop_filter("pr=1 is omitted", |t| *t != 1000)
            .prop_map(|t| Value::Decimal(Decimal::from_thousandths(t).expect("range")))
            .boxed(),
        Kind::Boolean => Just(Value::Boolean(true)).boxed(),
        Kind::String => sf_string(info.max_len.unwrap_or(200)).prop_map(Value::String).boxed(),
        Kind::Token => match key {
            Key::Ot => object_type().prop_map(Value::ObjectType).boxed(),
            Key::Sf => proptest::sample::select(StreamingFormat::ALL)
                .prop_map(Value::StreamingFormat)
                .boxed(),
            Key::St => {
                proptest::sample::select(StreamType::ALL).prop_map(Value::StreamType).boxed()
            }
            Key::Sta => {
                proptest::sample::select(PlayerState::ALL).prop_map(Value::PlayerState).boxed()
            }
            _ => proptest::sample::select(EventType::ALL).prop_map(Value::EventType).boxed(),
        },
        Kind::IntegerList => match version {
            Version::V1 => integer(key).prop_map(|n| Value::Samples(Samples::one(n))).boxed(),
            Version::V2 => vec((integer(key), option::of(object_type())), 0..4)
                .prop_map(|v| {
                    Value::Samples(Samples::new(
                        v.into_iter().map(|(value, object)| Sample { value, object }).collect(),
                    ))
                })
                .boxed(),
        },
        Kind::StringList => vec(any_sf_string(), 0..4).prop_map(Value::Strings).boxed(),
        Kind::NextObjects => match version {
            Version::V1 => any_sf_string()
                .prop_map(|url| Value::NextObjects(vec![NextObject::new(url)]))
                .boxed(),
            Version::V2 => vec((any_sf_string(), option::of(sf_string(20))), 0..4)
                .prop_map(|v| {
                    Value::NextObjects(
                        v.into_iter().map(|(url, range)| NextObject { url, range }).collect(),
                    )
                })
                .boxed(),
        },
        _ => unreachable!("every kind is covered"),
    }
}

fn custom_member() -> impl Strategy<Value = Member<'static>> {
    let bare = prop_oneof![
        (-999_999_999_999_999i64..=999_999_999_999_999).prop_map(BareItem::Integer),
        any_sf_string().prop_map(|s| BareItem::String(Cow::Owned(s))),
        "[a-z][a-z0-9:/._-]{0,10}".prop_map(|t| BareItem::Token(Cow::Owned(t))),
        Just(BareItem::Boolean(true)),
        (-999_999i64..999_999)
            .prop_map(|t| BareItem::Decimal(Decimal::from_thousandths(t).expect("range"))),
    ];
    (bare, option::of((-99i64..99).prop_map(BareItem::Integer))).prop_map(|(bare, p)| {
        Member::Item(Item {
            bare,
            params: p.map(|v| (Cow::Borrowed("p"), v)).into_iter().collect(),
        })
    })
}

fn report(version: Version) -> impl Strategy<Value = Report> {
    let keys: Vec<Key> = Key::ALL
        .iter()
        .copied()
        .filter(|k| {
            *k != Key::V
                && k.info().in_version(version)
                && !(version == Version::V2 && *k == Key::Nrr)
        })
        .collect();
    let values: Vec<_> = keys.iter().map(|&k| option::weighted(0.4, value(k, version))).collect();
    let custom = vec(("[a-z]{1,6}", custom_member()), 0..3);
    (values, custom).prop_map(move |(values, custom)| {
        let mut dict = sf::Dictionary::new();
        for (name, member) in custom {
            dict.insert(format!("com.example-{name}"), member);
        }
        let mut report = Report::from_dictionary(&dict, Policy::Strict).expect("custom keys only");
        for (&key, value) in keys.iter().zip(values) {
            if let Some(value) = value {
                report.insert(key, value).expect("generated values are valid");
            }
        }
        if version == Version::V2 {
            report.insert(Key::V, Value::Integer(2)).expect("v=2");
        }
        report
    })
}

fn without_event_keys(mut report: Report) -> Report {
    for key in Key::ALL.iter().filter(|k| k.info().event_only) {
        report.remove(*key);
    }
    report
}

fn round_trip(report: &Report, version: Version) -> Result<(), TestCaseError> {
    let dict = cmcd::encode(report, version);
    prop_assert_eq!(
        &cmcd::decode_dict(&dict, Policy::Strict).expect("dict decodes"),
        report,
        "dict: {}",
        dict
    );
    let query = cmcd::encode_query(report, version);
    prop_assert_eq!(
        &cmcd::decode_query(&query, Policy::Strict).expect("query decodes"),
        report,
        "query: {}",
        query
    );
    let url = format!("https://cdn.example/seg.m4s?x=1&{query}");
    prop_assert_eq!(&cmcd::decode_url(&url, Policy::Strict).expect("url decodes"), report);
    let shards = cmcd::encode_headers(report, version);
    let headers = shards.iter().map(|(s, v)| (s.header_name(), v.as_str()));
    let decoded = cmcd::decode_headers(headers, Policy::Strict).expect("headers decode");
    prop_assert_eq!(decoded, without_event_keys(report.clone()), "headers: {:?}", shards);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn v2_reports_round_trip(report in report(Version::V2)) {
        round_trip(&report, Version::V2)?;
        let body = cmcd::encode_body(&[report.clone(), report.clone()], Version::V2);
        prop_assert_eq!(cmcd::decode_body(&body, Policy::Strict).expect("body decodes"), vec![report.clone(), report]);
    }

    #[test]
    fn v1_reports_round_trip(report in report(Version::V1)) {
        round_trip(&report, Version::V1)?;
    }

    #[test]
    fn decoders_never_panic(data in vec(any::<u8>(), 0..300)) {
        token_core::fuzzing::cmcd::parse_never_panics(&data);
    }

    #[test]
    fn decoded_input_encodes_to_a_fixpoint(input in "[a-z*][a-z0-9_.*-]{0,4}(=(\\(?[0-9a-z\" ;?.=-]{0,12}\\)?))?(,[a-z][a-z0-9.-]{0,4}(=[0-9a-z\"();?. =-]{0,12})?){0,8}") {
        token_core::fuzzing::cmcd::roundtrip(input.as_bytes());
    }
}
