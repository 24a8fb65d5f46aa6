//! The analytics half of `smd-cli quickstart`: the edge's real-time log into the Parquet lake,
//! the QoE summary from the canned queries, and the HTML report.

use std::path::Path;

#[cfg(feature = "ingest")]
use anyhow::Context as _;
use serde_json::Value;
#[cfg(feature = "ingest")]
use serde_json::json;

/// What the lake step produced.
pub(crate) struct LakeSummary {
    /// Machine-readable summary.
    pub(crate) json: Value,
    /// Text for the terminal.
    pub(crate) text: String,
}

/// Ingests `log` into `lake`, summarises QoE and writes `report`.
#[cfg(feature = "ingest")]
pub(crate) fn run(log: &Path, lake: &Path, report: &Path) -> anyhow::Result<LakeSummary> {
    use cmcd_ingest::field::FieldSet;
    use cmcd_ingest::lake;
    use cmcd_ingest::parquet::ParquetEncoder;
    use cmcd_ingest::partition::source_name;
    use cmcd_ingest::pipeline::{Config, Pipeline};
    use cmcd_ingest::sink::{LocalDir, ReaderSource, Source as _};

    let _ = std::fs::remove_dir_all(lake);
    let mut pipeline = Pipeline::new(
        FieldSet::all(),
        Config::default(),
        ParquetEncoder::default(),
        LocalDir::new(lake),
    );
    let file = std::fs::File::open(log).with_context(|| format!("opening {}", log.display()))?;
    let mut lines = ReaderSource::new(file, source_name(&log.to_string_lossy()));
    while let Some(batch) = lines.next_batch()? {
        pipeline.push_batch(&batch)?;
    }
    let (stats, _) = pipeline.finish()?;

    let one =
        |sql: &str| -> anyhow::Result<polars::prelude::DataFrame> { Ok(lake::run_sql(lake, sql)?) };
    let scalar = |sql: &str| -> anyhow::Result<f64> {
        let df = one(sql)?;
        let col = df.columns().first().context("empty result")?;
        Ok(col.cast(&polars::prelude::DataType::Float64)?.f64()?.get(0).unwrap_or(0.0))
    };
    // COUNT(*) without GROUP BY trips a cast bug in this polars version; count a non-null key.
    let sessions = scalar("SELECT COUNT(cmcd_sid) AS n FROM sessions")?;
    let rebuffered =
        scalar("SELECT SUM(CASE WHEN rebuffer_count > 0 THEN 1 ELSE 0 END) AS n FROM sessions")?;
    let stall = scalar("SELECT SUM(COALESCE(stall_ms, 0)) AS n FROM sessions")?;
    let played = scalar("SELECT SUM(played_ms) AS n FROM sessions")?;
    let startup_p50 = scalar(
        "SELECT QUANTILE_DISC(startup_ms, 0.5) AS p FROM sessions WHERE startup_ms IS NOT NULL",
    )?;
    let startup_p95 = scalar(
        "SELECT QUANTILE_DISC(startup_ms, 0.95) AS p FROM sessions WHERE startup_ms IS NOT NULL",
    )?;
    let bitrate =
        one(lake::preset("bitrate_distribution").map(|p| p.sql).context("bitrate preset")?)?;
    let errors = one(
        "SELECT sc_status, COUNT(*) AS requests FROM requests WHERE sc_status >= 400 GROUP BY sc_status ORDER BY sc_status",
    )?;

    let html = cmcd_ingest::report::html(lake)?;
    std::fs::write(report, html).with_context(|| format!("writing {}", report.display()))?;

    let share = if sessions > 0.0 { rebuffered / sessions } else { 0.0 };
    let ratio = if stall + played > 0.0 { stall / (stall + played) } else { 0.0 };
    let text = format!(
        "lake      {} rows, {} session rows, {} quarantined → {}\n\
         QoE       {sessions:.0} sessions, {:.1} % rebuffered, rebuffering ratio {:.2} % (v2 stall time), \
         startup p50 {startup_p50:.0} ms / p95 {startup_p95:.0} ms\n\
         bitrates\n{}\n\
         errors at the edge\n{}\n\
         report    {}",
        stats.rows,
        stats.session_rows,
        stats.quarantined_total(),
        lake.display(),
        share * 100.0,
        ratio * 100.0,
        lake::format_frame(&bitrate),
        lake::format_frame(&errors),
        report.display()
    );
    let json = json!({
        "rows": stats.rows,
        "session_rows": stats.session_rows,
        "quarantined": stats.quarantined_total(),
        "sessions": sessions,
        "rebuffered_share": share,
        "rebuffering_ratio": ratio,
        "startup_p50_ms": startup_p50,
        "startup_p95_ms": startup_p95,
        "lake": lake.display().to_string(),
        "report": report.display().to_string(),
    });
    Ok(LakeSummary { json, text })
}

/// Without the `ingest` feature there is no Parquet writer to run.
#[cfg(not(feature = "ingest"))]
pub(crate) fn run(_log: &Path, _lake: &Path, _report: &Path) -> anyhow::Result<LakeSummary> {
    anyhow::bail!(
        "this smd-cli was built without the `ingest` feature; rebuild with default features for the lake step"
    )
}
