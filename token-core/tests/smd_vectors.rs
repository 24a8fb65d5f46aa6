//! The SMD interoperability vectors (`testdata/smd/smd_vectors.json`): every generated token is
//! byte-identical, every replayed request gets the recorded outcome under `smd-compat`, and the
//! `strict` outcome of each request is asserted too — where it differs, the test names the SMD
//! defect (`reference/smd.md` §7 numbering) that the strict profile fixes.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use token_core::UnixTime;
use token_core::token::{
    KeySet, Profile, Request, SigningKey, TokenPolicy, Verifier, VerifyOptions, ViewerAttributes,
    sign,
};

const VECTORS: &str = include_str!("../testdata/smd/smd_vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn edge_keys(v: &Value) -> KeySet {
    let secrets = v["edge_secrets"].as_object().unwrap();
    let mut keys = secrets
        .iter()
        .map(|(kid, key)| SigningKey::new(kid.clone(), key.as_str().unwrap()).unwrap());
    let first = keys.next().unwrap();
    KeySet::new(first, keys.next()).unwrap()
}

fn verifier(v: &Value, profile: Profile) -> Verifier {
    Verifier::new(edge_keys(v)).with_options(VerifyOptions { profile, ..Default::default() })
}

/// Strict outcomes that differ from SMD's, and why.
fn strict_override(case: &str, request: &str) -> Option<(u16, &'static str)> {
    match (case, request) {
        ("C_ipv6", "viewer_ip_compressed") => {
            Some((200, "D2: compressed and expanded IPv6 compare equal"))
        }
        ("F_querystring", "qs_absent") => {
            Some((401, "D3: an empty rebuilt intsig input no longer passes (binding_mismatch)"))
        }
        ("E2_cty_plus_ssn", "city_header_present") => {
            Some((200, "D1: the intsig input is rebuilt in the generator's order, city included"))
        }
        _ => None,
    }
}

fn url_path(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
        None => url,
    }
}

/// Resolves the vector file's URI placeholders (see the case's `uri_placeholders`).
fn request_uri(case: &Value, input: &Value) -> String {
    let generated = case["generated"].as_str().unwrap();
    let full_path = url_path(generated);
    let segment = if generated.contains("://") {
        full_path.trim_start_matches('/').split('/').next().unwrap().to_owned()
    } else {
        generated.to_owned()
    };
    let (sid, jwt) = match segment.split('.').count() {
        4 => {
            let (s, j) = segment.split_once('.').unwrap();
            (Some(s.to_owned()), j.to_owned())
        }
        _ => (None, segment.clone()),
    };
    let rest_of_path = full_path
        .trim_start_matches('/')
        .split_once('/')
        .map(|(_, r)| format!("/{r}"))
        .unwrap_or_default();
    if input["uri_from_url"].as_bool() == Some(true) {
        return full_path.to_owned();
    }
    let uri = input["uri"].as_str().unwrap();
    match uri {
        "__NOSID__" => format!("/{jwt}{rest_of_path}"),
        "__SWAPSID__" => {
            assert!(sid.is_some());
            format!("/zzzZZZ999999.{jwt}{rest_of_path}")
        }
        _ => uri
            .replace("/sess0000001.__TOK3__", &format!("/{generated}"))
            .replace("__REPL__", &format!("/{segment}"))
            .replace("__TOKONLY__", &format!("/{segment}")),
    }
}

fn pairs(obj: &Value) -> Vec<(String, String)> {
    obj.as_object()
        .map(|m| {
            m.iter().map(|(k, v)| (k.clone(), v["value"].as_str().unwrap().to_owned())).collect()
        })
        .unwrap_or_default()
}

struct Outcome {
    status: u16,
    forwarded: Option<String>,
    code: Option<&'static str>,
}

