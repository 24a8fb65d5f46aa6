//! `smd-cli edge package`: the deployable Lambda@Edge zip.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::verify::VerifierArgs;
use crate::support::{load_keys, print_json, write_atomic};
use token_core::token::Profile;

/// Lambda@Edge caps a viewer-request function's zip at 1 MB.
const VIEWER_ZIP_LIMIT: u64 = 1024 * 1024;
/// Files `scripts/build-edge.sh` leaves in the package directory.
const PKG_FILES: [&str; 4] = ["index.js", "smd-edge.js", "edge_wasm.js", "edge_wasm_bg.wasm"];

/// The token check at the edge (Lambda@Edge, viewer request).
#[derive(Debug, Subcommand)]
pub(crate) enum EdgeCommand {
    /// Build the deployable Lambda@Edge zip: handler + WebAssembly + bindings + config.json.
    ///
    /// config.json carries the key set, the options and the revocation list, because Lambda@Edge
    /// has no environment variables: rotating keys or revoking sessions means a new package
    /// version (package, publish, point the cache behaviour at the new version ARN). The zip
    /// holds secret keys; it is written readable by the owner only. Handler setting:
    /// `index.handler`, runtime Node.js 20 or later.
    Package(PackageArgs),
    /// Run a local edge: the token check in front of an origin, CloudFront-style logs, CORS.
    ///
    /// Validates the path token with the same token-core code the Lambda@Edge package runs, strips
    /// it, serves the origin, answers 401/403 on rejection and writes one CloudFront real-time log
    /// line per request (canonical field order, `-` for empty, cmcd-* fields from the request's
    /// CMCD) that `smd-cli ingest` reads unchanged.
    ///
    /// Examples:
    ///   smd-cli edge serve --origin ./media --keys keys.json --log edge.log
    ///   smd-cli edge serve --origin live --keys keys.json --log -      # built-in live loop channel
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
    /// Load-test the local edge: N simulated players on the live loop channel for a while.
    ///
    /// Reports requests/s, token validation latency (p50, p99) and rejections by code; exits 1
    /// if any player with a valid token was rejected.
    Load(LoadArgs),
}

/// `edge load` arguments.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Key-set file; when absent (and $SMD_KEYS unset) a throwaway key is generated.
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// Concurrent players.
    #[arg(long, default_value_t = 50)]
    players: usize,
    /// How long to play: 60s, 2m, …
    #[arg(long, default_value = "60s")]
    duration: String,
    /// Include players with expired and tampered tokens.
    #[arg(long)]
    bad_tokens: bool,
    /// Real-time log output (default: a file in the system temp directory, removed afterwards).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

/// `edge serve` arguments.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The origin: a directory, an http:// URL, or `live` for the built-in live loop channel
    /// (HLS under /live/: master.m3u8 over a 4-rung ladder, 2 s segments).
    #[arg(long, value_name = "DIR|URL|live")]
    origin: String,
    #[command(flatten)]
    verifier: VerifierArgs,
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// HTTP status for rejected tokens (revoked sessions always get 403).
    #[arg(long, value_name = "STATUS", value_enum, default_value_t = RejectStatus::Forbidden)]
    reject_status: RejectStatus,
    /// Where to write real-time log lines: a file (appended) or `-` for stdout.
    #[arg(long, value_name = "FILE|-")]
    log: Option<PathBuf>,
    /// Comma-separated CloudFront field names to log (default: all 69, canonical order).
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    log_fields: Vec<String>,
}

/// The status a rejected token gets.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum RejectStatus {
    /// 401 Unauthorized, as SMD's function answers.
    #[value(name = "401")]
    Unauthorized,
    /// 403 Forbidden.
    #[value(name = "403")]
    Forbidden,
}

impl RejectStatus {
    fn code(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
        }
    }
}

/// `edge package` arguments.
#[derive(Debug, Args)]
pub(crate) struct PackageArgs {
    #[command(flatten)]
    verifier: VerifierArgs,
    /// HTTP status for rejected tokens: 403, or 401 as SMD answers (revoked sessions always get 403).
    #[arg(long, value_name = "STATUS", value_enum, default_value_t = RejectStatus::Forbidden)]
    reject_status: RejectStatus,
    /// Directory built by scripts/build-edge.sh.
    #[arg(long, value_name = "DIR", env = "SMD_EDGE_PKG", default_value = "edge-wasm/pkg")]
    pkg: PathBuf,
    /// Where to write the zip.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Runs an `edge` subcommand.
pub(crate) fn run(cmd: EdgeCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        EdgeCommand::Package(args) => package(&args, json),
        EdgeCommand::Serve(args) => serve(&args, json),
        EdgeCommand::Load(args) => load(&args, json),
    }
}

