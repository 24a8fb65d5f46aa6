//! Sans-IO core of the SMD toolkit: AWS "Secure Media Delivery at the Edge" (SMD) tokens and
//! Common Media Client Data (CMCD).
//!
//! - [`token`] signs SMD tokens byte-for-byte like the SMD SDK (v1.2.6) and validates them under
//!   two profiles: `strict` (the default, which fixes SMD's known defects) and `smd-compat`
//!   (which reproduces the SMD CloudFront Function's outcome on every request, quirks included).
//! - [`cmcd`] decodes and encodes CMCD (CTA-5004 v1 and v2).
//!
//! # Design: no I/O
//! This crate never reads the clock, the environment, files, the network or a random source, and
//! never logs. The time (`now`), keys and random bytes are arguments; outcomes are values. That
//! keeps it deterministic under test and lets the same code run natively, in the CLI, and as
//! WebAssembly at the edge (it builds for `wasm32-unknown-unknown` as-is).
//!
//! # Example
//! ```
//! use token_core::token::{sign, KeySet, Request, SigningKey, TokenPolicy, Verifier, ViewerAttributes};
//! use token_core::UnixTime;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = KeySet::new(SigningKey::new("kid-1", "a key of at least thirty-two bytes!")?, None)?;
//! let now = UnixTime::from_secs(1_700_000_000);
//! let policy = TokenPolicy {
//!     ssn: true,
//!     headers: vec!["user-agent".into()],
//!     paths: vec!["/out/v1/abc/".into()],
//!     exp: "+3h".into(),
//!     ..Default::default()
//! };
//! let viewer = ViewerAttributes {
//!     session_id: Some("abcDEF123456".into()),
//!     headers: vec![("user-agent".into(), "UA-1".into())],
//!     ..Default::default()
//! };
//! let token = sign(&policy, &viewer, None, keys.primary(), now, &mut |_| {})?;
//! let uri = token.to_url("/out/v1/abc/index.m3u8");
//! assert!(uri.starts_with("/abcDEF123456.eyJ"));
//!
//! let headers = [("User-Agent", "UA-1")];
//! let request = Request { uri: &uri, headers: &headers, ..Default::default() };
//! let accepted = Verifier::new(keys).verify(&request, now)?;
//! assert_eq!(accepted.forwarded_uri, "/out/v1/abc/index.m3u8");
//! # Ok(()) }
//! ```
//!
//! # Security
//! Handled: HS256 only (`alg: none` and every other algorithm rejected before any key is used);
//! MACs compared in constant time; keys zeroized on drop and redacted in `Debug`; token size
//! capped before parsing (8 KiB by default); path escapes (`..`, encoded separators, backslash,
//! NUL) rejected after the token is removed; rejections never carry secrets.
//! Not handled here: key storage and rotation schedules, replay of a valid token within its
//! lifetime by someone who holds it (bind IP, headers or a session to limit that), and TLS.

#![warn(clippy::indexing_slicing)]

pub mod cmcd;
pub mod dangerous;
mod encoding;
#[doc(hidden)]
pub mod fuzzing;
mod time;
pub mod token;

pub use time::UnixTime;

/// The version of this crate, for `--version` output and package metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
