//! `smd-cli ingest file`: CloudFront real-time log files (or standard input) into the local
//! Parquet lake (`<out>/requests`, `<out>/sessions`, `<out>/quarantine`).

use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use cmcd_ingest::field::FieldSet;
use cmcd_ingest::parquet::ParquetEncoder;
use cmcd_ingest::partition::source_name;
use cmcd_ingest::pipeline::{Config, Pipeline, Stats};
use cmcd_ingest::sink::{LocalDir, ReaderSource, Source as _};
use serde_json::json;

use crate::support::print_json;

/// `smd-cli ingest` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum IngestCommand {
    /// Ingest real-time log files (one line per record) into a local Parquet lake.
    ///
    /// Writes `<out>/requests/dt=YYYY-MM-DD/hour=HH/*.parquet` (one row per line),
    /// `<out>/sessions/…` (one row per CMCD session and hour) and `<out>/quarantine/…` (each bad
    /// line with its reason code). Bad lines never stop the run; the summary counts them by
    /// reason. Object names follow from the input name and line numbers, so ingesting the same
    /// file again replaces the same objects.
    ///
    /// The field list is the one of the real-time log configuration, in any order (CloudFront
    /// writes fields in its own canonical order): --fields with the names, or --log-config with
    /// the configuration JSON.
    ///
    /// Examples:
    ///   smd-cli ingest file --input edge.log --fields all --out lake
    ///   aws cloudfront get-realtime-log-config --name cdn-logs > cfg.json
    ///   zcat logs/*.gz | smd-cli ingest file --input - --log-config cfg.json --out lake
    ///   smd-cli --json ingest file --input a.log b.log \
    ///       --fields timestamp,c-ip,sc-status,cs-uri-stem,cs-uri-query,cs-headers --out lake
    ///
    /// A progress line (lines, MiB, lines/s, quarantined) goes to standard error on a terminal.
    /// Exit status: 0 when the lake was written (also with quarantined lines), 2 on a usage or
    /// I/O error.
    #[command(verbatim_doc_comment)]
    File(FileArgs),
    /// Consume a Kinesis data stream into the Parquet lake (S3 or a directory), exactly once.
    ///
    /// Reads the stream a CloudFront real-time log configuration writes to and writes its records
    /// to the lake (`requests` and `quarantine`; sessions need `ingest file`).
    ///
    /// Records are read shard by shard and written in ranges: a range ends after
    /// --max-range-records records, --max-range-bytes bytes or --flush-interval seconds. Before a
    /// range is written its first and last sequence numbers are recorded in the checkpoint store;
    /// after its objects are durable the shard's checkpoint moves to the last one. After a crash
    /// the next owner of the shard rewrites exactly that range (same object names, same rows), so
    /// the lake never loses or duplicates a row.
    ///
    /// Several processes can share a stream with --checkpoints dynamodb://TABLE (the table is
    /// created when absent): each takes a fair share of the shards, renews its leases, picks up
    /// the shards of a process that died (after --lease-duration) and, on SIGTERM or Ctrl-C,
    /// finishes its ranges in flight and hands its shards over at once. A closed shard's children
    /// are read only after the shard was read to its end.
    ///
    /// Examples:
    ///   smd-cli ingest kinesis --stream cdn-logs --out s3://lake-bucket/cdn \
    ///       --checkpoints dynamodb://cdn-leases
    ///   smd-cli ingest kinesis --stream cdn-logs --out ./lake --checkpoints file://cp.json \
    ///       --exit-when-idle 10
    ///   smd-cli ingest kinesis --stream s --endpoint http://127.0.0.1:4567 \
    ///       --out s3://b/lake --s3-endpoint http://127.0.0.1:5000 \
    ///       --checkpoints dynamodb://t --dynamodb-endpoint http://127.0.0.1:4570
    ///
    /// Progress goes to standard error every --progress-interval seconds (records/s, bytes/s,
    /// MillisBehindLatest per shard, leases held); with --json the periodic and final counters are
    /// JSON lines on standard output. Exit status: 0 after a graceful stop, 2 on a fatal error.
    #[cfg(feature = "kinesis")]
    #[command(verbatim_doc_comment)]
    Kinesis(Box<crate::cmd::ingest_kinesis::KinesisArgs>),
}

/// Arguments of `ingest file`.
#[derive(Debug, Args)]
pub(crate) struct FileArgs {
    /// Log files to read, `-` for standard input.
    #[arg(long = "input", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    /// The comma-separated field names of the real-time log configuration (any order), or
    /// `all` for every field (what `smd-cli edge serve` writes by default).
    #[arg(long, conflicts_with = "log_config")]
    fields: Option<String>,
    /// The real-time log configuration JSON (`aws cloudfront get-realtime-log-config` output).
    #[arg(long)]
    log_config: Option<PathBuf>,
    /// The lake directory.
    #[arg(long)]
    out: PathBuf,
    /// Rows per row group.
    #[arg(long, default_value_t = 32_768)]
    row_group_rows: usize,
    /// Finish a file at this size, MiB.
    #[arg(long, default_value_t = 128)]
    file_mib: u64,
    /// ZSTD level of the Parquet files, 1–22 (higher: smaller files, more CPU).
    #[arg(long, default_value_t = ParquetEncoder::DEFAULT_ZSTD_LEVEL)]
    zstd_level: i32,
}

