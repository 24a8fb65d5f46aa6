//! `smd-cli quickstart`: the whole token workflow on embedded defaults, no AWS account needed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use token_core::UnixTime;
use token_core::token::{
    KEY_ENTROPY_BYTES, KeySet, Profile, Request, Revocation, RevocationList, TokenPolicy, Verifier,
    VerifyOptions, ViewerAttributes, sign,
};
use zeroize::Zeroizing;

use crate::support::{self, print_json, write_atomic};

const DEMO_URL: &str = "https://d111111abcdef8.cloudfront.net/out/v1/demo/index.m3u8";
const DEMO_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) quickstart-player/1.0";

/// Run the whole workflow on embedded defaults (no AWS account needed).
///
/// Generates keys, signs a playback URL bound to a session and a user agent, verify it as the edge would (strict and smd-compat), show
/// the rejections an attacker meets, revoke the session and export the AWS WAF rule group.
///
/// Then it runs the local edge on the built-in live loop channel, drives simulated players
/// (CMCD v1 and v2, some on slow links, a few with expired or tampered tokens) through it, and
/// writes the edge's CloudFront real-time log.
///
/// Everything is written to --dir (keys.json, revoked.json, waf-rule-group.json, edge.log).
#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    /// Working directory for the generated files.
    #[arg(long, default_value = "smd-quickstart")]
    dir: PathBuf,
    /// Simulated players.
    #[arg(long, default_value_t = 24)]
    players: usize,
    /// How long the players play: 30s, 2m, …
    #[arg(long, default_value = "30s")]
    duration: String,
}

struct Step {
    what: &'static str,
    expect: &'static str,
    got: String,
}