fn package(args: &PackageArgs, json: bool) -> anyhow::Result<ExitCode> {
    for file in PKG_FILES {
        if !args.pkg.join(file).is_file() {
            bail!(
                "{} has no {file}; build the package first with scripts/build-edge.sh (or pass --pkg DIR)",
                args.pkg.display()
            );
        }
    }
    let keys = load_keys(args.verifier.keys.as_deref())?;
    let keys_json: Value =
        serde_json::from_str(&keys.expose_json()).context("re-reading the key set")?;
    let revoked = match &args.verifier.revoked {
        Some(path) => Some(serde_json::to_value(crate::support::load_revocations(path)?)?),
        None => None,
    };
    let profile: Profile = args.verifier.profile.into();
    let config = json!({
        "keys": keys_json,
        "revoked": revoked,
        "profile": profile.name(),
        "leewaySecs": args.verifier.leeway,
        "rejectStatus": args.reject_status.code(),
    });
    let config_text = serde_json::to_string_pretty(&config)? + "\n";

    let mut zip_bytes = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut zip_bytes);
        // Fixed timestamps and order: the same inputs give the same zip, byte for byte.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for file in PKG_FILES {
            let bytes =
                std::fs::read(args.pkg.join(file)).with_context(|| format!("reading {file}"))?;
            zip.start_file(file, options)?;
            zip.write_all(&bytes)?;
        }
        zip.start_file("config.json", options.unix_permissions(0o600))?;
        zip.write_all(config_text.as_bytes())?;
        zip.finish()?;
    }
    let zip_bytes = zip_bytes.into_inner();
    let zip_len = zip_bytes.len() as u64;
    if zip_len > VIEWER_ZIP_LIMIT {
        bail!("the package is {zip_len} bytes, over Lambda@Edge's 1 MB limit for viewer triggers");
    }
    write_atomic(&args.out, &zip_bytes, true)?;
    let wasm_len = file_len(&args.pkg.join("edge_wasm_bg.wasm"));
    if json {
        print_json(&json!({
            "path": args.out.display().to_string(),
            "zip_bytes": zip_len,
            "wasm_bytes": wasm_len,
            "limit_bytes": VIEWER_ZIP_LIMIT,
            "profile": profile.name(),
            "kids": keys.iter().map(|k| k.kid().to_owned()).collect::<Vec<_>>(),
            "revoked_sessions": config["revoked"]["revoked"].as_array().map_or(0, Vec::len),
        }))?;
    } else {
        outln!("{}", args.out.display())?;
        errln!(
            "edge package: {zip_len} bytes zipped ({:.1}% of the 1 MB Lambda@Edge limit), wasm {wasm_len} bytes, profile {}, keys {}",
            zip_len as f64 * 100.0 / VIEWER_ZIP_LIMIT as f64,
            profile.name(),
            keys.iter().map(|k| k.kid()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn serve(args: &ServeArgs, json: bool) -> anyhow::Result<ExitCode> {
    use crate::serve::{Edge, Origin, live, log, proxy};

    let verifier = args.verifier.build()?;
    let origin = if args.origin == "live" {
        let start =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Origin::Live(std::sync::Arc::new(live::LoopChannel::new("/live/", start, 2, 6)))
    } else if args.origin.starts_with("http://") || args.origin.starts_with("https://") {
        Origin::Url(Box::new(proxy::HttpOrigin::new(&args.origin)?))
    } else {
        let dir = PathBuf::from(&args.origin);
        anyhow::ensure!(
            dir.is_dir(),
            "origin {} is not a directory (or an http:// URL, or `live`)",
            dir.display()
        );
        Origin::Dir(dir)
    };
    let fields = if args.log_fields.is_empty() {
        cmcd_ingest::field::FieldSet::all()
    } else {
        cmcd_ingest::field::FieldSet::parse_names(&args.log_fields.join(","))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (sink, writer) = match &args.log {
            Some(path) => {
                let (sink, handle) = log::LogSink::start(path, fields)?;
                (Some(sink), Some(handle))
            }
            None => (None, None),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let status = hyper::StatusCode::from_u16(args.reject_status.code())?;
        let edge = std::sync::Arc::new(Edge::new(verifier, origin, sink, status));
        if json {
            print_json(&json!({"listening": format!("http://{addr}"), "profile": args.verifier.profile_name()}))?;
        } else {
            errln!("edge listening on http://{addr} (profile {}); Ctrl-C stops", args.verifier.profile_name());
        }
        let shutdown = shutdown_signal();
        crate::serve::serve(listener, std::sync::Arc::clone(&edge), shutdown).await?;
        drop(edge);
        if let Some(handle) = writer {
            // Open keep-alive connections hold the log sender; give them a moment to finish.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), handle).await;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn load(args: &LoadArgs, json: bool) -> anyhow::Result<ExitCode> {
    let keys = if args.keys.is_some() || std::env::var_os(crate::support::KEYS_ENV).is_some() {
        load_keys(args.keys.as_deref())?
    } else {
        let mut random = zeroize::Zeroizing::new([0u8; token_core::token::KEY_ENTROPY_BYTES]);
        crate::support::fill_random(random.as_mut());
        token_core::token::KeySet::generate(crate::support::now(None), random.as_slice())?
    };
    let duration =
        std::time::Duration::from_secs(crate::support::parse_duration_secs(&args.duration)? as u64);
    let temp_log = std::env::temp_dir().join(format!("smd-edge-load-{}.log", std::process::id()));
    let log_path = args.log.clone().unwrap_or_else(|| temp_log.clone());
    let progress: Option<crate::sim::stack::Progress> =
        if json { None } else { Some(std::sync::Arc::new(|line: &str| errln!("{line}"))) };
    if !json {
        errln!("{} players for {}s against the local edge…", args.players, duration.as_secs());
    }
    let report = crate::sim::stack::run(
        &keys,
        args.players,
        duration,
        &log_path,
        args.bad_tokens,
        progress,
    )?;
    if args.log.is_none() {
        let _ = std::fs::remove_file(&temp_log);
    }
    if json {
        print_json(&serde_json::to_value(&report)?)?;
    } else {
        outln!(
            "requests            {} ({:.0}/s)",
            report.edge_requests,
            report.requests_per_second
        )?;
        outln!(
            "validation latency  p50 {} µs, p99 {} µs",
            report.validation_p50_us.unwrap_or(0),
            report.validation_p99_us.unwrap_or(0)
        )?;
        outln!("rebuffers           {}", report.sim.rebuffers)?;
        outln!("rejections          {:?}", report.rejections_by_code)?;
        outln!("unexpected          {}", report.sim.unexpected_rejections)?;
    }
    Ok(if report.sim.unexpected_rejections == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
