//! SMD tokens: what is signed, how it travels, how it is checked.
//!
//! # The token
//! A compact JWS (HS256) in the **first path segment** of the playback URL, optionally preceded
//! by a playback session id: `/<sid>.<header>.<payload>.<signature>/<path>` or
//! `/<header>.<payload>.<signature>/<path>`. The header is exactly
//! `{"alg":"HS256","typ":"JWT","kid":"<kid>"}`; the payload's claims, in the order the SMD SDK
//! writes them, are `ip, co, cty, reg, ssn, exp, headers, qs, [intsig], paths, exc, [ip_ver],
//! [co_fallback], [reg_fallback], [nbf], iat`.
//!
//! Viewer attributes (IP, geo headers, session id, chosen request headers and query parameters)
//! are not in the token; they are bound through `intsig`, an HMAC-SHA256 (same key, key text as
//! UTF-8) over their values joined by `:`. The edge removes the token segment and forwards the
//! rest of the URI, so relative references in HLS and DASH manifests keep the token.
//!
//! # Modules
//! [`sign()`] issues tokens byte-identical to the SMD SDK; [`Verifier`] checks them under a
//! [`Profile`]: `strict` (default, hardened) or `smd-compat` (the SMD CloudFront Function's
//! outcome on every request). [`KeySet`] holds the primary and secondary keys;
//! [`RevocationList`] revoked sessions and their AWS WAF export.
//!
//! # What this module does not do
//! It reads no clock, no key store and no randomness source: `now`, keys and random bytes are
//! arguments. It does not log; rejections are values with stable codes
//! ([`VerifyError::code`]). It does not issue the CTA-5007 (CWT) tokens of SMD's successor.

mod claims;
mod compat;
mod error;
mod ip;
mod json;
mod key;
mod mac;
mod policy;
mod revocation;
mod sha256;
mod sign;
mod strict;
pub(crate) mod uri;
mod verify;

pub use error::{KeyError, Malformed, SignError, VerifyError};
#[doc(hidden)]
pub use ip::expand_v6 as ip_expand_for_edge;
pub use key::{KEY_ENTROPY_BYTES, KeySet, SigningKey};
pub use policy::{TokenPolicy, ViewerAttributes};
pub use revocation::{Revocation, RevocationList};
pub use sign::{SignedToken, sign};
pub use verify::{DEFAULT_MAX_TOKEN_BYTES, Profile, Request, Verified, Verifier, VerifyOptions};