/// Runs `quickstart`.
pub(crate) fn run(args: QuickstartArgs, json: bool) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let now = support::now(None);
    let keys_path = args.dir.join("keys.json");
    let keys = if keys_path.exists() {
        support::load_keys(Some(&keys_path))?
    } else {
        let mut random = Zeroizing::new([0u8; KEY_ENTROPY_BYTES]);
        support::fill_random(random.as_mut());
        let keys = KeySet::generate(now, random.as_slice())?;
        write_atomic(&keys_path, keys.expose_json().as_bytes(), true)?;
        keys
    };
    progress(
        json,
        &format!("keys      {} (primary kid {})", keys_path.display(), keys.primary().kid()),
    );

    let policy = TokenPolicy {
        ssn: true,
        headers: vec!["user-agent".into()],
        paths: vec!["/out/v1/demo/".into()],
        exc: vec!["/ads/".into()],
        exp: "+1h".into(),
        ..Default::default()
    };
    let viewer = ViewerAttributes {
        headers: vec![("user-agent".into(), DEMO_UA.into())],
        ..Default::default()
    };
    let signed =
        sign(&policy, &viewer, Some(DEMO_URL), keys.primary(), now, &mut support::fill_random)?;
    let url = signed.to_url(DEMO_URL);
    let session = signed.session_id.unwrap_or_default();
    progress(json, &format!("signed    {url}"));

    let path = url.trim_start_matches("https://d111111abcdef8.cloudfront.net");
    let strict = Verifier::new(keys.clone());
    let compat = Verifier::new(keys.clone())
        .with_options(VerifyOptions { profile: Profile::SmdCompat, ..Default::default() });
    let check = |verifier: &Verifier, uri: &str, ua: &str, at: UnixTime| -> String {
        let headers = [("user-agent", ua)];
        match verifier.verify(
            &Request { uri, viewer_ip: Some("198.51.100.7"), headers: &headers, query: &[] },
            at,
        ) {
            Ok(ok) => format!("accepted {}", ok.forwarded_uri),
            Err(err) => err.code().to_owned(),
        }
    };
    let sibling = path.replace("index.m3u8", "index_1_00001.ts");
    let tampered = {
        let mut p = path.to_owned();
        let i = p.find("/out/").unwrap_or(p.len()).saturating_sub(1);
        p.replace_range(i..=i, if p.get(i..=i) == Some("A") { "B" } else { "A" });
        p
    };
    let escape = path.replace("/out/v1/demo/index.m3u8", "/out/v1/demo/../../private/key.bin");
    let mut steps = vec![
        Step {
            what: "playback (strict)",
            expect: "accepted /out/v1/demo/index.m3u8",
            got: check(&strict, path, DEMO_UA, now),
        },
        Step {
            what: "playback (smd-compat)",
            expect: "accepted /out/v1/demo/index.m3u8",
            got: check(&compat, path, DEMO_UA, now),
        },
        Step {
            what: "segment via relative URL",
            expect: "accepted /out/v1/demo/index_1_00001.ts",
            got: check(&strict, &sibling, DEMO_UA, now),
        },
        Step {
            what: "another user agent",
            expect: "binding_mismatch",
            got: check(&strict, path, "curl/8.5", now),
        },
        Step {
            what: "tampered signature",
            expect: "bad_signature",
            got: check(&strict, &tampered, DEMO_UA, now),
        },
        Step {
            what: "two hours later",
            expect: "expired",
            got: check(&strict, path, DEMO_UA, UnixTime::from_secs(now.as_secs() + 7200)),
        },
        Step {
            what: "path escape ../",
            expect: "path_escape",
            got: check(&strict, &escape, DEMO_UA, now),
        },
    ];

    let mut list = RevocationList::default();
    list.add(Revocation {
        session_id: session.clone(),
        expires_at: Some(now.as_secs() + 3600),
        reason: Some("QUICKSTART".into()),
    });
    write_atomic(&args.dir.join("revoked.json"), list.to_json().as_bytes(), false)?;
    let waf =
        serde_json::to_string_pretty(&list.to_waf_rule_group("smd-revoked-sessions", now))? + "\n";
    write_atomic(&args.dir.join("waf-rule-group.json"), waf.as_bytes(), false)?;
    let revoked = strict.with_revocations(list);
    steps.push(Step {
        what: "after `revoke add`",
        expect: "revoked",
        got: check(&revoked, path, DEMO_UA, now),
    });

    let token_checks_ok = steps.iter().all(|s| s.got == s.expect);

    // Part 2: the live edge with simulated players.
    let duration =
        std::time::Duration::from_secs(support::parse_duration_secs(&args.duration)? as u64);
    let log_path = args.dir.join("edge.log");
    let _ = std::fs::remove_file(&log_path);
    progress(
        json,
        &format!(
            "edge      live loop channel, {} players for {}s",
            args.players,
            duration.as_secs()
        ),
    );
    let ticker: Option<crate::sim::stack::Progress> =
        if json { None } else { Some(std::sync::Arc::new(|line: &str| errln!("{line}"))) };
    let load = crate::sim::stack::run(&keys, args.players, duration, &log_path, true, ticker)?;
    let edge_ok = load.sim.unexpected_rejections == 0 && load.edge_requests > 0;
    progress(
        json,
        &format!(
            "edge      {} requests ({:.0}/s), validation p99 {} µs, {} rebuffers, rejected {:?}",
            load.edge_requests,
            load.requests_per_second,
            load.validation_p99_us.unwrap_or(0),
            load.sim.rebuffers,
            load.rejections_by_code
        ),
    );

    // Part 3: the log into the lake, QoE numbers, the report.
    let lake = super::quickstart_lake::run(
        &log_path,
        &args.dir.join("lake"),
        &args.dir.join("report.html"),
    )?;
    let lake_ok = lake.json["sessions"].as_f64().is_some_and(|n| n > 0.0);
    progress(json, &lake.text);
    let all_ok = token_checks_ok && edge_ok && lake_ok;
    if json {
        print_json(&json!({
            "ok": all_ok,
            "dir": args.dir.display().to_string(),
            "kid": keys.primary().kid(),
            "session_id": session,
            "signed_url": url,
            "checks": steps.iter().map(|s| json!({"check": s.what, "expected": s.expect, "got": s.got})).collect::<Vec<_>>(),
            "edge": load,
            "lake": lake.json,
            "edge_log": log_path.display().to_string(),
        }))?;
    } else {
        outln!()?;
        for s in &steps {
            let mark = if s.got == s.expect { "ok  " } else { "FAIL" };
            outln!("{mark} {:<26} {}", s.what, s.got)?;
        }
        let edge_mark = if edge_ok { "ok  " } else { "FAIL" };
        outln!(
            "{edge_mark} {:<26} {} requests, {} players, {} rebuffers, rejected {:?}, unexpected {}",
            "live edge + players",
            load.edge_requests,
            load.sim.players,
            load.sim.rebuffers,
            load.rejections_by_code,
            load.sim.unexpected_rejections
        )?;
        outln!()?;
        outln!(
            "Files in {}: keys.json (secret, mode 600), revoked.json, waf-rule-group.json, edge.log (CloudFront real-time log), lake/ (Parquet), report.html",
            args.dir.display()
        )?;
        outln!(
            "Next: smd-cli sign --keys {} --url <your playback URL> --session",
            keys_path.display()
        )?;
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn progress(json: bool, line: &str) {
    if !json {
        errln!("{line}");
    }
}
