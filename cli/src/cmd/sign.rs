//! `smd-cli sign`: issue a signed playback URL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;
use token_core::token::{TokenPolicy, ViewerAttributes, sign};

use crate::support::{self, load_keys, parse_header, print_json, read_json};

/// Sign a playback URL: the token becomes its first path segment.
///
/// Start from an SMD `token_policy` record (--policy) and `viewer_attributes` record (--viewer),
/// used verbatim, or from nothing; the flags below add to or override them. Without --path the
/// token grants the URL's directory (as SMD's demo does); without --ttl/--exp it lives one hour.
///
/// Examples:
///   smd-cli sign --keys keys.json --url https://d111.cloudfront.net/out/v1/abc/index.m3u8
///   smd-cli sign --keys keys.json --url https://cdn.example/live/index.m3u8 --ttl 6h \
///       --session --bind-header user-agent -H 'user-agent: Mozilla/5.0 …' --bind-ip 203.0.113.9
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct SignArgs {
    /// The playback URL (absolute, or a path starting with /).
    #[arg(long)]
    url: String,
    /// Key-set file; when absent the key set is read from $SMD_KEYS (the JSON itself).
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// Sign with this kid instead of the primary key.
    #[arg(long)]
    kid: Option<String>,
    /// An SMD token_policy JSON record (ip, co, reg, cty, ssn, headers, querystrings, paths, exc, nbf, exp, …).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// An SMD viewer_attributes JSON record (ip, co, cty, reg, sessionId, headers, qs).
    #[arg(long, value_name = "FILE")]
    viewer: Option<PathBuf>,
    /// Lifetime: 30m, 6h, 3600s, 1d (written as an absolute exp).
    #[arg(long, value_name = "DURATION", conflicts_with = "exp")]
    ttl: Option<String>,
    /// Absolute expiry, seconds since the epoch.
    #[arg(long, value_name = "EPOCH")]
    exp: Option<i64>,
    /// Not-before, seconds since the epoch.
    #[arg(long, value_name = "EPOCH")]
    nbf: Option<i64>,
    /// A path prefix the token grants (repeatable; replaces the policy's paths).
    #[arg(long = "path", value_name = "PREFIX")]
    paths: Vec<String>,
    /// A path prefix excluded from the path and binding checks (repeatable), e.g. /ads/.
    #[arg(long = "exclude", value_name = "PREFIX")]
    excludes: Vec<String>,
    /// Bind the viewer's IP address.
    #[arg(long, value_name = "IP")]
    bind_ip: Option<String>,
    /// Bind a request header's value (repeatable); give the value with -H.
    #[arg(long = "bind-header", value_name = "NAME")]
    bind_headers: Vec<String>,
    /// A viewer request header, `name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Bind a query parameter's value (repeatable); taken from --url's query or --query.
    #[arg(long = "bind-query", value_name = "NAME")]
    bind_queries: Vec<String>,
    /// A viewer query parameter, `name=value` (repeatable).
    #[arg(long = "query", value_name = "NAME=VALUE")]
    queries: Vec<String>,
    /// Bind the viewer country (cloudfront-viewer-country).
    #[arg(long, value_name = "CC")]
    bind_country: Option<String>,
    /// Bind the viewer region (cloudfront-viewer-country-region).
    #[arg(long, value_name = "REGION")]
    bind_region: Option<String>,
    /// Bind the viewer city (cloudfront-viewer-city; the SMD edge ignores it, strict checks it).
    #[arg(long, value_name = "CITY")]
    bind_city: Option<String>,
    /// Bind a generated playback session id (needed for revocation).
    #[arg(long)]
    session: bool,
    /// Bind this playback session id (A-Z a-z 0-9 _ - ~).
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
    /// Signing time, seconds since the epoch (default: now).
    #[arg(long, value_name = "EPOCH")]
    now: Option<i64>,
}

