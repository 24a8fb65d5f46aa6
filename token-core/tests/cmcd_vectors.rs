//! Runs every case of `testdata/cmcd/cmcd_vectors.json` (the shared conformance set, see its
//! README): the Structured-Field-level result must equal `expected` (or be an error), the
//! CMCD-level rules that each case's `note` states must hold, and `encode_from` must encode back
//! to `input`.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::borrow::Cow;

use serde_json::{Map, Value as Json, json};
use token_core::cmcd::sf::{self, BareItem, Dictionary, InnerList, Item, Member};
use token_core::cmcd::{
    self, DropReason, Leniency, NextObject, ObjectType, Policy, Report, StreamType, Version,
};

const VECTORS: &str = include_str!("../testdata/cmcd/cmcd_vectors.json");

fn vectors() -> Vec<Json> {
    match serde_json::from_str(VECTORS).expect("vector file is JSON") {
        Json::Array(cases) => cases,
        _ => panic!("vector file is not an array"),
    }
}

// --- the vector file's value encoding -----------------------------------------------------

fn bare_to_json(bare: &BareItem<'_>) -> Json {
    match bare {
        BareItem::Integer(n) => json!(n),
        BareItem::Decimal(d) => json!({ "decimal": d.to_f64() }),
        BareItem::String(s) => json!(s),
        BareItem::Token(t) => json!({ "token": t }),
        BareItem::ByteSequence(b) => json!({ "binary": b }),
        BareItem::Boolean(b) => json!(b),
    }
}

fn with_params(value: Json, params: &sf::Parameters<'_>) -> Json {
    if params.is_empty() {
        return value;
    }
    let p: Map<String, Json> =
        params.iter().map(|(k, v)| (k.to_string(), bare_to_json(v))).collect();
    json!({ "value": value, "params": p })
}

fn item_to_json(item: &Item<'_>) -> Json {
    with_params(bare_to_json(&item.bare), &item.params)
}

fn member_to_json(member: &Member<'_>) -> Json {
    match member {
        Member::Item(item) => item_to_json(item),
        Member::InnerList(list) => {
            with_params(Json::Array(list.items.iter().map(item_to_json).collect()), &list.params)
        }
    }
}

fn dict_to_json(dict: &Dictionary<'_>) -> Json {
    Json::Object(dict.iter().map(|(k, m)| (k.to_owned(), member_to_json(m))).collect())
}

fn json_to_bare(v: &Json) -> BareItem<'static> {
    match v {
        Json::Bool(b) => BareItem::Boolean(*b),
        Json::Number(n) => BareItem::Integer(n.as_i64().expect("integer")),
        Json::String(s) => BareItem::String(Cow::Owned(s.clone())),
        Json::Object(o) if o.contains_key("token") => {
            BareItem::Token(Cow::Owned(o["token"].as_str().expect("token").to_owned()))
        }
        Json::Object(o) if o.contains_key("decimal") => {
            let f = o["decimal"].as_f64().expect("decimal");
            BareItem::Decimal(
                sf::Decimal::from_thousandths((f * 1000.0).round() as i64).expect("range"),
            )
        }
        other => panic!("not a bare item: {other}"),
    }
}

fn json_params(v: &Json) -> sf::Parameters<'static> {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (Cow::Owned(k.clone()), json_to_bare(v))).collect())
        .unwrap_or_default()
}

fn json_to_item(v: &Json) -> Item<'static> {
    match v {
        Json::Object(o) if o.contains_key("value") => {
            Item { bare: json_to_bare(&o["value"]), params: json_params(&o["params"]) }
        }
        other => Item::new(json_to_bare(other)),
    }
}

fn json_to_member(v: &Json) -> Member<'static> {
    match v {
        Json::Array(items) => Member::InnerList(InnerList {
            items: items.iter().map(json_to_item).collect(),
            params: Vec::new(),
        }),
        Json::Object(o) if o.get("value").is_some_and(Json::is_array) => {
            let Member::InnerList(mut list) = json_to_member(&o["value"]) else { unreachable!() };
            list.params = json_params(&o["params"]);
            Member::InnerList(list)
        }
        other => Member::Item(json_to_item(other)),
    }
}

fn json_to_dict(v: &Json) -> Dictionary<'static> {
    let mut dict = Dictionary::new();
    for (k, m) in v.as_object().expect("object") {
        dict.insert(k.clone(), json_to_member(m));
    }
    dict
}

// --- runners ------------------------------------------------------------------------------

