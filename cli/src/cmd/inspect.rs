//! `smd-cli inspect`: decode a token without verifying it.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use token_core::dangerous::decode_unverified;

use crate::support::{print_json, rfc3339};

/// Decode a token WITHOUT verifying it (header, claims, session id), for debugging.
///
/// Nothing printed here is authenticated: use `smd-cli verify` for access decisions.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// A signed URL, a URI path, `<sid>.<jwt>` or a bare JWT.
    token_or_url: String,
}

/// Runs `inspect`.
pub(crate) fn run(args: InspectArgs, json: bool) -> anyhow::Result<ExitCode> {
    let decoded = match decode_unverified(&args.token_or_url) {
        Ok(decoded) => decoded,
        Err(err) => {
            if json {
                print_json(
                    &json!({"verified": false, "error": "malformed", "detail": err.to_string()}),
                )?;
            } else {
                outln!("malformed")?;
                errln!("{err}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    if json {
        print_json(&json!({
            "verified": false,
            "session_id": decoded.session_id,
            "header": decoded.header,
            "claims": decoded.payload,
            "forwarded_uri": decoded.forwarded_uri,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("UNVERIFIED: decoded without checking the signature; do not trust these values")?;
    outln!("session id:    {}", decoded.session_id.as_deref().unwrap_or("(none)"))?;
    if let Some(uri) = &decoded.forwarded_uri {
        outln!("forwarded uri: {uri}")?;
    }
    outln!("header:        {}", decoded.header)?;
    for name in ["iat", "nbf", "exp"] {
        if let Some(secs) = decoded.payload.get(name).and_then(serde_json::Value::as_i64) {
            outln!("{name}:{:width$}{secs} ({})", "", rfc3339(secs), width = 14 - name.len() - 1)?;
        }
    }
    outln!("claims:\n{}", serde_json::to_string_pretty(&decoded.payload)?)?;
    Ok(ExitCode::SUCCESS)
}
