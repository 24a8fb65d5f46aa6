//! The `smd-compat` profile: the SMD CloudFront Function (`cff.js`, v1.2.6) step by step, with
//! JavaScript's truthiness, coercions and comparisons on the claims, so every request gets the
//! outcome the deployed function gives it.
//!
//! Known approximations: JSON is parsed as UTF-8 (the function runtime's byte strings are not
//! modelled); loops over array-like claims stop at 10 000 iterations (the function would exceed
//! its compute budget first); numbers print as JavaScript prints integers and ordinary decimals.

use base64::Engine as _;
use serde_json::Value;

use super::error::{Malformed, VerifyError};
use super::ip;
use super::key::{KeySet, SigningKey};
use super::policy::js_truthy;
use super::revocation::RevocationList;
use super::strict::MIN_JWT_CHARS;
use super::uri;
use super::verify::{Request, Verified};
use crate::encoding::{B64URL_LENIENT, b64url};
use crate::time::UnixTime;

const MAX_JS_LOOP: usize = 10_000;

pub(crate) fn verify(
    keys: &KeySet,
    revoked: Option<&RevocationList>,
    request: &Request<'_>,
    now: UnixTime,
) -> Result<Verified, VerifyError> {
    let token = uri::split(request.uri)?;
    // SMD's WAF rule group sees the request before the function does.
    if let (Some(list), Some(sid)) = (revoked, token.session_id)
        && list.is_revoked(sid, now)
    {
        return Err(VerifyError::Revoked);
    }
    if token.jwt.encode_utf16().count() < MIN_JWT_CHARS {
        return Err(VerifyError::Malformed(Malformed::TooShort));
    }
    let forwarded = token.forwarded_uri();
    let mut parts = token.jwt.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(Malformed::Segments));
    };
    let header = parse_json_part(h64)?;
    let payload = parse_json_part(p64)?;

    if !loose_eq_str(member(&header, "alg"), "HS256") {
        return Err(VerifyError::Malformed(Malformed::Algorithm));
    }
    let kid = member(&header, "kid").map_or_else(|| "undefined".to_owned(), js_to_string);
    let key = keys.get(&kid).ok_or(VerifyError::UnknownKid)?;
    let signed = token
        .jwt
        .get(..h64.len() + 1 + p64.len())
        .ok_or(VerifyError::Malformed(Malformed::Segments))?;
    if hmac_b64(key, signed) != s64 {
        return Err(VerifyError::BadSignature);
    }

    let now_ms = now.as_millis() as f64;
    if let Some(exp) = member(&payload, "exp").filter(|v| js_truthy(v))
        && now_ms > js_to_number(exp) * 1000.0
    {
        return Err(VerifyError::Expired { exp: js_to_number(exp) as i64 });
    }
    if let Some(nbf) = member(&payload, "nbf").filter(|v| js_truthy(v))
        && now_ms < js_to_number(nbf) * 1000.0
    {
        return Err(VerifyError::NotYetValid { nbf: js_to_number(nbf) as i64 });
    }

    let accepted = |excluded| Verified {
        forwarded_uri: forwarded.clone(),
        session_id: token.session_id.map(str::to_owned),
        kid: key.shared_kid(),
        excluded,
    };
    if array_like(member(&payload, "exc"))?.iter().any(|p| forwarded.starts_with(p.as_str())) {
        return Ok(accepted(true));
    }
    if !array_like(member(&payload, "paths"))?.iter().any(|p| forwarded.starts_with(p.as_str())) {
        return Err(VerifyError::PathNotAllowed);
    }

    let mut full_ip = None;
    if member(&payload, "ip").is_some_and(js_truthy) {
        let ip_ver =
            member(&payload, "ip_ver").filter(|v| js_truthy(v)).ok_or(VerifyError::IpMismatch)?;
        let viewer = request.viewer_ip.ok_or(VerifyError::IpMismatch)?;
        if viewer.contains('.') {
            if js_to_number(ip_ver) != 4.0 {
                return Err(VerifyError::IpMismatch);
            }
            full_ip = Some(viewer.to_owned());
        } else if viewer.contains(':') {
            if js_to_number(ip_ver) != 6.0 {
                return Err(VerifyError::IpMismatch);
            }
            full_ip = Some(ip::edge_pad_v6(viewer).ok_or(VerifyError::IpMismatch)?);
        } else {
            return Err(VerifyError::IpMismatch);
        }
    }

    if member(&payload, "intsig").is_some_and(js_truthy) {
        verify_intsig(key, &payload, token.session_id, request, full_ip.as_deref())?;
    }
    Ok(accepted(false))
}

