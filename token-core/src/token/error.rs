//! Why a token was rejected, why a token could not be issued, why key material was refused.

use thiserror::Error;

/// Why a request's token was rejected.
///
/// Rejections are ordinary values on the hot path, not exceptional conditions. Each variant has a
/// stable machine code ([`VerifyError::code`]) used in metrics, CLI `--json` output and the edge's
/// log line; changing a code is a breaking change. No variant carries key material, and the
/// `Display` text is safe to log (it never contains the token's signature or a key).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The URI carries no token, or the token is not a well-formed SMD token (segment layout,
    /// base64url, JSON, claim types, a required claim missing, a header other than HS256).
    /// Code `malformed`.
    #[error("malformed token: {0}")]
    Malformed(Malformed),
    /// The token segment is longer than the profile's size cap. Code `too_large`.
    #[error("token segment of {len} bytes exceeds the {max}-byte cap")]
    TooLarge {
        /// Length of the token segment in bytes.
        len: usize,
        /// The cap in force.
        max: usize,
    },
    /// The header's `kid` names no key in the key set. Code `unknown_kid`.
    #[error("token key id is not in the key set")]
    UnknownKid,
    /// The HS256 signature does not match. Code `bad_signature`.
    #[error("token signature does not verify")]
    BadSignature,
    /// `now` is past `exp` (plus leeway). Code `expired`.
    #[error("token expired at {exp}")]
    Expired {
        /// The token's `exp`, in seconds since the epoch.
        exp: i64,
    },
    /// `now` is before `nbf` (minus leeway). Code `not_yet_valid`.
    #[error("token not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf`, in seconds since the epoch.
        nbf: i64,
    },
    /// The forwarded URI is under none of the token's `paths`. Code `path_not_allowed`.
    #[error("uri is not under any path the token grants")]
    PathNotAllowed,
    /// The token binds the viewer IP and the request's IP differs (or is missing, or of the other
    /// family). Code `ip_mismatch`.
    #[error("viewer ip does not match the token")]
    IpMismatch,
    /// The internal signature (`intsig`) over the bound viewer attributes does not match, or a
    /// bound attribute needed to rebuild it is missing. Code `binding_mismatch`.
    #[error("bound viewer attributes do not match the token")]
    BindingMismatch,
    /// The session id is on the revocation list. Code `revoked`.
    #[error("session is revoked")]
    Revoked,
    /// The URI left after removing the token escapes its path scope (dot-segments, encoded
    /// dot-segments or slashes, backslashes, NUL). Code `path_escape`.
    #[error("uri contains a path escape")]
    PathEscape,
}

impl VerifyError {
    /// Every code [`VerifyError::code`] can return, for documentation and metric registration.
    pub const CODES: &'static [&'static str] = &[
        "malformed",
        "too_large",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "path_not_allowed",
        "ip_mismatch",
        "binding_mismatch",
        "revoked",
        "path_escape",
    ];

    /// The stable machine code of this rejection.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge { .. } => "too_large",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::PathNotAllowed => "path_not_allowed",
            Self::IpMismatch => "ip_mismatch",
            Self::BindingMismatch => "binding_mismatch",
            Self::Revoked => "revoked",
            Self::PathEscape => "path_escape",
        }
    }

    /// The HTTP status an edge answers with: 403 for a revoked session (SMD blocks those in AWS
    /// WAF, whose default block response is 403), 401 for everything else (the SMD function's
    /// response).
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::Revoked => 403,
            _ => 401,
        }
    }
}

