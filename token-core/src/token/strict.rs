//! The hardened profile. Order: size cap → token segment → revocation → path escape → JWT parts →
//! header (`alg` pinned to HS256, `kid` known) → MAC over the received bytes, compared in constant
//! time → claims (typed, no duplicates) → time → `exc` → `paths` → IP → internal signature.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;

use super::claims::Claims;
use super::error::{Malformed, VerifyError};
use super::ip::{self, Family};
use super::key::{KeySet, SigningKey};
use super::revocation::RevocationList;
use super::uri;
use super::verify::{Request, Verified, VerifyOptions};
use crate::encoding::{B64URL, ct_eq, decode_b64url};
use crate::time::UnixTime;

/// Shortest JWT the SMD edge accepts; kept here so both profiles agree on what a token is.
pub(crate) const MIN_JWT_CHARS: usize = 60;

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
}

pub(crate) fn verify(
    keys: &KeySet,
    revoked: Option<&RevocationList>,
    options: &VerifyOptions,
    request: &Request<'_>,
    now: UnixTime,
) -> Result<Verified, VerifyError> {
    let len = uri::segment_len(request.uri).ok_or(VerifyError::Malformed(Malformed::NoToken))?;
    if len > options.max_token_bytes {
        return Err(VerifyError::TooLarge { len, max: options.max_token_bytes });
    }
    let token = uri::split(request.uri)?;
    if let (Some(list), Some(sid)) = (revoked, token.session_id)
        && list.is_revoked(sid, now)
    {
        return Err(VerifyError::Revoked);
    }
    if uri::has_escape(token.after) {
        return Err(VerifyError::PathEscape);
    }
    if token.jwt.len() < MIN_JWT_CHARS {
        return Err(VerifyError::Malformed(Malformed::TooShort));
    }
    let (h64, p64, s64) = token.parts.ok_or(VerifyError::Malformed(Malformed::Segments))?;

    // Fast path: SMD writes exactly one header per kid, so compare the encoded bytes with each
    // key's before decoding anything. Any other header goes through the full parse.
    let key = match keys.iter().find(|k| k.header_b64() == h64) {
        Some(key) => key,
        None => {
            let header_bytes =
                B64URL.decode(h64).map_err(|_| VerifyError::Malformed(Malformed::Base64))?;
            let header: Header<'_> = serde_json::from_slice(&header_bytes)
                .map_err(|_| VerifyError::Malformed(Malformed::Header))?;
            if header.alg != "HS256" {
                return Err(VerifyError::Malformed(Malformed::Algorithm));
            }
            header.kid.as_deref().and_then(|kid| keys.get(kid)).ok_or(VerifyError::UnknownKid)?
        }
    };

    let signed_len = h64.len() + 1 + p64.len();
    let signed = token.jwt.get(..signed_len).ok_or(VerifyError::Malformed(Malformed::Segments))?;
    let expected = key.mac(&[signed.as_bytes()]);
    // Canonical base64url only (43 characters, no stray bits), then a constant-time compare.
    let given = decode_mac(s64).ok_or(VerifyError::BadSignature)?;
    if !ct_eq(&expected, &given) {
        return Err(VerifyError::BadSignature);
    }

    // Typical payloads decode into the stack; larger ones (up to the size cap) into the heap.
    let mut stack = [0u8; 2048];
    let mut heap = Vec::new();
    let out: &mut [u8] = if p64.len() <= 2728 {
        &mut stack
    } else {
        heap.resize(p64.len() / 4 * 3 + 2, 0);
        &mut heap
    };
    let n = decode_b64url(p64.as_bytes(), out).ok_or(VerifyError::Malformed(Malformed::Base64))?;
    let payload_bytes = out.get(..n).unwrap_or_default();
    let claims =
        Claims::parse(payload_bytes).map_err(|_| VerifyError::Malformed(Malformed::Payload))?;

    let leeway_ms = i64::from(options.leeway_secs) * 1000;
    let now_ms = now.as_millis();
    let exp = claims.exp.ok_or(VerifyError::Malformed(Malformed::MissingClaim))?;
    if now_ms > exp.saturating_mul(1000).saturating_add(leeway_ms) {
        return Err(VerifyError::Expired { exp });
    }
    if let Some(nbf) = claims.nbf
        && now_ms < nbf.saturating_mul(1000).saturating_sub(leeway_ms)
    {
        return Err(VerifyError::NotYetValid { nbf });
    }

    let verified = |excluded| Verified {
        forwarded_uri: token.forwarded_uri(),
        session_id: token.session_id.map(str::to_owned),
        kid: key.shared_kid(),
        excluded,
    };
    // Forwarded URI = before + after; `before` is empty for origin-form URIs, so prefix checks
    // run on `after` without building the string.
    let forwarded_starts_with = |prefix: &str| {
        if token.before.is_empty() {
            token.after.starts_with(prefix)
        } else {
            token.forwarded_uri().starts_with(prefix)
        }
    };
    if claims.exc.iter().any(|p| forwarded_starts_with(p)) {
        return Ok(verified(true));
    }
    let paths = claims.paths.as_ref().ok_or(VerifyError::Malformed(Malformed::MissingClaim))?;
    if !paths.iter().any(|p| forwarded_starts_with(p)) {
        return Err(VerifyError::PathNotAllowed);
    }

    let ip_spellings = if claims.ip {
        let family = match claims.ip_ver {
            Some(4) => Family::V4,
            Some(6) => Family::V6,
            _ => return Err(VerifyError::Malformed(Malformed::IpVersion)),
        };
        let (viewer_family, spellings) =
            request.viewer_ip.and_then(ip::strict_spellings).ok_or(VerifyError::IpMismatch)?;
        if viewer_family != family {
            return Err(VerifyError::IpMismatch);
        }
        spellings
    } else {
        Vec::new()
    };

    check_binding(key, &claims, token.session_id, request, &ip_spellings)?;
    Ok(verified(false))
}

