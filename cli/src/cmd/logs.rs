//! `smd-cli logs generate`: synthetic CloudFront real-time log lines (all 69 fields) for
//! tests, benchmarks and the quickstart.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use cmcd_ingest::generate::{Config, Generator};
use serde_json::json;

use crate::support::print_json;

/// `smd-cli logs` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum LogsCommand {
    /// Write synthetic real-time log lines: ABR ladders, startup, rebuffers, seeks, live and
    /// VOD, CMCD v1 and v2 in query and headers, some broken players and some bad lines.
    ///
    /// Lines carry all 69 real-time log fields in CloudFront's canonical order; the summary
    /// prints that field list (the `fields` member with --json) for `ingest file --fields`. The
    /// same --seed and options give the same file, byte for byte.
    ///
    /// Examples:
    ///   smd-cli logs generate --sessions 50 --minutes 30 --out traffic.log
    ///   smd-cli ingest file --input traffic.log --fields all --out lake
    ///   smd-cli logs generate --sessions 700 --minutes 90 --lines 1000000 --out - | gzip > 1m.log.gz
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
}

/// Arguments of `logs generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Playback sessions.
    #[arg(long, default_value_t = 100)]
    sessions: u32,
    /// Length of the traffic window, minutes.
    #[arg(long, default_value_t = 10)]
    minutes: u32,
    /// Random seed (the same seed gives the same file).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Make one line in N bad (0: none).
    #[arg(long, default_value_t = 1000)]
    bad_every: u64,
    /// Stop after this many lines.
    #[arg(long)]
    lines: Option<u64>,
    /// Output file, `-` for standard output.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(cmd: LogsCommand, json: bool) -> anyhow::Result<ExitCode> {
    let LogsCommand::Generate(args) = cmd;
    let config = Config {
        sessions: args.sessions,
        minutes: args.minutes,
        seed: args.seed,
        bad_line_every: args.bad_every,
        ..Config::default()
    };
    let generator = Generator::new(config);
    let fields = generator.fields().names();
    let mut out: Box<dyn std::io::Write> = if args.out.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        let file =
            File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        Box::new(BufWriter::with_capacity(1 << 20, file))
    };
    let (mut lines, mut bytes) = (0u64, 0u64);
    let limit = args.lines.unwrap_or(u64::MAX);
    for line in generator.take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        lines += 1;
        bytes += line.len() as u64 + 1;
    }
    out.flush()?;
    drop(out);
    if args.out.as_os_str() != "-" {
        if json {
            print_json(&json!({"lines": lines, "bytes": bytes, "fields": fields}))?;
        } else {
            outln!("{lines} lines, {bytes} bytes → {}", args.out.display())?;
            outln!("fields: {fields}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