pub(crate) fn run(cmd: IngestCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        IngestCommand::File(args) => file(args, json),
        #[cfg(feature = "kinesis")]
        IngestCommand::Kinesis(args) => crate::cmd::ingest_kinesis::run(*args, json),
    }
}

fn field_set(args: &FileArgs) -> anyhow::Result<FieldSet> {
    match (&args.fields, &args.log_config) {
        (Some(names), _) if names.trim() == "all" => Ok(FieldSet::all()),
        (Some(names), _) => Ok(FieldSet::parse_names(names)?),
        (None, Some(path)) => {
            let text = crate::support::read_text(path)?;
            FieldSet::from_config_json(&text).with_context(|| format!("reading {}", path.display()))
        }
        (None, None) => bail!("pass --fields NAMES or --log-config cfg.json"),
    }
}

fn file(args: FileArgs, json: bool) -> anyhow::Result<ExitCode> {
    let fields = field_set(&args)?;
    let config = Config {
        row_group_rows: args.row_group_rows.max(1),
        file_bytes: args.file_mib.max(1) * 1024 * 1024,
        ..Config::default()
    };
    let encoder = ParquetEncoder::with_zstd_level(args.zstd_level)?;
    let mut pipeline = Pipeline::new(fields, config, encoder, LocalDir::new(&args.out));
    let started = Instant::now();
    // Every input is checked before the first is read: a mistyped last input must not fail the
    // run after the others were ingested.
    for input in args.inputs.iter().filter(|i| i.as_os_str() != "-") {
        let meta =
            std::fs::metadata(input).with_context(|| format!("opening {}", input.display()))?;
        if meta.is_dir() {
            bail!("{} is a directory: pass log files, or - for standard input", input.display());
        }
    }
    if args.out.exists() && !args.out.is_dir() {
        bail!(
            "--out {} exists and is not a directory (the lake is a directory)",
            args.out.display()
        );
    }
    let progress = std::io::stderr().is_terminal() && !json;
    let mut last_report = Instant::now();
    for input in &args.inputs {
        let name = input.to_string_lossy();
        let source = source_name(&name);
        let reader: Box<dyn std::io::Read> = if name == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let file = File::open(input).with_context(|| format!("opening {}", input.display()))?;
            Box::new(file)
        };
        let mut lines = ReaderSource::new(reader, source);
        while let Some(batch) = lines.next_batch()? {
            pipeline.push_batch(&batch)?;
            if progress && last_report.elapsed().as_millis() >= 500 {
                last_report = Instant::now();
                print_progress(pipeline.stats(), started);
            }
        }
    }
    let (stats, _) = pipeline.finish()?;
    if progress {
        errout!("\r\x1b[K");
    }
    let secs = started.elapsed().as_secs_f64();
    if json {
        print_json(&json!({
            "lines": stats.lines,
            "bytes": stats.bytes,
            "rows": stats.rows,
            "quarantined": stats.quarantined,
            "cmcd_rows": stats.cmcd_rows,
            "cmcd_errors": stats.cmcd_errors,
            "headers_truncated": stats.headers_truncated,
            "smd_rows": stats.smd_rows,
            "session_rows": stats.session_rows,
            "late_rows": stats.late_rows,
            "objects": stats.objects,
            "object_bytes": stats.object_bytes,
            "seconds": secs,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{} lines ({:.1} MiB) in {:.2} s: {} rows, {} quarantined, {} session rows",
            stats.lines,
            mib(stats.bytes),
            secs,
            stats.rows,
            stats.quarantined_total(),
            stats.session_rows
        )?;
        for (reason, n) in &stats.quarantined {
            writeln!(out, "  quarantined {reason}: {n}")?;
        }
        writeln!(
            out,
            "  CMCD on {} rows ({} rejected payloads, {} truncated header blocks); SMD session on {}",
            stats.cmcd_rows, stats.cmcd_errors, stats.headers_truncated, stats.smd_rows
        )?;
        for (table, n) in &stats.objects {
            let bytes = stats.object_bytes.get(table).copied().unwrap_or(0);
            writeln!(out, "  {table}: {n} objects, {:.1} MiB", mib(bytes))?;
        }
        writeln!(out, "  lake: {}", args.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::cast_precision_loss)] // display only
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[allow(clippy::cast_precision_loss)] // display only
fn print_progress(stats: &Stats, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    errout!(
        "\r\x1b[K{} lines, {:.1} MiB, {:.0} lines/s, {} quarantined",
        stats.lines,
        mib(stats.bytes),
        stats.lines as f64 / secs,
        stats.quarantined_total()
    );
}