/// Rebuilds the intsig input in the generator's order (ip, co, cty, reg, ssn, headers, qs) and
/// checks it: with `intsig` present the MAC must match (an empty input does not pass); without it
/// the input must be empty, since a generator only omits `intsig` when nothing was bound.
fn check_binding(
    key: &SigningKey,
    claims: &Claims<'_>,
    session_id: Option<&str>,
    request: &Request<'_>,
    ip_spellings: &[String],
) -> Result<(), VerifyError> {
    let mut rest = Joined::default();
    let mut push = |s: &str| rest.push(s);
    let geo = |name: &str, fallback: bool| -> Result<&str, VerifyError> {
        match request.header(name) {
            Some(v) => Ok(v),
            // The generator writes the text `undefined` for a missing geo value under a fallback.
            None if fallback => Ok("undefined"),
            None => Err(VerifyError::BindingMismatch),
        }
    };
    if claims.co {
        push(geo("cloudfront-viewer-country", claims.co_fallback)?);
    }
    if claims.cty {
        // Tokens do not record `cty_fallback`; a missing city rebuilds as `undefined` and the MAC
        // decides.
        push(geo("cloudfront-viewer-city", true)?);
    }
    if claims.reg {
        push(geo("cloudfront-viewer-country-region", claims.reg_fallback)?);
    }
    if claims.ssn {
        push(session_id.filter(|s| !s.is_empty()).ok_or(VerifyError::BindingMismatch)?);
    }
    for name in &claims.headers {
        if let Some(v) = request.header(name).filter(|v| !v.is_empty()) {
            push(v);
        }
    }
    for name in &claims.qs {
        if let Some(v) = request.query_param(name).filter(|v| !v.is_empty()) {
            push(v);
        }
    }

    let Some(intsig) = claims.intsig.as_deref() else {
        return if rest.as_bytes().is_empty() && !claims.ip {
            Ok(())
        } else {
            Err(VerifyError::BindingMismatch)
        };
    };
    let Some(given) = decode_mac(intsig) else { return Err(VerifyError::BindingMismatch) };
    let rest_bytes = rest.as_bytes();
    let matches = |ip: Option<&str>| {
        let expected = match ip {
            Some(ip) if rest_bytes.is_empty() => key.mac(&[ip.as_bytes()]),
            Some(ip) => key.mac(&[ip.as_bytes(), b":", rest_bytes]),
            None => key.mac(&[rest_bytes]),
        };
        ct_eq(&expected, &given)
    };
    let ok = if ip_spellings.is_empty() {
        matches(None)
    } else {
        // Evaluate every spelling so timing does not reveal which one matched.
        ip_spellings.iter().fold(false, |acc, ip| matches(Some(ip)) | acc)
    };
    match (ok, ip_spellings.is_empty(), rest_bytes.is_empty()) {
        (true, ..) => Ok(()),
        // Only the IP was bound, so the IP is what differs.
        (false, false, true) => Err(VerifyError::IpMismatch),
        (false, ..) => Err(VerifyError::BindingMismatch),
    }
}

/// A 32-byte MAC from its canonical unpadded base64url form (exactly 43 characters).
fn decode_mac(text: &str) -> Option<[u8; 32]> {
    if text.len() != 43 {
        return None;
    }
    let mut buf = [0u8; 32];
    match decode_b64url(text.as_bytes(), &mut buf) {
        Some(32) => Some(buf),
        _ => None,
    }
}

/// Items joined by `:`, on the stack while they fit in 1 KiB (the usual case: a session id and a
/// user agent), on the heap beyond.
struct Joined {
    stack: [u8; 1024],
    len: usize,
    heap: Option<Vec<u8>>,
}

impl Default for Joined {
    fn default() -> Self {
        Self { stack: [0; 1024], len: 0, heap: None }
    }
}

impl Joined {
    fn push(&mut self, item: &str) {
        let sep: &[u8] =
            if self.len == 0 && self.heap.as_ref().is_none_or(Vec::is_empty) { b"" } else { b":" };
        if let Some(heap) = &mut self.heap {
            heap.extend_from_slice(sep);
            heap.extend_from_slice(item.as_bytes());
            return;
        }
        let end = self.len + sep.len() + item.len();
        match self.stack.get_mut(self.len..end) {
            Some(dst) => {
                let (s, i) = dst.split_at_mut(sep.len());
                s.copy_from_slice(sep);
                i.copy_from_slice(item.as_bytes());
                self.len = end;
            }
            None => {
                let mut heap = Vec::with_capacity(end * 2);
                heap.extend_from_slice(self.stack.get(..self.len).unwrap_or_default());
                heap.extend_from_slice(sep);
                heap.extend_from_slice(item.as_bytes());
                self.heap = Some(heap);
            }
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.heap {
            Some(heap) => heap,
            None => self.stack.get(..self.len).unwrap_or_default(),
        }
    }
}
