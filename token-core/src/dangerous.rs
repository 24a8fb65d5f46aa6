//! Reading a token **without verifying it**. For inspection and debugging only: nothing returned
//! here is authenticated, and no access decision may rest on it.

use base64::Engine as _;

use crate::encoding::B64URL_LENIENT;
use crate::token::uri;

/// A token's parts, decoded but not verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Unverified {
    /// The session id prefix of the token segment, if any.
    pub session_id: Option<String>,
    /// The decoded JWT header.
    pub header: serde_json::Value,
    /// The decoded JWT payload (the claims).
    pub payload: serde_json::Value,
    /// The URI the edge would forward, when the input was a URL or path.
    pub forwarded_uri: Option<String>,
}

/// Why a token could not even be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No `<header>.<payload>.<signature>` token was found in the input.
    #[error(
        "no SMD token found (expected <sid>.<jwt>, <jwt>, or a URL whose first path segment is one)"
    )]
    NotFound,
    /// A part is not base64url-encoded JSON.
    #[error("token part is not base64url-encoded JSON")]
    Encoding,
}

/// Decodes a token given as a full URL, a URI path, `<sid>.<jwt>` or a bare JWT, **without
/// checking its signature**.
///
/// # Errors
/// [`DecodeError`] when no token is found or a part does not decode.
pub fn decode_unverified(input: &str) -> Result<Unverified, DecodeError> {
    let input = input.trim();
    let path = match input.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or(""),
        None => input,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let (session_id, jwt, forwarded_uri) = if path.starts_with('/') {
        let mut with_slash = path.to_owned();
        if uri::segment_len(path).is_some_and(|len| len + 1 == path.len()) {
            with_slash.push('/');
        }
        let t = uri::split(&with_slash).map_err(|_| DecodeError::NotFound)?;
        (t.session_id.map(str::to_owned), t.jwt.to_owned(), Some(t.forwarded_uri()))
    } else {
        let dots = path.bytes().filter(|&b| b == b'.').count();
        match (dots, path.split_once('.')) {
            (3, Some((sid, jwt))) => (Some(sid.to_owned()), jwt.to_owned(), None),
            _ => (None, path.to_owned(), None),
        }
    };
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DecodeError::NotFound);
    };
    let decode = |part: &str| -> Result<serde_json::Value, DecodeError> {
        let bytes = B64URL_LENIENT.decode(part).map_err(|_| DecodeError::Encoding)?;
        serde_json::from_slice(&bytes).map_err(|_| DecodeError::Encoding)
    };
    Ok(Unverified { session_id, header: decode(h)?, payload: decode(p)?, forwarded_uri })
}
