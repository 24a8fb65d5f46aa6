//! Token validation: the request facts it needs, the two profiles, and the outcome.

use super::error::VerifyError;
use super::key::KeySet;
use super::revocation::RevocationList;
use super::{compat, strict};
use crate::time::UnixTime;

/// Which rules a [`Verifier`] applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// The hardened default. Fixes the SMD defects: IPv6 compared as addresses; the intsig input
    /// rebuilt in the generator's order (so `cty` is checked against `cloudfront-viewer-city`);
    /// when a token carries `intsig` the MAC is always compared, and a token without `intsig` must
    /// not have bound attributes in the request; MACs compared in constant time; dot-segments,
    /// encoded separators, backslashes and NUL rejected in the forwarded URI; tokens over the size
    /// cap rejected before parsing; claims strictly typed, duplicate claims rejected; `exp`
    /// required; optional clock leeway.
    #[default]
    Strict,
    /// Reproduces the SMD CloudFront Function's outcome on every request, quirks included: its
    /// order of checks, the 60-character minimum, `exc` before `paths`, the edge intsig order (ip,
    /// co, reg, ssn, headers, qs; no `cty`), fallbacks that skip the whole intsig check, an empty
    /// intsig input that passes, IPv6 groups padded but `::` not expanded, no clock skew,
    /// JavaScript truthiness and coercions on claims.
    SmdCompat,
}

impl Profile {
    /// The profile's name on the command line and in configuration: `strict` or `smd-compat`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::SmdCompat => "smd-compat",
        }
    }
}

/// Options of a [`Verifier`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Which rules to apply. Defaults to [`Profile::Strict`].
    pub profile: Profile,
    /// Clock leeway in seconds applied to `exp` and `nbf` by the strict profile. Defaults to 0
    /// (SMD has none). Keep it small: it extends every token's life.
    pub leeway_secs: u32,
    /// Largest token path segment (`<sid>.<jwt>`) the strict profile parses, in bytes. Defaults to
    /// 8192 ([`DEFAULT_MAX_TOKEN_BYTES`]).
    pub max_token_bytes: usize,
}

/// Default size cap of a token segment: 8 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

impl Default for VerifyOptions {
    fn default() -> Self {
        Self { profile: Profile::Strict, leeway_secs: 0, max_token_bytes: DEFAULT_MAX_TOKEN_BYTES }
    }
}

/// The facts of one viewer request a token is checked against, in the CloudFront Functions event
/// shape: URI path (no query), viewer IP, headers and query parameters as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// The request URI path, token segment included (`/<sid>.<jwt>/out/v1/index.m3u8`).
    pub uri: &'a str,
    /// The viewer IP address (`event.viewer.ip`).
    pub viewer_ip: Option<&'a str>,
    /// Request headers as `(name, value)`; names in any case. When a name repeats, the first
    /// value counts.
    pub headers: &'a [(&'a str, &'a str)],
    /// Query parameters as `(name, value)`, values as they appear in the request (not decoded).
    pub query: &'a [(&'a str, &'a str)],
}

impl<'a> Request<'a> {
    /// The first value of header `name`, compared ASCII case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The first value of header `name` where the request's header name, lower-cased, equals
    /// `name` exactly (CloudFront Functions keys headers by lower-case name).
    pub(crate) fn header_lowercase_key(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| {
                n.len() == name.len()
                    && n.bytes().zip(name.bytes()).all(|(a, b)| a.to_ascii_lowercase() == b)
            })
            .map(|(_, v)| *v)
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// An accepted request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The URI to forward to the origin: the request URI without its token segment.
    pub forwarded_uri: String,
    /// The session id from the token segment, if any.
    pub session_id: Option<String>,
    /// The kid of the key that verified the token.
    pub kid: std::sync::Arc<str>,
    /// True when the URI matched an `exc` prefix, which skips the path and binding checks.
    pub excluded: bool,
}

/// Validates SMD tokens against a key set, an optional revocation list and a profile.
///
/// Build one per process (or per Lambda container) and call [`Verifier::verify`] per request.
///
/// # Examples
/// ```
/// use token_core::token::{sign, KeySet, Request, SigningKey, TokenPolicy, Verifier, ViewerAttributes};
/// use token_core::UnixTime;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let keys = KeySet::new(SigningKey::new("kid-1", "a key of at least thirty-two bytes!")?, None)?;
/// let now = UnixTime::from_secs(1_700_000_000);
/// let policy = TokenPolicy { paths: vec!["/out/".into()], exp: "+1h".into(), ..Default::default() };
/// let token = sign(&policy, &ViewerAttributes::default(), None, keys.primary(), now, &mut |_| {})?;
/// let uri = token.to_url("/out/v1/index.m3u8");
///
/// let verifier = Verifier::new(keys);
/// let ok = verifier.verify(&Request { uri: &uri, ..Default::default() }, now)?;
/// assert_eq!(ok.forwarded_uri, "/out/v1/index.m3u8");
///
/// let err = verifier.verify(&Request { uri: &uri, ..Default::default() }, UnixTime::from_secs(1_700_003_601)).unwrap_err();
/// assert_eq!(err.code(), "expired");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: KeySet,
    options: VerifyOptions,
    revoked: Option<RevocationList>,
}

impl Verifier {
    /// A strict verifier with default options and no revocation list.
    pub fn new(keys: KeySet) -> Self {
        Self { keys, options: VerifyOptions::default(), revoked: None }
    }

    /// Replaces the options.
    #[must_use]
    pub fn with_options(mut self, options: VerifyOptions) -> Self {
        self.options = options;
        self
    }

    /// Consults `list` on every request (code `revoked`).
    #[must_use]
    pub fn with_revocations(mut self, list: RevocationList) -> Self {
        self.revoked = Some(list);
        self
    }

    /// The options in force.
    pub fn options(&self) -> VerifyOptions {
        self.options
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Checks the token in `request.uri` at time `now`.
    ///
    /// # Errors
    /// A [`VerifyError`] naming why the request is rejected; see its variants for the codes.
    pub fn verify(&self, request: &Request<'_>, now: UnixTime) -> Result<Verified, VerifyError> {
        match self.options.profile {
            Profile::Strict => {
                strict::verify(&self.keys, self.revoked.as_ref(), &self.options, request, now)
            }
            Profile::SmdCompat => compat::verify(&self.keys, self.revoked.as_ref(), request, now),
        }
    }
}