/// Runs `sign`.
pub(crate) fn run(args: SignArgs, json: bool) -> anyhow::Result<ExitCode> {
    let keys = load_keys(args.keys.as_deref())?;
    let key = match &args.kid {
        Some(kid) => {
            keys.get(kid).with_context(|| format!("no key with kid {kid:?} in the key set"))?
        }
        None => keys.primary(),
    };
    let mut policy = match &args.policy {
        Some(path) => TokenPolicy::from_smd_json(&read_json(path)?)
            .with_context(|| format!("reading {}", path.display()))?,
        None => TokenPolicy::default(),
    };
    let mut viewer = match &args.viewer {
        Some(path) => ViewerAttributes::from_smd_json(&read_json(path)?)
            .with_context(|| format!("reading {}", path.display()))?,
        None => ViewerAttributes::default(),
    };
    let now = support::now(args.now);

    if !args.paths.is_empty() {
        policy.paths = args.paths.clone();
    }
    if policy.paths.is_empty() {
        policy.paths = vec![default_path(&args.url)];
    }
    policy.exc.extend(args.excludes.iter().cloned());
    if let Some(ttl) = &args.ttl {
        policy.exp = (now.as_secs() + support::parse_duration_secs(ttl)?).to_string();
    }
    if let Some(exp) = args.exp {
        policy.exp = exp.to_string();
    }
    if policy.exp.is_empty() {
        policy.exp = "+1h".to_owned();
    }
    if let Some(nbf) = args.nbf {
        policy.nbf = Some(nbf);
    }
    if let Some(ip) = &args.bind_ip {
        policy.ip = true;
        viewer.ip = Some(ip.clone());
    }
    for (flag, value, attr) in [
        (&mut policy.co, &args.bind_country, &mut viewer.co),
        (&mut policy.reg, &args.bind_region, &mut viewer.reg),
        (&mut policy.cty, &args.bind_city, &mut viewer.cty),
    ] {
        if let Some(value) = value {
            *flag = true;
            *attr = Some(value.clone());
        }
    }
    for header in &args.headers {
        let (name, value) = parse_header(header)?;
        viewer.headers.retain(|(n, _)| *n != name);
        viewer.headers.push((name, value));
    }
    for name in &args.bind_headers {
        let name = name.to_ascii_lowercase();
        if viewer.header(&name).is_none_or(str::is_empty) {
            errln!(
                "smd-cli: warning: bound header {name:?} has no value (add -H '{name}: …'); the token binds its absence"
            );
        }
        if !policy.headers.contains(&name) {
            policy.headers.push(name);
        }
    }
    for pair in &args.queries {
        let (name, value) =
            pair.split_once('=').with_context(|| format!("--query {pair:?} is not name=value"))?;
        viewer.qs.push((name.to_owned(), value.to_owned()));
    }
    for name in &args.bind_queries {
        if !policy.querystrings.contains(name) {
            policy.querystrings.push(name.clone());
        }
    }
    if let Some(sid) = &args.session_id {
        policy.ssn = true;
        viewer.session_id = Some(sid.clone());
    }
    if args.session {
        policy.ssn = true;
    }

    let signed = sign(&policy, &viewer, Some(&args.url), key, now, &mut support::fill_random)
        .with_context(|| "cannot sign this policy")?;
    let url = signed.to_url(&args.url);
    if !url.contains(&signed.jwt) {
        bail!("internal error: the signed URL does not carry the token");
    }
    if json {
        let claims = token_core::dangerous::decode_unverified(&signed.jwt).ok().map(|u| u.payload);
        print_json(&json!({
            "url": url,
            "session_id": signed.session_id,
            "kid": key.kid(),
            "exp": claims.as_ref().and_then(|c| c.get("exp").cloned()),
            "paths": policy.paths,
            "token": signed.path_segment(),
        }))?;
    } else {
        outln!("{url}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The URL's directory with a trailing `/`, as SMD's demo derives `paths` from an asset URL.
fn default_path(url: &str) -> String {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"),
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    match path.rfind('/') {
        Some(i) => path.get(..=i).unwrap_or("/").to_owned(),
        None => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_is_the_directory() {
        assert_eq!(default_path("https://h/out/v1/abc/index.m3u8?x=1"), "/out/v1/abc/");
        assert_eq!(default_path("https://h"), "/");
        assert_eq!(default_path("/a/b.mpd"), "/a/");
    }
}
