//! `smd-cli verify`: check a request's token the way the edge does.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use token_core::token::{Profile, Request};

use crate::support::{self, parse_header, print_json, read_json};

/// Validation rules.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ProfileArg {
    /// Hardened (default): fixes SMD's defects (IPv6 spelling, city binding, empty-binding
    /// bypass, path escapes, constant-time MACs, size cap, required exp).
    Strict,
    /// The SMD CloudFront Function's outcome on every request, quirks included.
    SmdCompat,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Strict => Self::Strict,
            ProfileArg::SmdCompat => Self::SmdCompat,
        }
    }
}

/// Verify the token in a request URL (or a CloudFront Functions viewer-request event).
///
/// Prints the URI the edge forwards (accepted, exit 0) or the rejection code (exit 1):
/// malformed, too_large, unknown_kid, bad_signature, expired, not_yet_valid, path_not_allowed,
/// ip_mismatch, binding_mismatch, revoked, path_escape. With --json:
/// {"accepted": bool, "forwarded_uri": string|null, "code": string|null}.
///
/// Examples:
///   smd-cli verify --keys keys.json --url "$SIGNED_URL" -H 'user-agent: Mozilla/5.0 …'
///   smd-cli verify --keys keys.json --event viewer-request.json --profile smd-compat
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    verifier: VerifierArgs,
    /// The request URL (absolute or a path); its query string is used for query bindings.
    #[arg(long, conflicts_with = "event", required_unless_present = "event")]
    url: Option<String>,
    /// A CloudFront Functions viewer-request event JSON ({"viewer": {"ip"}, "request": {"uri",
    /// "querystring", "headers", …}}); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// The viewer IP address (overrides the event's).
    #[arg(long)]
    ip: Option<String>,
    /// A request header, `name: value` (repeatable; added to the event's).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Verification time, seconds since the epoch (default: now).
    #[arg(long, value_name = "EPOCH")]
    now: Option<i64>,
}

/// Key set, profile, leeway and revocation list: shared by `verify`, `edge package` and
/// `edge serve`.
#[derive(Debug, Args)]
pub(crate) struct VerifierArgs {
    /// Key-set file; when absent the key set is read from $SMD_KEYS (the JSON itself).
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: Option<PathBuf>,
    /// Validation rules.
    #[arg(long, value_enum, default_value_t = ProfileArg::Strict)]
    pub(crate) profile: ProfileArg,
    /// A revocation list (see `smd-cli revoke`); revoked sessions get code `revoked` (HTTP 403).
    #[arg(long, value_name = "FILE")]
    pub(crate) revoked: Option<PathBuf>,
    /// Clock leeway in seconds for exp/nbf (strict profile only).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub(crate) leeway: u32,
}

impl VerifierArgs {
    /// The verifier these arguments describe.
    pub(crate) fn build(&self) -> anyhow::Result<token_core::token::Verifier> {
        support::build_verifier(
            self.keys.as_deref(),
            self.profile.into(),
            self.leeway,
            self.revoked.as_deref(),
        )
    }

    /// The profile's name.
    pub(crate) fn profile_name(&self) -> &'static str {
        Profile::from(self.profile).name()
    }
}

/// Runs `verify`.
pub(crate) fn run(args: VerifyArgs, json: bool) -> anyhow::Result<ExitCode> {
    let verifier = args.verifier.build()?;

    let mut facts = match (&args.url, &args.event) {
        (Some(url), _) => Facts::from_url(url),
        (None, Some(path)) => Facts::from_event(&read_json(path)?)
            .with_context(|| format!("reading {}", path.display()))?,
        (None, None) => bail!("pass --url or --event"),
    };
    if let Some(ip) = &args.ip {
        facts.ip = Some(ip.clone());
    }
    for header in &args.headers {
        facts.headers.push(parse_header(header)?);
    }
    let headers: Vec<(&str, &str)> =
        facts.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let query: Vec<(&str, &str)> =
        facts.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request = Request {
        uri: &facts.uri,
        viewer_ip: facts.ip.as_deref(),
        headers: &headers,
        query: &query,
    };

    let outcome = verifier.verify(&request, support::now(args.now));
    if json {
        print_json(&json!({
            "accepted": outcome.is_ok(),
            "forwarded_uri": outcome.as_ref().ok().map(|v| v.forwarded_uri.clone()),
            "code": outcome.as_ref().err().map(|e| e.code()),
        }))?;
    }
    match outcome {
        Ok(accepted) => {
            if !json {
                outln!("{}", accepted.forwarded_uri)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            if !json {
                outln!("{}", err.code())?;
                errln!(
                    "rejected ({}, HTTP {}): {err}",
                    args.verifier.profile_name(),
                    err.http_status()
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// The request facts, owned.
#[derive(Debug, Default)]
struct Facts {
    uri: String,
    ip: Option<String>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Facts {
    fn from_url(url: &str) -> Self {
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
            None => url,
        };
        let path = path.split('#').next().unwrap_or(path);
        let (uri, query) = path.split_once('?').unwrap_or((path, ""));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Self { uri: uri.to_owned(), query, ..Default::default() }
    }

    /// The CloudFront Functions event shape: `{name: {value, multiValue?}}` maps.
    fn from_event(event: &Value) -> anyhow::Result<Self> {
        let request = event.get("request").context("event has no \"request\"")?;
        let uri = request
            .get("uri")
            .and_then(Value::as_str)
            .context("event request has no \"uri\" string")?;
        let pairs = |name: &str| -> anyhow::Result<Vec<(String, String)>> {
            let Some(map) = request.get(name) else { return Ok(Vec::new()) };
            let map =
                map.as_object().with_context(|| format!("request.{name} is not an object"))?;
            map.iter()
                .map(|(k, v)| {
                    let value = v
                        .get("value")
                        .and_then(Value::as_str)
                        .with_context(|| format!("request.{name}.{k} has no \"value\" string"))?;
                    Ok((k.to_ascii_lowercase(), value.to_owned()))
                })
                .collect()
        };
        let headers = pairs("headers")?;
        // Query parameter names keep their case.
        let query = match request.get("querystring").and_then(Value::as_object) {
            Some(map) => map
                .iter()
                .filter_map(|(k, v)| {
                    v.get("value").and_then(Value::as_str).map(|s| (k.clone(), s.to_owned()))
                })
                .collect(),
            None => Vec::new(),
        };
        let ip = event
            .get("viewer")
            .and_then(|v| v.get("ip"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self { uri: uri.to_owned(), ip, headers, query })
    }
}