fn run(verifier: &Verifier, uri: &str, input: &Value) -> Outcome {
    let headers = pairs(&input["headers"]);
    let query = pairs(&input["qs"]);
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request =
        Request { uri, viewer_ip: input["ip"].as_str(), headers: &headers, query: &query };
    let now = UnixTime::from_secs(input["now"].as_i64().unwrap());
    match verifier.verify(&request, now) {
        Ok(ok) => Outcome { status: 200, forwarded: Some(ok.forwarded_uri), code: None },
        Err(e) => Outcome { status: e.http_status(), forwarded: None, code: Some(e.code()) },
    }
}

#[test]
fn generated_tokens_are_byte_identical() {
    let v = vectors();
    let key = SigningKey::new(v["kid"].as_str().unwrap(), v["key"].as_str().unwrap()).unwrap();
    let now = UnixTime::from_secs(v["gen_time"].as_i64().unwrap());
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let policy = TokenPolicy::from_smd_json(&case["token_policy"]).unwrap();
        let viewer = ViewerAttributes::from_smd_json(&case["sdk_viewer_attributes"]).unwrap();
        let url = case["sdk_playback_url"].as_str();
        let signed =
            sign(&policy, &viewer, url, &key, now, &mut |_| panic!("{name}: no randomness needed"))
                .unwrap();
        let got = match url {
            Some(url) => signed.to_url(url),
            None => signed.path_segment(),
        };
        assert_eq!(got, case["generated"].as_str().unwrap(), "case {name}");
    }
}

#[test]
fn every_request_replays_under_both_profiles() {
    let v = vectors();
    let compat = verifier(&v, Profile::SmdCompat);
    let strict = verifier(&v, Profile::Strict);
    let mut replayed = 0;
    for case in v["cases"].as_array().unwrap() {
        let case_name = case["name"].as_str().unwrap();
        for req in case["requests"].as_array().unwrap() {
            let name = req["name"].as_str().unwrap();
            let uri = request_uri(case, &req["input"]);
            let want_status = u16::try_from(req["expect_status"].as_u64().unwrap()).unwrap();
            let want_uri = req["expect_forwarded_uri"].as_str().map(str::to_owned);

            let got = run(&compat, &uri, &req["input"]);
            assert_eq!(
                (got.status, &got.forwarded),
                (want_status, &want_uri),
                "smd-compat {case_name}/{name} (code {:?})",
                got.code
            );

            let got = run(&strict, &uri, &req["input"]);
            match strict_override(case_name, name) {
                Some((status, why)) => {
                    assert_ne!(
                        status, want_status,
                        "{case_name}/{name}: override must differ from SMD"
                    );
                    assert_eq!(
                        got.status, status,
                        "strict {case_name}/{name}: {why} (code {:?})",
                        got.code
                    );
                }
                None => assert_eq!(
                    (got.status, &got.forwarded),
                    (want_status, &want_uri),
                    "strict {case_name}/{name} (code {:?})",
                    got.code
                ),
            }
            replayed += 1;
        }
    }
    assert_eq!(replayed, 25);
}

#[test]
fn strict_codes_name_the_reason() {
    let v = vectors();
    let strict = verifier(&v, Profile::Strict);
    let expect = [
        ("A_ssn_ua_referer", "ua_changed", "binding_mismatch"),
        ("A_ssn_ua_referer", "referer_missing", "binding_mismatch"),
        ("A_ssn_ua_referer", "wrong_path", "path_not_allowed"),
        ("A_ssn_ua_referer", "one_sec_after_exp", "expired"),
        ("A_ssn_ua_referer", "before_nbf", "not_yet_valid"),
        ("A_ssn_ua_referer", "session_prefix_removed", "binding_mismatch"),
        ("A_ssn_ua_referer", "session_prefix_swapped", "binding_mismatch"),
        ("B_ipv4", "other_ip", "ip_mismatch"),
        ("B_ipv4", "ipv6_viewer", "ip_mismatch"),
        ("D_co_reg", "country_differs", "binding_mismatch"),
        ("D_co_reg", "region_header_missing", "binding_mismatch"),
        ("F_querystring", "qs_differs", "binding_mismatch"),
        ("F_querystring", "qs_absent", "binding_mismatch"),
    ];
    for (case_name, req_name, code) in expect {
        let case = v["cases"].as_array().unwrap().iter().find(|c| c["name"] == case_name).unwrap();
        let req =
            case["requests"].as_array().unwrap().iter().find(|r| r["name"] == req_name).unwrap();
        let got = run(&strict, &request_uri(case, &req["input"]), &req["input"]);
        assert_eq!(got.code, Some(code), "{case_name}/{req_name}");
    }
}

