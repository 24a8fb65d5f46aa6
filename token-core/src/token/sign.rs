//! Token generation, byte-identical to the SMD SDK (v1.2.6).

use super::error::SignError;
use super::ip;
use super::json;
use super::key::SigningKey;
use super::policy::{TokenPolicy, ViewerAttributes, parse_int_prefix};
use crate::encoding::b64url;
use crate::time::UnixTime;

/// The alphabet of generated session ids (SMD's, in its order).
const SESSION_ALPHABET: &[u8; 62] =
    b"AaBbCcDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtUuVvWwXxYyZz1234567890";

/// A signed token and where it goes in a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedToken {
    /// The playback session id, present when the policy binds a session (`ssn`).
    pub session_id: Option<String>,
    /// The compact JWS `<header>.<payload>.<signature>`.
    pub jwt: String,
    /// The text the internal signature was computed over, if any. It holds viewer attributes
    /// (IP, headers), never key material; SMD logs it to debug binding failures.
    pub intsig_input: Option<String>,
}

impl SignedToken {
    /// The URL path segment: `<sid>.<jwt>` or `<jwt>`.
    pub fn path_segment(&self) -> String {
        match &self.session_id {
            Some(sid) => format!("{sid}.{}", self.jwt),
            None => self.jwt.clone(),
        }
    }

    /// Inserts the token as the first path segment of `url` as the SDK does:
    /// `https://host/path` → `https://host/<segment>/path`; a bare path `/path` → `/<segment>/path`.
    pub fn to_url(&self, url: &str) -> String {
        let segment = self.path_segment();
        if url.contains("://") {
            let mut parts: Vec<&str> = url.split('/').collect();
            let at = parts.len().min(3);
            parts.insert(at, &segment);
            parts.join("/")
        } else {
            let path = url.strip_prefix('/').unwrap_or(url);
            format!("/{segment}/{path}")
        }
    }
}

