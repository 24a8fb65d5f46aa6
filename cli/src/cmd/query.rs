//! `smd-cli query`: SQL over the local lake (`requests`, `sessions`) with polars SQL, or one of
//! the canned QoE queries.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use cmcd_ingest::lake::{self, PRESETS};

use crate::support::print_json;

/// Arguments of `query`.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The lake directory (as written by `ingest file --out`).
    #[arg(long)]
    lake: PathBuf,
    /// A canned query: rebuffering_ratio, startup, bitrate_distribution, sessions_by_edge,
    /// sessions_by_country, errors.
    #[arg(long, conflicts_with = "sql")]
    preset: Option<String>,
    /// The SQL (tables: requests, sessions; partition columns dt and hour).
    sql: Option<String>,
}

pub(crate) fn run(args: QueryArgs, json: bool) -> anyhow::Result<ExitCode> {
    let sql = match (&args.preset, &args.sql) {
        (Some(name), _) => match lake::preset(name) {
            Some(p) => p.sql.to_owned(),
            None => {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
                bail!("unknown preset {name:?}; choose one of {}", names.join(", "))
            }
        },
        (None, Some(sql)) => sql.clone(),
        (None, None) => bail!("pass SQL or --preset NAME"),
    };
    let df = lake::run_sql(&args.lake, &sql)?;
    if json {
        print_json(&frame_json(&df))?;
    } else {
        outln!("{}", lake::format_frame(&df))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `{"columns": [...], "rows": [[...], ...]}`.
pub(crate) fn frame_json(df: &polars::prelude::DataFrame) -> serde_json::Value {
    use polars::prelude::AnyValue;
    let columns: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let row: Vec<serde_json::Value> = df
            .columns()
            .iter()
            .map(|c| match c.get(i) {
                Ok(AnyValue::Null) | Err(_) => serde_json::Value::Null,
                Ok(AnyValue::Boolean(b)) => b.into(),
                Ok(AnyValue::String(s)) => s.into(),
                Ok(AnyValue::StringOwned(s)) => s.as_str().into(),
                Ok(AnyValue::Int64(n)) => n.into(),
                Ok(AnyValue::Int32(n)) => n.into(),
                Ok(AnyValue::UInt32(n)) => n.into(),
                Ok(AnyValue::UInt64(n)) => n.into(),
                Ok(AnyValue::Float64(f)) => {
                    serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
                }
                Ok(AnyValue::Float32(f)) => serde_json::Number::from_f64(f64::from(f))
                    .map_or(serde_json::Value::Null, Into::into),
                Ok(other) => other.to_string().into(),
            })
            .collect();
        rows.push(serde_json::Value::Array(row));
    }
    serde_json::json!({"columns": columns, "rows": rows})
}
