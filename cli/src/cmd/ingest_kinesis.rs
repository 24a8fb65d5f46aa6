//! `smd-cli ingest kinesis`: the long-running Kinesis consumer into the Parquet lake.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use cmcd_ingest::field::FieldSet;
use cmcd_ingest::kinesis::aws::{dynamodb_client, kinesis_client, sdk_config};
use cmcd_ingest::kinesis::lake::{LakeEncoder, open_lake};
use cmcd_ingest::kinesis::lease_dynamo::DynamoLeases;
use cmcd_ingest::kinesis::lease_file::FileLeases;
use cmcd_ingest::kinesis::lease_store::{LeaseStore, StoreUri};
use cmcd_ingest::kinesis::reader::StartAt;
use cmcd_ingest::kinesis::{Consumer, ConsumerConfig, Report, Snapshot};
use cmcd_ingest::parquet::ParquetEncoder;
use cmcd_ingest::pipeline::Config as IngestConfig;
use serde_json::json;

use crate::support::print_json;

/// Arguments of `ingest kinesis` (the help text is on the subcommand in `ingest.rs`).
#[derive(Debug, Args)]
pub(crate) struct KinesisArgs {
    /// The Kinesis data stream.
    #[arg(long)]
    stream: String,
    /// The lake: `s3://bucket/prefix` or a local directory.
    #[arg(long)]
    out: String,
    /// Checkpoints and leases: `dynamodb://TABLE` (shared by several processes) or
    /// `file://PATH` (one process).
    #[arg(long)]
    checkpoints: String,
    /// Where shards without a checkpoint start: `trim-horizon`, `latest` or
    /// `at-timestamp=2024-05-02T11:00:00Z`.
    #[arg(long, default_value = "trim-horizon")]
    start: String,
    /// Endpoint URL for every AWS service (local servers); the per-service flags win.
    #[arg(long)]
    endpoint: Option<String>,
    /// Kinesis endpoint URL.
    #[arg(long)]
    kinesis_endpoint: Option<String>,
    /// S3 endpoint URL (path-style addressing is used with an endpoint).
    #[arg(long)]
    s3_endpoint: Option<String>,
    /// DynamoDB endpoint URL.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// AWS region (default: the SDK's chain, e.g. AWS_REGION).
    #[arg(long)]
    region: Option<String>,
    /// This process's id in the lease table (default: host-pid-random). Reusing the id of a
    /// dead process reclaims its leases at once.
    #[arg(long)]
    worker_id: Option<String>,
    /// The comma-separated field names of the real-time log configuration (any order), or
    /// `all`.
    #[arg(long, default_value = "all")]
    fields: String,
    /// Write a range once it holds this many records.
    #[arg(long, default_value_t = 10_000)]
    max_range_records: usize,
    /// … or this many bytes of record data.
    #[arg(long, default_value_t = 64 << 20)]
    max_range_bytes: usize,
    /// … or once its oldest record is this many seconds old.
    #[arg(long, default_value_t = 60.0)]
    flush_interval: f64,
    /// Cap on record bytes buffered across all shards; past it the biggest buffer is written
    /// first and the other shards pause.
    #[arg(long, default_value_t = 256 << 20)]
    max_buffer_bytes: usize,
    /// Lease duration, seconds (renewed every third of it).
    #[arg(long, default_value_t = 10.0)]
    lease_duration: f64,
    /// List the stream's shards again every this many seconds.
    #[arg(long, default_value_t = 30.0)]
    list_interval: f64,
    /// Seconds between progress reports.
    #[arg(long, default_value_t = 10.0)]
    progress_interval: f64,
    /// Exit (0) once every held shard is drained or closed, nothing is left to take, and no
    /// record arrived for this many seconds (tests, backfills).
    #[arg(long)]
    exit_when_idle: Option<f64>,
}

fn secs(v: f64, name: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("--{name} must be a positive number"))
}