/// Signs a token for `viewer` under `policy` with `key`, at time `now`.
///
/// `playback_url` (optional) is where bound query parameters are looked up first, before
/// `viewer.qs`. `random` fills a buffer with cryptographically random bytes; it is called only
/// when the policy binds a session and the viewer has no session id.
///
/// The output is byte-identical to the SMD SDK for the same inputs, with one deliberate
/// difference: the SDK parses the whole playback URL as a query string, so it never finds the
/// URL's first query parameter (defect D6); this function reads the URL's query properly.
///
/// # Errors
/// See [`SignError`]: bad `exp`, missing bound attributes, an invalid IP or session id, no paths.
///
/// # Examples
/// ```
/// use token_core::token::{sign, SigningKey, TokenPolicy, ViewerAttributes};
/// use token_core::UnixTime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let key = SigningKey::new("kid-1", "a key of at least thirty-two bytes!")?;
/// let policy = TokenPolicy { paths: vec!["/out/v1/abc/".into()], exp: "+1h".into(), ..Default::default() };
/// let token = sign(&policy, &ViewerAttributes::default(), None, &key, UnixTime::from_secs(1_700_000_000), &mut |_| {})?;
/// assert!(token.to_url("https://d111.cloudfront.net/out/v1/abc/index.m3u8").starts_with("https://d111.cloudfront.net/eyJ"));
/// # Ok(()) }
/// ```
pub fn sign(
    policy: &TokenPolicy,
    viewer: &ViewerAttributes,
    playback_url: Option<&str>,
    key: &SigningKey,
    now: UnixTime,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<SignedToken, SignError> {
    if policy.paths.is_empty() {
        return Err(SignError::NoPaths);
    }
    let now_secs = now.as_secs();
    let exp = parse_exp(&policy.exp, now_secs)?;
    if let Some(nbf) = policy.nbf
        && nbf <= 0
    {
        return Err(SignError::InvalidNbf(nbf.to_string()));
    }

    let mut intsig_items: Vec<String> = Vec::new();
    let mut ip_ver = None;
    if policy.ip {
        let raw = viewer.ip.as_deref().unwrap_or_default();
        let (family, text) =
            ip::for_signing(raw).ok_or_else(|| SignError::InvalidIp(raw.to_owned()))?;
        ip_ver = Some(if family == ip::Family::V4 { 4 } else { 6 });
        intsig_items.push(text);
    }
    if policy.co {
        intsig_items.push(geo_value(viewer.co.as_deref(), policy.co_fallback, "co")?);
    }
    if policy.cty {
        intsig_items.push(geo_value(viewer.cty.as_deref(), policy.cty_fallback, "cty")?);
    }
    if policy.reg {
        intsig_items.push(geo_value(viewer.reg.as_deref(), policy.reg_fallback, "reg")?);
    }
    let session_id = if policy.ssn {
        let sid = match viewer.session_id.as_deref().filter(|s| !s.is_empty()) {
            Some(given) => {
                check_session_id(given)?;
                given.to_owned()
            }
            None => generate_session_id(policy.session_auto_generate.unwrap_or(12), random)?,
        };
        intsig_items.push(sid.clone());
        Some(sid)
    } else {
        None
    };
    for name in &policy.headers {
        if let Some(v) = viewer.header(name).filter(|v| !v.is_empty()) {
            intsig_items.push(v.to_owned());
        }
    }
    let url_query =
        playback_url.and_then(|u| u.split_once('?')).map(|(_, q)| q.split('#').next().unwrap_or(q));
    for name in &policy.querystrings {
        let from_url = url_query.and_then(|q| query_value(q, name)).filter(|v| !v.is_empty());
        if let Some(v) = from_url.or_else(|| viewer.query(name).filter(|v| !v.is_empty())) {
            intsig_items.push(v.to_owned());
        }
    }

    let intsig_input = (!intsig_items.is_empty()).then(|| intsig_items.join(":"));
    let intsig = intsig_input.as_deref().map(|input| hmac_b64(key, input.as_bytes()));

    let mut payload = String::with_capacity(256);
    payload.push('{');
    for (i, (name, on)) in [
        ("ip", policy.ip),
        ("co", policy.co),
        ("cty", policy.cty),
        ("reg", policy.reg),
        ("ssn", policy.ssn),
    ]
    .into_iter()
    .enumerate()
    {
        json::push_key(&mut payload, name, i == 0);
        payload.push_str(if on { "true" } else { "false" });
    }
    json::push_key(&mut payload, "exp", false);
    payload.push_str(&exp.to_string());
    json::push_key(&mut payload, "headers", false);
    json::push_str_array(&mut payload, &policy.headers);
    json::push_key(&mut payload, "qs", false);
    json::push_str_array(&mut payload, &policy.querystrings);
    if let Some(intsig) = &intsig {
        json::push_key(&mut payload, "intsig", false);
        json::push_str(&mut payload, intsig);
    }
    json::push_key(&mut payload, "paths", false);
    json::push_str_array(&mut payload, &policy.paths);
    json::push_key(&mut payload, "exc", false);
    json::push_str_array(&mut payload, &policy.exc);
    if let Some(v) = ip_ver {
        json::push_key(&mut payload, "ip_ver", false);
        payload.push_str(if v == 4 { "4" } else { "6" });
    }
    if policy.co && policy.co_fallback {
        json::push_key(&mut payload, "co_fallback", false);
        payload.push_str("true");
    }
    if policy.reg && policy.reg_fallback {
        json::push_key(&mut payload, "reg_fallback", false);
        payload.push_str("true");
    }
    if let Some(nbf) = policy.nbf {
        json::push_key(&mut payload, "nbf", false);
        payload.push_str(&nbf.to_string());
    }
    json::push_key(&mut payload, "iat", false);
    payload.push_str(&now_secs.to_string());
    payload.push('}');

    let mut jwt = key.header_b64().to_owned();
    jwt.push('.');
    jwt.push_str(&b64url(payload.as_bytes()));
    let signature = hmac_b64(key, jwt.as_bytes());
    jwt.push('.');
    jwt.push_str(&signature);

    Ok(SignedToken { session_id, jwt, intsig_input })
}

/// `exp` as the SDK computes it: `+<N>h` and `+<N>m` relative to `now` (with JavaScript
/// `parseInt` on N), anything else an absolute epoch that must be positive.
fn parse_exp(exp: &str, now_secs: i64) -> Result<i64, SignError> {
    let invalid = || SignError::InvalidExp(exp.to_owned());
    if let Some(rel) = exp.strip_prefix('+') {
        let (unit, scale) = match rel.as_bytes().last() {
            Some(b'h') => ('h', 3600),
            Some(b'm') => ('m', 60),
            _ => return Err(invalid()),
        };
        let n = parse_int_prefix(rel.trim_end_matches(unit)).ok_or_else(invalid)?;
        return n.checked_mul(scale).and_then(|d| now_secs.checked_add(d)).ok_or_else(invalid);
    }
    match parse_int_prefix(exp) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(invalid()),
    }
}