fn raw(case: &Json) -> Result<Dictionary<'static>, cmcd::Error> {
    let input = case["input"].as_str().expect("input");
    match case["form"].as_str().expect("form") {
        "dict" => {
            sf::parse_dictionary(input).map(Dictionary::into_owned).map_err(cmcd::Error::from)
        }
        "query" => cmcd::query_dictionary(input),
        "header" => cmcd::header_dictionary(cmcd::header_lines(input)),
        other => panic!("unknown form {other}"),
    }
}

fn typed(case: &Json, policy: Policy) -> Result<Report, cmcd::Error> {
    let input = case["input"].as_str().expect("input");
    match case["form"].as_str().expect("form") {
        "dict" => cmcd::decode_dict(input, policy),
        "query" => cmcd::decode_query(input, policy),
        "header" => cmcd::decode_headers(cmcd::header_lines(input), policy),
        other => panic!("unknown form {other}"),
    }
}

fn case(i: usize) -> Json {
    vectors().swap_remove(i)
}

fn dropped(report: &Report) -> Vec<(&str, DropReason)> {
    report.dropped().iter().map(|d| (d.key(), d.reason())).collect()
}

#[test]
fn file_has_76_cases_12_errors() {
    let cases = vectors();
    assert_eq!(cases.len(), 76);
    assert_eq!(cases.iter().filter(|c| c["expected"] == "error").count(), 12);
}

#[test]
fn structured_field_layer_matches_expected() {
    let mut failures = Vec::new();
    for (i, case) in vectors().iter().enumerate() {
        let got = raw(case);
        let ok = match (&case["expected"], &got) {
            (Json::String(s), Err(_)) if s == "error" => true,
            (expected @ Json::Object(_), Ok(dict)) => &dict_to_json(dict) == expected,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "#{i} {:?}\n  input:    {}\n  expected: {}\n  got:      {:?}",
                case["note"],
                case["input"],
                case["expected"],
                got.as_ref().map(dict_to_json)
            ));
        }
    }
    assert!(failures.is_empty(), "{} failing vectors:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn cmcd_layer_accounts_for_every_key() {
    for (i, case) in vectors().iter().enumerate() {
        let Json::Object(expected) = &case["expected"] else {
            assert!(typed(case, Policy::Strict).is_err(), "#{i} must be rejected");
            assert!(typed(case, Policy::Lenient).is_err() || i == 74, "#{i} must be rejected");
            continue;
        };
        if expected.get("v").and_then(Json::as_i64).is_some_and(|v| v > 2) {
            continue; // #69, asserted below
        }
        for policy in [Policy::Strict, Policy::Lenient] {
            let report = typed(case, policy).unwrap_or_else(|e| panic!("#{i}: {e}"));
            for name in expected.keys() {
                let placed = match cmcd::Key::from_name(name) {
                    Some(key) => {
                        report.get(key).is_some()
                            || report.dropped().iter().any(|d| d.key() == name)
                    }
                    None if cmcd::is_custom_key(name) => report.custom().any(|(k, _)| k == name),
                    None => report.unknown().any(|(k, _)| k == name),
                };
                assert!(
                    placed,
                    "#{i} {policy:?}: `{name}` is neither typed, dropped, custom nor unknown"
                );
            }
            let count = report.len()
                + report.dropped().len()
                + report.custom().len()
                + report.unknown().len();
            assert_eq!(count, expected.len(), "#{i} {policy:?}: key count");
        }
    }
}

#[test]
fn strict_drops_what_the_notes_say() {
    let strict = |i| typed(&case(i), Policy::Strict).expect("decodes");
    // #42 su=true is a Token; #43 unquoted sid is a Token; #44 st="v" is a String.
    assert_eq!(dropped(&strict(42)), [("su", DropReason::WrongType)]);
    assert_eq!(dropped(&strict(43)), [("sid", DropReason::WrongType)]);
    assert_eq!(dropped(&strict(44)), [("st", DropReason::WrongType)]);
    // #47 br as String: drop br only, keep the rest.
    let r = strict(47);
    assert_eq!(dropped(&r), [("br", DropReason::WrongType)]);
    assert_eq!(
        (r.d(), r.rtp(), r.tb().and_then(|t| t.first())),
        (Some(4004), Some(15000), Some(6000))
    );
    // #68 Decimal where Integer is defined.
    assert_eq!(dropped(&strict(68)), [("br", DropReason::WrongType)]);
    // #70 sta outside the vocabulary; e stays.
    let r = strict(70);
    assert_eq!(dropped(&r), [("sta", DropReason::InvalidToken)]);
    assert_eq!(r.e(), Some(cmcd::EventType::PlayState));
    // #71 sid longer than 64 characters; #72 empty cid treated as absent.
    assert_eq!(dropped(&strict(71)), [("sid", DropReason::TooLong)]);
    assert_eq!(dropped(&strict(72)), [("cid", DropReason::Empty)]);
    // No other vector loses a key under the strict policy.
    for (i, c) in vectors().iter().enumerate() {
        if ![42, 43, 44, 47, 68, 69, 70, 71, 72].contains(&i) && c["expected"].is_object() {
            assert_eq!(dropped(&typed(c, Policy::Strict).unwrap()), [], "#{i}");
        }
    }
}

