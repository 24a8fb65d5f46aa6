//! `token/sign` and `token/verify` over a realistic SMD token (session + user-agent + referer
//! binding, two paths, an exclusion), with the `jsonwebtoken` crate's HS256 decode of the same JWT
//! measured in the same run as the baseline.
//!
//! Run: `cargo bench -p token-core --bench token`

// Setup failures abort the benchmark, which is what a bench should do.
#![allow(clippy::unwrap_used)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::hint::black_box;
use token_core::UnixTime;
use token_core::token::{
    KeySet, Profile, Request, SigningKey, TokenPolicy, Verifier, VerifyOptions, ViewerAttributes,
    sign,
};

const KEY: &str = "9c3b1f5e2d4a6b8c0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f\
                   0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
const REFERER: &str = "https://player.example.com/watch/live-1";

fn fixture() -> (TokenPolicy, ViewerAttributes, SigningKey) {
    let policy = TokenPolicy {
        ssn: true,
        headers: vec!["user-agent".into(), "referer".into()],
        paths: vec![
            "/out/v1/8c0f6e2b4d1a4f3e9b7c5a2d1e0f9a8b/".into(),
            "/v1/master/1a2b3c/live-1/".into(),
        ],
        exc: vec!["/ads/".into()],
        nbf: Some(1_645_000_000),
        exp: "+6h".into(),
        ..Default::default()
    };
    let viewer = ViewerAttributes {
        session_id: Some("Q7fZ2kP9xLm4".into()),
        headers: vec![("user-agent".into(), UA.into()), ("referer".into(), REFERER.into())],
        ..Default::default()
    };
    (policy, viewer, SigningKey::new("2024111_4f2a9c0e7b13d58a6e21", KEY).unwrap())
}

fn benches(c: &mut Criterion) {
    let now = UnixTime::from_secs(1_700_000_000);
    let (policy, viewer, key) = fixture();
    let signed = sign(&policy, &viewer, None, &key, now, &mut |_| {}).unwrap();
    let uri = signed.to_url("/out/v1/8c0f6e2b4d1a4f3e9b7c5a2d1e0f9a8b/index_1_00042.ts");
    let headers = [
        ("host", "d111.cloudfront.net"),
        ("user-agent", UA),
        ("referer", REFERER),
        ("accept", "*/*"),
    ];
    let request =
        Request { uri: &uri, viewer_ip: Some("198.51.100.7"), headers: &headers, query: &[] };
    let keys = KeySet::new(key.clone(), None).unwrap();
    let strict = Verifier::new(keys.clone());
    let compat = Verifier::new(keys)
        .with_options(VerifyOptions { profile: Profile::SmdCompat, ..Default::default() });
    assert!(strict.verify(&request, now).is_ok());

    let mut group = c.benchmark_group("token");
    group.bench_function("sign", |b| {
        b.iter(|| {
            sign(black_box(&policy), black_box(&viewer), None, &key, now, &mut |_| {}).unwrap()
        })
    });
    group.bench_function("verify", |b| b.iter(|| strict.verify(black_box(&request), now).unwrap()));
    group.bench_function("verify_smd_compat", |b| {
        b.iter(|| compat.verify(black_box(&request), now).unwrap())
    });

    let decoding_key = DecodingKey::from_secret(KEY.as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let jwt = signed.jwt;
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&jwt), &decoding_key, &validation)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(token, benches);
criterion_main!(token);