pub(crate) fn run(args: KinesisArgs, json: bool) -> anyhow::Result<ExitCode> {
    let fields = if args.fields.trim() == "all" {
        FieldSet::all()
    } else {
        FieldSet::parse_names(&args.fields)?
    };
    let start = StartAt::parse(&args.start)?;
    let store_uri = StoreUri::parse(&args.checkpoints)?;
    let worker_id = args.worker_id.clone().unwrap_or_else(default_worker_id);
    let mut config = ConsumerConfig::new(&args.stream, &worker_id);
    config.start = start;
    config.max_range_records = args.max_range_records.max(1);
    config.max_range_bytes = args.max_range_bytes.max(1);
    config.flush_interval = secs(args.flush_interval, "flush-interval")?;
    config.max_buffer_bytes = args.max_buffer_bytes.max(1);
    config.lease_duration = secs(args.lease_duration, "lease-duration")?;
    config.list_interval = secs(args.list_interval, "list-interval")?;
    config.progress_interval = secs(args.progress_interval, "progress-interval")?;
    config.exit_when_idle = args.exit_when_idle.map(|s| secs(s, "exit-when-idle")).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Registered first, so a SIGTERM during start-up is not fatal: it stops the run once it
        // begins.
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let conf = sdk_config(args.region.as_deref()).await;
        let kinesis_ep = args.kinesis_endpoint.as_deref().or(args.endpoint.as_deref());
        let dynamo_ep = args.dynamodb_endpoint.as_deref().or(args.endpoint.as_deref());
        let s3_ep = args.s3_endpoint.as_deref().or(args.endpoint.as_deref());
        let kinesis = kinesis_client(&conf, kinesis_ep);
        let store = match store_uri {
            StoreUri::File(path) => LeaseStore::File(FileLeases::open(path)?),
            StoreUri::Dynamo(table) => {
                LeaseStore::Dynamo(DynamoLeases::open(dynamodb_client(&conf, dynamo_ep), &table).await?)
            }
        };
        let sink = open_lake(&args.out, s3_ep, args.region.as_deref())
            .await
            .with_context(|| format!("opening the lake {}", args.out))?;
        let encoder = LakeEncoder::new(fields, IngestConfig::default(), ParquetEncoder::default());
        let consumer = Consumer::new(config, kinesis, store, encoder, sink);
        let stop = consumer.stop_handle();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            stop.stop();
        });
        errln!("smd-cli: ingest kinesis: worker {worker_id} reading stream {}", args.stream);
        let outcome = consumer
            .run(|report| match report {
                Report::Event(e) => {
                    let shard = e.shard.as_deref().map(|s| format!(" {s}:")).unwrap_or_default();
                    errln!("smd-cli: [{}] {}{shard} {}", e.level, e.code, e.message);
                }
                Report::Progress(s) => {
                    if json {
                        let _ = print_json(&snapshot_json("progress", s, &worker_id));
                    } else {
                        errln!("{}", progress_line(s));
                    }
                }
            })
            .await?;
        let s = &outcome.snapshot;
        if json {
            let mut v = snapshot_json("final", s, &worker_id);
            v["reason"] = json!(outcome.reason);
            print_json(&v)?;
        } else {
            writeln!(
                std::io::stdout().lock(),
                "stopped ({}): {} records ({:.1} MiB) in {:.1} s, {} ranges, {} objects, {} shards finished, {} leases lost, {} read retries, {} write retries",
                outcome.reason,
                s.records,
                mib(s.bytes),
                s.elapsed_s,
                s.ranges,
                s.objects,
                s.finished,
                s.lost,
                s.read_retries,
                s.write_retries
            )?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let mut r = [0u8; 4];
    crate::support::fill_random(&mut r);
    format!("{host}-{}-{:08x}", std::process::id(), u32::from_le_bytes(r))
}

#[allow(clippy::cast_precision_loss)] // display only
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn progress_line(s: &Snapshot) -> String {
    let shards: Vec<String> =
        s.shards.iter().map(|x| format!("{} {} ms", x.shard_id, x.millis_behind)).collect();
    format!(
        "progress: {:.0} rec/s, {:.2} MiB/s, {} records, {} ranges, {} leases [{}]",
        s.records_per_s,
        s.bytes_per_s / (1024.0 * 1024.0),
        s.records,
        s.ranges,
        s.leases,
        shards.join(", ")
    )
}

fn snapshot_json(kind: &str, s: &Snapshot, worker: &str) -> serde_json::Value {
    json!({
        "type": kind,
        "worker_id": worker,
        "elapsed_s": s.elapsed_s,
        "records": s.records,
        "bytes": s.bytes,
        "records_per_s": s.records_per_s,
        "bytes_per_s": s.bytes_per_s,
        "ranges": s.ranges,
        "objects": s.objects,
        "write_retries": s.write_retries,
        "read_retries": s.read_retries,
        "leases": s.leases,
        "finished_shards": s.finished,
        "lost_leases": s.lost,
        "shards": s.shards.iter().map(|x| json!({
            "shard_id": x.shard_id,
            "records": x.records,
            "bytes": x.bytes,
            "millis_behind_latest": x.millis_behind,
            "ranges": x.ranges,
            "buffered_bytes": x.buffered,
            "get_records_calls": x.calls,
            "read_retries": x.read_retries,
        })).collect::<Vec<_>>(),
    })
}