#[test]
fn lenient_accepts_and_counts() {
    let lenient = |i| typed(&case(i), Policy::Lenient).expect("decodes");
    let r = lenient(42);
    assert_eq!((r.su(), r.leniencies().count(Leniency::TokenBoolean)), (Some(true), 1));
    let r = lenient(43);
    assert_eq!(r.sid(), Some("b248658d-1d1a-4039-91d0-8c08ba597da5"));
    assert_eq!(r.leniencies().count(Leniency::TokenForString), 1);
    let r = lenient(44);
    assert_eq!(
        (r.st(), r.leniencies().count(Leniency::StringForToken)),
        (Some(StreamType::Vod), 1)
    );
    let r = lenient(68);
    assert_eq!(r.br().and_then(|b| b.first()), Some(2));
    assert_eq!(r.leniencies().count(Leniency::DecimalForInteger), 1);
    // #74 double-encoded query (androidx/media#1075): an error strictly, decoded leniently.
    assert_eq!(typed(&case(74), Policy::Strict).unwrap_err().code(), "syntax");
    let r = lenient(74);
    assert_eq!(
        (r.bl().and_then(|b| b.first()), r.br().and_then(|b| b.first())),
        (Some(20200), Some(6000))
    );
    assert_eq!(r.leniencies().iter().collect::<Vec<_>>(), [(Leniency::DoubleEncodedQuery, 1)]);
    // #6: CML's `;ot=v` parameter form.
    let r = lenient(6);
    assert_eq!(
        r.br().unwrap().as_slice(),
        [cmcd::Sample::tagged(3000, ObjectType::Video), cmcd::Sample::new(6000)]
    );
    // Still dropped leniently: a String for an Integer, a token outside the vocabulary.
    assert_eq!(dropped(&lenient(47)), [("br", DropReason::WrongType)]);
    assert_eq!(dropped(&lenient(70)), [("sta", DropReason::InvalidToken)]);
}

#[test]
fn version_above_2_discards_everything() {
    for policy in [Policy::Strict, Policy::Lenient] {
        let err = typed(&case(69), policy).unwrap_err();
        assert_eq!(err, cmcd::Error::UnsupportedVersion { version: 3 });
        assert_eq!((err.code(), err.offset()), ("unsupported_version", None));
    }
}

#[test]
fn unknown_and_custom_keys_are_kept_aside() {
    let r = typed(&case(49), Policy::Strict).unwrap();
    assert_eq!(r.unknown().map(|(k, _)| k).collect::<Vec<_>>(), ["oti"]);
    assert_eq!(r.ot(), None);
    let r = typed(&case(36), Policy::Strict).unwrap();
    assert_eq!(r.unknown().map(|(k, _)| k).collect::<Vec<_>>(), ["b"]);
    assert_eq!(r.bs(), None);
    let r = typed(&case(73), Policy::Strict).unwrap();
    assert_eq!(r.unknown().map(|(k, _)| k).collect::<Vec<_>>(), ["*foo", "a_b-c"]);
    let r = typed(&case(8), Policy::Strict).unwrap();
    let custom: Vec<&str> = r.custom().map(|(k, _)| k).collect();
    assert_eq!(
        custom,
        [
            "com.example-exists",
            "com.example-hello",
            "com.example-quote",
            "com.example-testing",
            "com.example-token"
        ]
    );
    assert_eq!(r.cdn(), Some("cdn-provider"));
}