/// `_verify_intsig` of the function: edge order ip, co, reg, ssn, headers, qs; a missing geo
/// header with its fallback set accepts at once; an empty input passes.
fn verify_intsig(
    key: &SigningKey,
    payload: &Value,
    session_id: Option<&str>,
    request: &Request<'_>,
    full_ip: Option<&str>,
) -> Result<(), VerifyError> {
    let truthy = |name: &str| member(payload, name).is_some_and(js_truthy);
    let mut input = String::new();
    let mut push = |s: &str| {
        input.push_str(s);
        input.push(':');
    };
    if truthy("ip") {
        push(full_ip.filter(|s| !s.is_empty()).ok_or(VerifyError::IpMismatch)?);
    }
    for (claim, header, fallback) in [
        ("co", "cloudfront-viewer-country", "co_fallback"),
        ("reg", "cloudfront-viewer-country-region", "reg_fallback"),
    ] {
        if truthy(claim) {
            match request.header_lowercase_key(header) {
                Some(v) => push(v),
                None if truthy(fallback) => return Ok(()),
                None => return Err(VerifyError::BindingMismatch),
            }
        }
    }
    if truthy("ssn") {
        push(session_id.filter(|s| !s.is_empty()).ok_or(VerifyError::BindingMismatch)?);
    }
    for (claim, lookup) in [("headers", true), ("qs", false)] {
        let Some(list) = member(payload, claim).filter(|v| js_truthy(v)) else { continue };
        // `forEach` exists only on arrays; anything else throws.
        let Value::Array(names) = list else {
            return Err(VerifyError::Malformed(Malformed::Payload));
        };
        for name in names {
            let name = js_to_string(name);
            let value = if lookup {
                request.header_lowercase_key(&name)
            } else {
                request.query_param(&name)
            };
            if let Some(v) = value {
                push(v);
            }
        }
    }
    input.pop();
    if input.is_empty() {
        return Ok(());
    }
    let expected = hmac_b64(key, &input);
    match member(payload, "intsig") {
        Some(Value::String(s)) if *s == expected => Ok(()),
        _ => Err(VerifyError::BindingMismatch),
    }
}

fn parse_json_part(part: &str) -> Result<Value, VerifyError> {
    let bytes =
        B64URL_LENIENT.decode(part).map_err(|_| VerifyError::Malformed(Malformed::Base64))?;
    // JSON.parse keeps the last of repeated keys, as serde_json's map does.
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed(Malformed::Payload))
}

fn member<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    v.as_object().and_then(|o| o.get(name))
}

fn hmac_b64(key: &SigningKey, msg: &str) -> String {
    b64url(&key.mac(&[msg.as_bytes()]))
}

/// The strings `for (i = 0; i < x.length; i++) … x[i]` visits, coerced by `startsWith`.
/// Missing or `null` throws in the function (a `TypeError`), so it rejects.
fn array_like(v: Option<&Value>) -> Result<Vec<String>, VerifyError> {
    let too_long = || VerifyError::Malformed(Malformed::Payload);
    match v {
        None | Some(Value::Null) => Err(VerifyError::Malformed(Malformed::MissingClaim)),
        Some(Value::Array(items)) => {
            if items.len() > MAX_JS_LOOP {
                return Err(too_long());
            }
            Ok(items.iter().map(js_to_string).collect())
        }
        Some(Value::String(s)) => {
            if s.len() > MAX_JS_LOOP {
                return Err(too_long());
            }
            Ok(s.encode_utf16().map(|u| String::from_utf16_lossy(&[u])).collect())
        }
        Some(Value::Object(obj)) => {
            let len = obj.get("length").map_or(f64::NAN, js_to_number);
            if len.is_nan() || len <= 0.0 {
                return Ok(Vec::new());
            }
            if len > MAX_JS_LOOP as f64 {
                return Err(too_long());
            }
            let n = len.ceil() as usize;
            Ok((0..n)
                .map(|i| {
                    obj.get(&i.to_string()).map_or_else(|| "undefined".to_owned(), js_to_string)
                })
                .collect())
        }
        Some(Value::Bool(_) | Value::Number(_)) => Ok(Vec::new()),
    }
}

/// `x == s` for a string `s`.
fn loose_eq_str(v: Option<&Value>, s: &str) -> bool {
    match v {
        Some(Value::String(x)) => x == s,
        Some(Value::Array(_)) => v.map(js_to_string).as_deref() == Some(s),
        Some(Value::Number(_) | Value::Bool(_)) => v.map(js_to_number) == s.parse::<f64>().ok(),
        _ => false,
    }
}

/// JavaScript `ToString`.
pub(crate) fn js_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => js_number_to_string(f),
            _ => "NaN".to_owned(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| if i.is_null() { String::new() } else { js_to_string(i) })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_owned(),
    }
}

fn js_number_to_string(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if f == f.trunc() && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// JavaScript `ToNumber`.
pub(crate) fn js_to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => string_to_number(s),
        Value::Array(items) => match items.as_slice() {
            [] => 0.0,
            [one] => string_to_number(&js_to_string(one)),
            _ => f64::NAN,
        },
        Value::Object(_) => f64::NAN,
    }
}

fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return u64::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64);
        }
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    if t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        t.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn javascript_coercions() {
        assert_eq!(js_to_number(&json!("1700000000")), 1_700_000_000.0);
        assert_eq!(js_to_number(&json!("")), 0.0);
        assert_eq!(js_to_number(&json!([5])), 5.0);
        assert!(js_to_number(&json!("12abc")).is_nan());
        assert!(js_to_number(&json!("inf")).is_nan());
        assert_eq!(js_to_number(&json!("0x10")), 16.0);
        assert_eq!(js_to_string(&json!(["a", null, 1])), "a,,1");
        assert_eq!(js_to_string(&json!(1.5)), "1.5");
        assert!(loose_eq_str(Some(&json!(["HS256"])), "HS256"));
        assert!(!loose_eq_str(Some(&json!("none")), "HS256"));
    }

    #[test]
    fn array_like_claims() {
        assert_eq!(array_like(Some(&json!("/a"))).unwrap(), ["/", "a"]);
        assert!(array_like(Some(&json!(5))).unwrap().is_empty());
        assert!(array_like(None).is_err());
        assert_eq!(array_like(Some(&json!({"length": 1, "0": "/x"}))).unwrap(), ["/x"]);
        assert!(array_like(Some(&json!({"length": 1e12}))).is_err());
    }
}
