//! `smd-cli revoke add | list | export-waf`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use token_core::token::{Revocation, RevocationList};

use crate::support::{self, print_json, read_text, write_atomic};

/// Revoked playback sessions. The list is a JSON file
/// `{"revoked": [{"session_id", "expires_at", "reason"}]}` that `verify --revoked` and the edge
/// package consult, and that exports to an AWS WAF rule group.
#[derive(Debug, Subcommand)]
pub(crate) enum RevokeCommand {
    /// Revoke one or more session ids (the <sid> of /<sid>.<jwt>/…).
    Add(AddArgs),
    /// List revocations.
    List {
        /// The revocation list file.
        #[arg(long, value_name = "FILE", default_value = "revoked.json")]
        revoked: PathBuf,
        /// Also list lapsed entries.
        #[arg(long)]
        all: bool,
        /// Reference time, seconds since the epoch (default: now).
        #[arg(long, value_name = "EPOCH")]
        now: Option<i64>,
    },
    /// Export the active revocations as an AWS WAFv2 rule group (scope CLOUDFRONT) that blocks
    /// `/<sid>.`; feed it to `aws wafv2 create-rule-group --cli-input-json file://…`.
    ExportWaf {
        /// The revocation list file.
        #[arg(long, value_name = "FILE", default_value = "revoked.json")]
        revoked: PathBuf,
        /// Rule-group name (rule names derive from it).
        #[arg(long, default_value = "smd-revoked-sessions")]
        name: String,
        /// Write the rule group here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Reference time, seconds since the epoch (default: now).
        #[arg(long, value_name = "EPOCH")]
        now: Option<i64>,
    },
}

/// `revoke add` arguments.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Session ids to revoke.
    #[arg(required = true)]
    session_ids: Vec<String>,
    /// The revocation list file (created if missing).
    #[arg(long, value_name = "FILE", default_value = "revoked.json")]
    revoked: PathBuf,
    /// How long the revocation lasts (default 7d, as SMD's manual revocations); set it to at
    /// least the token lifetime.
    #[arg(long = "for", value_name = "DURATION", default_value = "7d", conflicts_with_all = ["until", "permanent"])]
    duration: String,
    /// Revoked until this epoch second.
    #[arg(long, value_name = "EPOCH")]
    until: Option<i64>,
    /// Never lapse.
    #[arg(long)]
    permanent: bool,
    /// Why (kept for operators).
    #[arg(long, default_value = "COMPROMISED")]
    reason: String,
    /// Reference time, seconds since the epoch (default: now).
    #[arg(long, value_name = "EPOCH")]
    now: Option<i64>,
}

/// Runs a `revoke` subcommand.
pub(crate) fn run(cmd: RevokeCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        RevokeCommand::Add(args) => {
            let mut list = load(&args.revoked, true)?;
            let now = support::now(args.now);
            let expires_at = if args.permanent {
                None
            } else if let Some(until) = args.until {
                Some(until)
            } else {
                Some(now.as_secs() + support::parse_duration_secs(&args.duration)?)
            };
            for sid in &args.session_ids {
                if sid.is_empty()
                    || !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-~".contains(&b))
                {
                    bail!("{sid:?} is not a session id (A-Z a-z 0-9 _ - ~)");
                }
                list.add(Revocation {
                    session_id: sid.clone(),
                    expires_at,
                    reason: Some(args.reason.clone()),
                });
            }
            let pruned = list.prune(now);
            write_atomic(&args.revoked, list.to_json().as_bytes(), false)?;
            if json {
                print_json(
                    &json!({"revoked": args.session_ids, "expires_at": expires_at, "pruned": pruned}),
                )?;
            } else {
                let until = expires_at.map_or_else(
                    || "permanently".to_owned(),
                    |e| format!("until {}", support::rfc3339(e)),
                );
                errln!(
                    "revoked {} session(s) {until} in {}",
                    args.session_ids.len(),
                    args.revoked.display()
                );
            }
        }
        RevokeCommand::List { revoked, all, now } => {
            let list = load(&revoked, false)?;
            let now = support::now(now);
            let entries: Vec<&Revocation> =
                if all { list.revoked.iter().collect() } else { list.active(now).collect() };
            if json {
                print_json(&json!(entries))?;
            } else {
                for r in entries {
                    let until =
                        r.expires_at.map_or_else(|| "permanent".to_owned(), support::rfc3339);
                    outln!("{}\t{until}\t{}", r.session_id, r.reason.as_deref().unwrap_or(""))?;
                }
            }
        }
        RevokeCommand::ExportWaf { revoked, name, out, now } => {
            if name.is_empty()
                || name.len() > 100
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
            {
                bail!("rule-group name {name:?} must be 1-100 characters of A-Z a-z 0-9 _ -");
            }
            let list = load(&revoked, false)?;
            let group = list.to_waf_rule_group(&name, support::now(now));
            let text = serde_json::to_string_pretty(&group)? + "\n";
            match out {
                Some(path) => {
                    write_atomic(&path, text.as_bytes(), false)?;
                    errln!(
                        "wrote {} rule(s) to {}",
                        group["Rules"].as_array().map_or(0, Vec::len),
                        path.display()
                    );
                }
                None => out!("{text}")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load(path: &Path, create: bool) -> anyhow::Result<RevocationList> {
    if create && !path.exists() {
        return Ok(RevocationList::default());
    }
    RevocationList::from_json(&read_text(path)?)
        .with_context(|| format!("{} is not a revocation list", path.display()))
}
