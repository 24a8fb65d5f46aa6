//! `smd-cli athena ddl`: the `CREATE EXTERNAL TABLE` statements of the lake, generated from the
//! same schema definition the Parquet writer uses, plus the canned queries.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use cmcd_ingest::lake::PRESETS;
use cmcd_ingest::schema::athena_ddl;
use serde_json::json;

use crate::support::print_json;

/// `smd-cli athena` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AthenaCommand {
    /// Print the Athena DDL for the requests and sessions tables (partition projection on dt
    /// and hour), followed by the canned QoE queries.
    ///
    /// The DDL comes from the same column definitions the Parquet writer uses, with a comment
    /// on every column saying what it holds and, for the session metrics, how it is computed.
    /// Partition projection means no `MSCK REPAIR TABLE` and no crawler: new `dt`/`hour`
    /// partitions are visible as soon as their objects are.
    ///
    /// Examples:
    ///   smd-cli athena ddl --location s3://lake-bucket/cdn > lake.sql
    ///   smd-cli athena ddl --location s3://lake-bucket/cdn --database qoe --since 2026-01-01 --no-queries
    #[command(verbatim_doc_comment)]
    Ddl(DdlArgs),
}

/// Arguments of `athena ddl`.
#[derive(Debug, Args)]
pub(crate) struct DdlArgs {
    /// Where the lake lives: s3://bucket/prefix (the tables are <prefix>/requests and
    /// <prefix>/sessions).
    #[arg(long)]
    location: String,
    /// The Glue database.
    #[arg(long, default_value = "cdn_logs")]
    database: String,
    /// First day of the dt partition projection (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-01")]
    since: String,
    /// Print only the DDL, without the canned queries.
    #[arg(long)]
    no_queries: bool,
}

pub(crate) fn run(cmd: AthenaCommand, json: bool) -> anyhow::Result<ExitCode> {
    let AthenaCommand::Ddl(args) = cmd;
    if !args.location.starts_with("s3://") {
        anyhow::bail!("--location must be an s3:// URI, got {:?}", args.location);
    }
    if !args.database.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        anyhow::bail!("--database must be letters, digits and underscores");
    }
    let ddl = athena_ddl(&args.location, &args.database, &args.since);
    if json {
        let queries: serde_json::Map<String, serde_json::Value> =
            PRESETS.iter().map(|p| (p.name.to_owned(), json!(p.sql))).collect();
        print_json(&json!({"ddl": ddl, "queries": queries}))?;
        return Ok(ExitCode::SUCCESS);
    }
    out!("{ddl}")?;
    if !args.no_queries {
        for p in PRESETS {
            outln!("-- Query {}\n{}", p.name, p.sql.trim_end())?;
            outln!(";\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