#[test]
fn typed_values_follow_the_spec() {
    let strict = |i| typed(&case(i), Policy::Strict).expect("decodes");
    // #38/#39: v1 `nor` loses its inner percent-encoding at the CMCD layer.
    assert_eq!(strict(38).nor(), Some(&[NextObject::new("../300kbps/segment35.m4v")][..]));
    let r = strict(39);
    assert_eq!(r.pr(), sf::Decimal::from_thousandths(1080));
    assert_eq!(r.nrr(), Some("12323-48763"));
    // #22: v2 `nor` keeps its string as is and carries the range in `r`.
    let r = strict(22);
    let nor = r.nor().unwrap();
    assert_eq!((nor[1].url.as_str(), nor[1].range.as_deref()), ("2.mp4", Some("101-200")));
    // #67: an Integer where a Decimal is defined.
    assert_eq!(strict(67).pr(), sf::Decimal::from_integer(1));
    // #17: a v1 scalar with v=2 is read as a one-member list.
    let r = strict(17);
    assert_eq!((r.br().and_then(|b| b.first()), r.version()), (Some(200), Version::V2));
    // #28: per-object-type buffer lengths.
    let r = strict(28);
    assert_eq!(
        (r.bl().unwrap().get(ObjectType::Video), r.bl().unwrap().get(ObjectType::Audio)),
        (Some(0), Some(2000))
    );
    // #52/#53: explicit booleans.
    let r = strict(52);
    assert_eq!((r.bs(), r.su()), (Some(false), Some(false)));
    assert_eq!(strict(53).bs(), Some(true));
    // #65: an empty inner list.
    assert!(strict(65).bl().unwrap().is_empty());
    // #75: '+' is a space in the query form.
    assert_eq!(strict(75).cid(), Some("a b"));
}

#[test]
fn errors_carry_offsets() {
    // #60 "ot=v," — the trailing comma leaves nothing at byte 5.
    let err = typed(&case(60), Policy::Strict).unwrap_err();
    assert_eq!((err.code(), err.offset()), ("syntax", Some(5)));
    // #59 "Sid=..." — invalid key at byte 0.
    let err = typed(&case(59), Policy::Strict).unwrap_err();
    assert_eq!(err.offset(), Some(0));
    assert!(matches!(err, cmcd::Error::Syntax(e) if e.code() == "invalid_key"));
}

#[test]
fn encode_from_reproduces_input() {
    let mut seen = 0;
    for (i, case) in vectors().iter().enumerate() {
        let Some(from) = case.get("encode_from") else { continue };
        seen += 1;
        let version = match case["encode_options"]["version"].as_i64() {
            Some(2) => Version::V2,
            _ => Version::V1,
        };
        let report = Report::from_dictionary(&json_to_dict(from), Policy::Strict).expect("typed");
        assert_eq!(report.dropped(), [], "#{i}");
        let encoded = match case["form"].as_str() {
            Some("query") => cmcd::encode_query(&report, version),
            _ => cmcd::encode(&report, version),
        };
        assert_eq!(encoded, case["input"].as_str().unwrap(), "#{i}");
    }
    assert_eq!(seen, 2);
}

#[test]
fn structured_field_round_trip_is_byte_exact_for_canonical_inputs() {
    // #6's note: encode(decode(s)) == s when the token type is preserved.
    for i in [0, 6, 8, 10, 22, 24, 29, 32] {
        let input = case(i)["input"].as_str().unwrap().to_owned();
        let dict = sf::parse_dictionary(&input).unwrap();
        assert_eq!(sf::serialize_dictionary(&dict).unwrap(), input, "#{i}");
    }
}

#[test]
fn v1_down_conversion_matches_cml() {
    // #21: nor=("../testing/3.m4v";r="0-99") encoded as v1.
    let mut report = Report::new();
    let nor = vec![NextObject { url: "../testing/3.m4v".into(), range: Some("0-99".into()) }];
    report.insert(cmcd::Key::Nor, cmcd::Value::NextObjects(nor)).unwrap();
    assert_eq!(cmcd::encode(&report, Version::V1), case(21)["input"].as_str().unwrap());
    // #9: the v1 rendition of the full CML input decodes to what #8 (v2) says, where v1 can say it.
    let v1 = typed(&case(9), Policy::Strict).unwrap();
    let v2 = typed(&case(8), Policy::Strict).unwrap();
    for key in [
        cmcd::Key::Bl,
        cmcd::Key::Br,
        cmcd::Key::Mtp,
        cmcd::Key::Tb,
        cmcd::Key::Nor,
        cmcd::Key::Sid,
    ] {
        assert_eq!(v1.get(key), v2.get(key), "{key}");
    }
}
