//! Token invariants for the `token_verify` fuzz target and its stable seed test.

use crate::UnixTime;
use crate::token::{
    KeySet, Profile, Request, SigningKey, TokenPolicy, Verifier, VerifyOptions, ViewerAttributes,
    sign,
};

const NOW: i64 = 1_700_000_000;

fn keys() -> KeySet {
    let primary = SigningKey::new("secret1_key_to_replace", "secret1_value_to_replace");
    let secondary = SigningKey::new("2024091_00112233445566778899", "aa".repeat(64));
    match (primary, secondary) {
        (Ok(p), Ok(s)) => match KeySet::new(p, Some(s)) {
            Ok(k) => k,
            Err(e) => panic!("fixture key set: {e}"),
        },
        _ => panic!("fixture keys"),
    }
}

/// Splits fuzz input into fields on `0xff` bytes (never valid UTF-8, so fields stay text).
fn fields(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0xff).map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

/// Arbitrary URI, viewer IP, headers and query against both profiles: no panic, and an accepted
/// request forwards exactly the URI minus its first segment; under `strict` that URI never holds
/// a path escape.
pub fn verify_never_panics(data: &[u8]) {
    let f = fields(data);
    let get = |i: usize| f.get(i).map_or("", String::as_str);
    let uri = get(0);
    let ip = f.get(1).map(String::as_str);
    let headers: Vec<(&str, &str)> =
        (2..f.len()).step_by(2).take(4).map(|i| (get(i), get(i + 1))).collect();
    let query: Vec<(&str, &str)> =
        (10..f.len()).step_by(2).take(4).map(|i| (get(i), get(i + 1))).collect();
    let request = Request { uri, viewer_ip: ip, headers: &headers, query: &query };
    let now = UnixTime::from_secs(NOW + i64::from(data.first().copied().unwrap_or(0)) * 977);
    for profile in [Profile::Strict, Profile::SmdCompat] {
        let verifier =
            Verifier::new(keys()).with_options(VerifyOptions { profile, ..Default::default() });
        match verifier.verify(&request, now) {
            Ok(ok) => {
                let (before, rest) = uri.split_once('/').unwrap_or_default();
                let after = rest.find('/').and_then(|i| rest.get(i..)).unwrap_or_default();
                assert_eq!(
                    ok.forwarded_uri,
                    format!("{before}{after}"),
                    "{profile:?} forwarded the wrong URI"
                );
                if profile == Profile::Strict {
                    assert!(
                        !crate::token::uri::has_escape(&ok.forwarded_uri),
                        "strict forwarded an escape"
                    );
                }
            }
            Err(err) => assert!(crate::token::VerifyError::CODES.contains(&err.code())),
        }
    }
}

/// A policy and viewer derived from the input are signed, then verified under both profiles at
/// the signing time: the token must be accepted, and the same token with its signature's last
/// character changed must not be.
pub fn sign_then_verify(data: &[u8]) {
    let f = fields(data);
    let flags = data.first().copied().unwrap_or(0);
    let text = |i: usize| f.get(i).cloned().unwrap_or_default();
    let clean = |s: String| -> String {
        s.chars().filter(|c| !c.is_control() && *c != ':').take(64).collect()
    };
    let header_value = clean(text(1));
    let policy = TokenPolicy {
        ip: flags & 1 != 0,
        ssn: flags & 2 != 0,
        headers: if header_value.is_empty() { vec![] } else { vec!["user-agent".into()] },
        paths: vec![format!("/{}/", clean(text(2)).replace(['/', '.', '\\', '%'], "_"))],
        exp: "+1h".into(),
        ..Default::default()
    };
    let viewer = ViewerAttributes {
        ip: Some(if flags & 4 != 0 { "2001:db8::5".into() } else { "192.0.2.5".into() }),
        headers: vec![("user-agent".into(), header_value.clone())],
        ..Default::default()
    };
    let keys = keys();
    let now = UnixTime::from_secs(NOW);
    let mut seed = flags;
    let signed = match sign(&policy, &viewer, None, keys.primary(), now, &mut |buf| {
        buf.iter_mut().for_each(|b| {
            seed = seed.wrapping_mul(73).wrapping_add(41);
            *b = seed;
        })
    }) {
        Ok(s) => s,
        Err(e) => panic!("signing a valid policy failed: {e}"),
    };
    let uri = signed.to_url(&format!("{}seg.ts", policy.paths.first().map_or("/", String::as_str)));
    let headers = [("user-agent", header_value.as_str())];
    let request =
        Request { uri: &uri, viewer_ip: viewer.ip.as_deref(), headers: &headers, query: &[] };
    // The SMD edge only matches IPv6 viewers written fully expanded (defect D2).
    let expanded = crate::token::ip_expand_for_edge(viewer.ip.as_deref().unwrap_or_default());
    for profile in [Profile::Strict, Profile::SmdCompat] {
        let verifier = Verifier::new(keys.clone())
            .with_options(VerifyOptions { profile, ..Default::default() });
        let request = if profile == Profile::SmdCompat {
            Request { viewer_ip: Some(&expanded), ..request }
        } else {
            request
        };
        if let Err(e) = verifier.verify(&request, now) {
            panic!("{profile:?} rejected a fresh token ({}): {uri}", e.code());
        }
        let tampered = tamper_signature(&uri);
        let bad = Request { uri: &tampered, ..request };
        assert!(verifier.verify(&bad, now).is_err(), "{profile:?} accepted a tampered signature");
    }
}

fn tamper_signature(uri: &str) -> String {
    let Some(slash) = uri.get(1..).and_then(|r| r.find('/')).map(|i| i + 1) else {
        return uri.to_owned();
    };
    let (segment, rest) = uri.split_at(slash);
    let mut segment = segment.to_owned();
    let last = segment.pop().unwrap_or('A');
    segment.push(if last == 'A' { 'B' } else { 'A' });
    format!("{segment}{rest}")
}