/// Which structural rule a malformed token broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Malformed {
    /// The URI has no token path segment (`/<token>/<path>`).
    #[error("no token path segment")]
    NoToken,
    /// The JWT is shorter than the 60 characters SMD requires.
    #[error("jwt shorter than 60 characters")]
    TooShort,
    /// The JWT does not have exactly three dot-separated parts.
    #[error("jwt does not have three parts")]
    Segments,
    /// A JWT part is not valid base64url.
    #[error("jwt part is not base64url")]
    Base64,
    /// The JWT header is not the JSON object SMD writes.
    #[error("jwt header is not valid json")]
    Header,
    /// The header's `alg` is not `HS256` (including `none`).
    #[error("jwt algorithm is not HS256")]
    Algorithm,
    /// The payload is not valid JSON, repeats a claim, or a claim has the wrong type.
    #[error("jwt payload is not valid")]
    Payload,
    /// A claim the profile requires (`exp`, `paths`) is missing.
    #[error("required claim missing")]
    MissingClaim,
    /// `ip` is set but `ip_ver` is missing or not 4 or 6.
    #[error("ip_ver claim missing or invalid")]
    IpVersion,
    /// A session id was needed but the token segment carries none.
    #[error("session id missing")]
    SessionId,
}

/// Why a token could not be issued.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignError {
    /// `exp` is neither `+<N>h`, `+<N>m` nor a positive epoch string.
    #[error("invalid exp {0:?}: expected \"+<N>h\", \"+<N>m\" or a positive epoch")]
    InvalidExp(String),
    /// `nbf` is not a positive epoch.
    #[error("invalid nbf {0:?}: expected a positive epoch")]
    InvalidNbf(String),
    /// The policy grants no path; SMD's edge rejects such tokens.
    #[error("policy has no paths")]
    NoPaths,
    /// `ip` is bound but the viewer IP is missing or not an IPv4/IPv6 address.
    #[error("viewer ip {0:?} is not an IPv4 or IPv6 address")]
    InvalidIp(String),
    /// A bound geo attribute (`co`, `cty`, `reg`) has no viewer value and no fallback.
    #[error("viewer attribute {0} is bound but missing")]
    MissingAttribute(&'static str),
    /// The session id would break the token segment (empty, or holds `.`, `/` or
    /// characters outside `A-Z a-z 0-9 _ - ~`).
    #[error("invalid session id: use 1-200 characters from A-Z a-z 0-9 _ - ~")]
    InvalidSessionId,
    /// `session_auto_generate` must be greater than 6 (SMD's rule).
    #[error("session_auto_generate must be greater than 6")]
    SessionLength,
    /// The requested kid is not in the key set.
    #[error("no key with the requested kid")]
    UnknownKid,
    /// A policy or viewer-attributes record has the wrong shape.
    #[error("invalid policy: {0}")]
    Policy(String),
}

impl SignError {
    /// The stable machine code of this error.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidExp(_) => "invalid_exp",
            Self::InvalidNbf(_) => "invalid_nbf",
            Self::NoPaths => "no_paths",
            Self::InvalidIp(_) => "invalid_ip",
            Self::MissingAttribute(_) => "missing_attribute",
            Self::InvalidSessionId => "invalid_session_id",
            Self::SessionLength => "session_length",
            Self::UnknownKid => "unknown_kid",
            Self::Policy(_) => "invalid_policy",
        }
    }
}

/// Why key material or a key set was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key-set JSON does not have the `{"primary": {kid: key}, "secondary": {kid: key}}` shape.
    #[error("key set is not {{\"primary\": {{kid: key}}, \"secondary\": {{kid: key}}}}: {0}")]
    Shape(String),
    /// A key or kid is empty.
    #[error("empty kid or key")]
    Empty,
    /// The same kid appears twice with different keys.
    #[error("kid {0:?} appears twice")]
    DuplicateKid(String),
    /// Not enough random bytes were supplied to generate a key.
    #[error("need {needed} random bytes, got {got}")]
    Entropy {
        /// Bytes required.
        needed: usize,
        /// Bytes supplied.
        got: usize,
    },
}

impl KeyError {
    /// The stable machine code of this error.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Shape(_) => "key_set_shape",
            Self::Empty => "empty_key",
            Self::DuplicateKid(_) => "duplicate_kid",
            Self::Entropy { .. } => "entropy",
        }
    }
}
