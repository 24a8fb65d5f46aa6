//! Reading the local lake back (feature `parquet`): the tables as polars lazy frames with their
//! partition columns, the canned QoE queries, and SQL over both tables with polars SQL.
//!
//! The canned queries (`cmcd-ingest/queries/*.sql`) are written for Athena; the local run
//! rewrites the one Athena-only function they use, `approx_percentile(x, p)`, to polars SQL's
//! `QUANTILE_DISC(x, p)` (an exact percentile, where Athena's is approximate).

use std::path::{Path, PathBuf};

use polars::prelude::{
    DataFrame, IntoLazy as _, LazyFrame, PlRefPath, ScanArgsParquet, UnionArgs, concat, lit,
};
use polars::sql::SQLContext;

use crate::error::Error;

pub use crate::queries::{PRESETS, Preset, preset};

/// Athena SQL → polars SQL for the canned queries (see the module docs).
pub fn to_local_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.to_ascii_lowercase().find("approx_percentile(") {
        out.push_str(rest.get(..i).unwrap_or(""));
        out.push_str("QUANTILE_DISC(");
        rest = rest.get(i + "approx_percentile(".len()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn query_error(e: &dyn std::fmt::Display) -> Error {
    Error::Query(e.to_string())
}

/// The Parquet files of `table` below `lake`, with their `dt` and `hour` partition values,
/// sorted by path.
///
/// # Errors
///
/// [`Error::Query`] when a directory cannot be read.
pub fn table_files(lake: &Path, table: &str) -> Result<Vec<(PathBuf, String, String)>, Error> {
    let mut out = Vec::new();
    let root = lake.join(table);
    if !root.is_dir() {
        return Ok(out);
    }
    let read = |p: &Path| -> Result<Vec<PathBuf>, Error> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| query_error(&format!("{}: {e}", p.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        v.sort();
        Ok(v)
    };
    for dt_dir in read(&root)? {
        let Some(dt) =
            dt_dir.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("dt="))
        else {
            continue;
        };
        let dt = dt.to_owned();
        for hour_dir in read(&dt_dir)? {
            let Some(hour) =
                hour_dir.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("hour="))
            else {
                continue;
            };
            let hour = hour.to_owned();
            for file in read(&hour_dir)? {
                if file.extension().is_some_and(|e| e == "parquet") {
                    out.push((file, dt.clone(), hour.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// `table` as one lazy frame with `dt` and `hour` string columns; `None` when the lake has no
/// files for it.
///
/// # Errors
///
/// [`Error::Query`].
pub fn scan_table(lake: &Path, table: &str) -> Result<Option<LazyFrame>, Error> {
    let files = table_files(lake, table)?;
    if files.is_empty() {
        return Ok(None);
    }
    let frames = files
        .into_iter()
        .map(|(path, dt, hour)| {
            let path = path.to_string_lossy().into_owned();
            let mut args = ScanArgsParquet { glob: false, ..ScanArgsParquet::default() };
            // Partition values come from our own directory walk, as strings (as in the DDL).
            args.hive_options.enabled = Some(false);
            LazyFrame::scan_parquet(PlRefPath::new(path.as_str()), args)
                .map(|lf| lf.with_columns([lit(dt).alias("dt"), lit(hour).alias("hour")]))
                .map_err(|e| query_error(&e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    concat(frames, UnionArgs::default()).map(Some).map_err(|e| query_error(&e))
}

/// Runs `sql` over the lake's `requests` and `sessions` tables with polars SQL.
///
/// # Errors
///
/// [`Error::Query`] for SQL polars cannot run, or unreadable files.
pub fn run_sql(lake: &Path, sql: &str) -> Result<DataFrame, Error> {
    check_lake(lake)?;
    let mut ctx = SQLContext::new();
    for table in ["requests", "sessions"] {
        let lf = match scan_table(lake, table)? {
            Some(lf) => lf,
            None => DataFrame::empty_with_schema(&empty_schema(table)).lazy(),
        };
        ctx.register(table, lf);
    }
    let sql = to_local_sql(sql);
    ctx.execute(sql.trim().trim_end_matches(';'))
        .and_then(LazyFrame::collect)
        .map_err(|e| query_error(&e))
}

/// The tables a lake directory can hold (`ingest` writes at least one of them).
const LAKE_TABLES: [&str; 3] = ["requests", "sessions", "quarantine"];

/// Whether `lake` looks like a lake: a directory with a `requests`, `sessions` or
/// `quarantine` table in it. A mistyped path is an error, not an empty answer.
///
/// # Errors
///
/// [`Error::Query`] naming the path and what is missing.
pub fn check_lake(lake: &Path) -> Result<(), Error> {
    if !lake.is_dir() {
        return Err(Error::Query(format!("no lake at {}: not a directory", lake.display())));
    }
    if LAKE_TABLES.iter().any(|t| lake.join(t).is_dir()) {
        return Ok(());
    }
    Err(Error::Query(format!(
        "{} is not a lake: it has none of the directories {} (a lake is what `ingest file --out` writes)",
        lake.display(),
        LAKE_TABLES.join(", ")
    )))
}

fn empty_schema(table: &str) -> polars::prelude::Schema {
    let t = if table == "sessions" { crate::schema::sessions() } else { crate::schema::requests() };
    let mut s = crate::parquet::polars_schema(t);
    s.with_column("dt".into(), polars::prelude::DataType::String);
    s.with_column("hour".into(), polars::prelude::DataType::String);
    s
}

/// A frame as an aligned text table, every row and column shown.
pub fn format_frame(df: &DataFrame) -> String {
    let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    let mut cells: Vec<Vec<String>> = vec![names];
    for i in 0..df.height() {
        cells.push(
            df.columns()
                .iter()
                .map(|c| match c.get(i) {
                    Ok(polars::prelude::AnyValue::Null) | Err(_) => "null".to_owned(),
                    Ok(polars::prelude::AnyValue::String(s)) => s.to_owned(),
                    Ok(polars::prelude::AnyValue::Float64(f)) => format!("{f:.4}"),
                    Ok(v) => v.to_string(),
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..df.width())
        .map(|j| cells.iter().map(|r| r.get(j).map_or(0, |c| c.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> =
            row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out.push_str(&format!("({} rows)", df.height()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite() {
        assert_eq!(
            to_local_sql("SELECT approx_percentile(x, 0.5), APPROX_PERCENTILE(y,0.9)"),
            "SELECT QUANTILE_DISC(x, 0.5), QUANTILE_DISC(y,0.9)"
        );
        assert!(preset("startup").is_some_and(|p| p.sql.contains("approx_percentile")));
    }
}