fn geo_value(value: Option<&str>, fallback: bool, name: &'static str) -> Result<String, SignError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        // The SDK writes the JavaScript text of a missing value; such a token only verifies where
        // the header is also missing and the fallback skips the check.
        _ if fallback => Ok("undefined".to_owned()),
        _ => Err(SignError::MissingAttribute(name)),
    }
}

/// Checks that a caller-given session id keeps the token segment parseable.
pub(crate) fn check_session_id(sid: &str) -> Result<(), SignError> {
    let ok = (1..=200).contains(&sid.len())
        && sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'~');
    if ok { Ok(()) } else { Err(SignError::InvalidSessionId) }
}

/// A session id of `len` characters from SMD's 62-character alphabet, uniformly distributed
/// (rejection sampling over the caller's random bytes).
pub(crate) fn generate_session_id(
    len: u32,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<String, SignError> {
    if len <= 6 || len > 200 {
        return Err(SignError::SessionLength);
    }
    let len = len as usize;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        random(&mut buf);
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would bias the first characters.
            if b < 248
                && out.len() < len
                && let Some(&c) = SESSION_ALPHABET.get(usize::from(b % 62))
            {
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

pub(crate) fn hmac_b64(key: &SigningKey, msg: &[u8]) -> String {
    b64url(&key.mac(&[msg]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_forms() {
        assert_eq!(parse_exp("+3h", 1000), Ok(1000 + 3 * 3600));
        assert_eq!(parse_exp("+30m", 1000), Ok(1000 + 1800));
        assert_eq!(parse_exp("+1.5h", 0), Ok(3600), "parseInt truncates, as the SDK does (D10)");
        assert_eq!(parse_exp("1700003600", 0), Ok(1_700_003_600));
        assert!(parse_exp("+3d", 0).is_err());
        assert!(parse_exp("0", 0).is_err());
        assert!(parse_exp("", 0).is_err());
        assert!(parse_exp("+h", 0).is_err());
    }

    #[test]
    fn session_ids_are_uniform_alphabet() {
        let mut counter = 0u8;
        let mut rng = |buf: &mut [u8]| {
            for b in buf {
                *b = counter;
                counter = counter.wrapping_add(1);
            }
        };
        let sid = generate_session_id(12, &mut rng).unwrap();
        assert_eq!(sid, "AaBbCcDdEeFf");
        assert!(generate_session_id(6, &mut rng).is_err());
        assert!(check_session_id("abc.def").is_err());
        assert!(check_session_id("abc/def").is_err());
        assert!(check_session_id("").is_err());
        assert!(check_session_id("abcDEF123456").is_ok());
    }

    #[test]
    fn url_insertion() {
        let t =
            SignedToken { session_id: Some("s".into()), jwt: "h.p.s".into(), intsig_input: None };
        assert_eq!(t.to_url("https://h/out/a.m3u8"), "https://h/s.h.p.s/out/a.m3u8");
        assert_eq!(t.to_url("https://h"), "https://h/s.h.p.s");
        assert_eq!(t.to_url("/out/a.m3u8"), "/s.h.p.s/out/a.m3u8");
    }
}