/// D1: SMD never checks the city, so a `cty`-only token is not bound at all; strict binds it.
#[test]
fn strict_binds_the_city_smd_ignores() {
    let v = vectors();
    let case = v["cases"].as_array().unwrap().iter().find(|c| c["name"] == "E_cty_only").unwrap();
    let mut input = case["requests"][0]["input"].clone();
    input["headers"]["cloudfront-viewer-city"]["value"] = "Lyon".into();
    let uri = request_uri(case, &input);
    assert_eq!(
        run(&verifier(&v, Profile::SmdCompat), &uri, &input).status,
        200,
        "SMD: city unbound (D1)"
    );
    let strict = run(&verifier(&v, Profile::Strict), &uri, &input);
    assert_eq!((strict.status, strict.code), (401, Some("binding_mismatch")));
}

#[test]
fn repo_vector_checks() {
    let v = vectors();
    let rv = &v["repo_vector"];
    let uri = rv["uri"].as_str().unwrap();
    for profile in [Profile::SmdCompat, Profile::Strict] {
        let verifier = verifier(&v, profile);
        for check in rv["checks"].as_array().unwrap() {
            let ua =
                check["user_agent"].as_str().unwrap_or_else(|| rv["user_agent"].as_str().unwrap());
            let uri = if check["session_prefix_removed"].as_bool() == Some(true) {
                uri.replacen("/cKyrFyOVnjza.", "/", 1)
            } else {
                uri.to_owned()
            };
            let headers = [("user-agent", ua)];
            let request = Request {
                uri: &uri,
                viewer_ip: rv["viewer_ip"].as_str(),
                headers: &headers,
                query: &[],
            };
            let now = UnixTime::from_secs(check["now"].as_i64().unwrap());
            let status = verifier.verify(&request, now).map_or_else(|e| e.http_status(), |_| 200);
            assert_eq!(u64::from(status), check["expect"].as_u64().unwrap(), "{profile:?} {check}");
        }
    }
}

/// A token signed with the secondary key still verifies (rotation), an unknown kid does not, and
/// kid 1 with key 2's signature does not.
#[test]
fn rotation_and_kid_mixups() {
    let v = vectors();
    let now = UnixTime::from_secs(1_700_000_000);
    let policy =
        TokenPolicy { paths: vec!["/out/".into()], exp: "+1h".into(), ..Default::default() };
    let viewer = ViewerAttributes::default();
    let key2 = SigningKey::new("secret2_key_to_replace", "secret2_value_to_replace").unwrap();
    let unknown = SigningKey::new("nope", "secret2_value_to_replace").unwrap();
    let mixed = SigningKey::new("secret1_key_to_replace", "secret2_value_to_replace").unwrap();
    for profile in [Profile::SmdCompat, Profile::Strict] {
        let verifier = verifier(&v, profile);
        let check = |key: &SigningKey| {
            let uri =
                sign(&policy, &viewer, None, key, now, &mut |_| {}).unwrap().to_url("/out/a.m3u8");
            verifier
                .verify(&Request { uri: &uri, ..Default::default() }, now)
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(check(&key2), Ok(()), "{profile:?}");
        assert_eq!(check(&unknown), Err("unknown_kid"), "{profile:?}");
        assert_eq!(check(&mixed), Err("bad_signature"), "{profile:?}");
    }
}
