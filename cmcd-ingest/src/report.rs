//! The HTML QoE report (feature `parquet`): one self-contained file (inline CSS and SVG, no
//! scripts, no external resources) built from the lake with polars SQL.
//!
//! Charts: sessions and rebuffering per minute (from `requests`: distinct `cmcd_sid`, requests
//! with `bs`), the requested video bitrate distribution, the startup time distribution (one
//! bar per second of `startup_ms`), and the top edges by sessions; followed by the canned
//! per-hour rebuffering and startup tables.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::{AnyValue, DataFrame};

use crate::error::Error;
use crate::lake::{self, run_sql};

const PER_MINUTE: &str = "SELECT minute, COUNT(DISTINCT cmcd_sid) AS sessions, \
    SUM(CASE WHEN cmcd_bs THEN 1 ELSE 0 END) AS rebuffers \
    FROM (SELECT CAST(FLOOR(CAST(timestamp AS BIGINT) / 60000) AS BIGINT) AS minute, cmcd_sid, cmcd_bs FROM requests) AS r \
    GROUP BY minute ORDER BY minute";
const STARTUP: &str = "SELECT bucket, COUNT(*) AS sessions \
    FROM (SELECT CAST(FLOOR(startup_ms / 1000) AS BIGINT) AS bucket FROM sessions WHERE startup_ms IS NOT NULL) AS s \
    GROUP BY bucket ORDER BY bucket";

fn f64_at(df: &DataFrame, col: &str, i: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)] // chart coordinates
    match df.column(col).ok().and_then(|c| c.get(i).ok()) {
        Some(AnyValue::Int64(n)) => n as f64,
        Some(AnyValue::Int32(n)) => f64::from(n),
        Some(AnyValue::UInt32(n)) => f64::from(n),
        Some(AnyValue::UInt64(n)) => n as f64,
        Some(AnyValue::Float64(f)) => f,
        _ => 0.0,
    }
}

fn str_at(df: &DataFrame, col: &str, i: usize) -> String {
    match df.column(col).ok().and_then(|c| c.get(i).ok()) {
        Some(AnyValue::String(s)) => s.to_owned(),
        Some(AnyValue::Null) | None => "-".to_owned(),
        Some(v) => v.to_string(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

/// A named, coloured line of (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

fn line_chart(title: &str, series: &[Series<'_>]) -> String {
    let mut svg = format!(
        "<h2>{}</h2><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    if all.is_empty() {
        return svg + "<text x=\"10\" y=\"20\">no data</text></svg>";
    }
    let (x0, x1) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ymax = all.iter().fold(0.0f64, |m, p| m.max(p.1)).max(1.0);
    let sx = |x: f64| PAD + (x - x0) / (x1 - x0).max(1.0) * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y / ymax) * (H - 2.0 * PAD);
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>",
        H - PAD,
        W - PAD,
        H - PAD
    );
    let _ = write!(svg, "<text x=\"4\" y=\"{}\" class=\"tick\">{ymax:.0}</text>", PAD);
    for (k, (name, color, pts)) in series.iter().enumerate() {
        let path: Vec<String> =
            pts.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
            path.join(" ")
        );
        #[allow(clippy::cast_precision_loss)]
        let ly = 14.0 + 14.0 * k as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{ly}\" fill=\"{color}\">{}</text>",
            W - 200.0,
            esc(name)
        );
    }
    svg + "</svg>"
}

fn bar_chart(title: &str, bars: &[(String, f64)], color: &str) -> String {
    let mut svg = format!(
        "<h2>{}</h2><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    if bars.is_empty() {
        return svg + "<text x=\"10\" y=\"20\">no data</text></svg>";
    }
    let ymax = bars.iter().fold(0.0f64, |m, b| m.max(b.1)).max(1.0);
    #[allow(clippy::cast_precision_loss)]
    let bw = (W - 2.0 * PAD) / bars.len() as f64;
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = v / ymax * (H - 2.0 * PAD);
        #[allow(clippy::cast_precision_loss)]
        let x = PAD + bw * i as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}: {v}</title></rect>",
            H - PAD - h,
            (bw * 0.8).max(1.0),
            esc(label)
        );
        if bars.len() <= 24 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" class=\"tick\">{}</text>",
                x,
                H - PAD + 14.0,
                esc(label)
            );
        }
    }
    let _ = write!(svg, "<text x=\"4\" y=\"{PAD}\" class=\"tick\">{ymax:.0}</text>");
    svg + "</svg>"
}

fn table(title: &str, df: &DataFrame) -> String {
    let mut out = format!("<h2>{}</h2><table><tr>", esc(title));
    for name in df.get_column_names() {
        let _ = write!(out, "<th>{}</th>", esc(name));
    }
    out.push_str("</tr>");
    for i in 0..df.height().min(50) {
        out.push_str("<tr>");
        for name in df.get_column_names() {
            let v = match df.column(name).ok().and_then(|c| c.get(i).ok()) {
                Some(AnyValue::Float64(f)) => format!("{f:.4}"),
                _ => str_at(df, name, i),
            };
            let _ = write!(out, "<td>{}</td>", esc(&v));
        }
        out.push_str("</tr>");
    }
    out + "</table>"
}

/// Builds the report for the lake at `lake`.
///
/// # Errors
///
/// [`Error::Query`] when the lake cannot be read.
pub fn html(lake_dir: &Path) -> Result<String, Error> {
    let per_minute = run_sql(lake_dir, PER_MINUTE)?;
    let preset = |name: &str| -> Result<DataFrame, Error> {
        let sql = lake::preset(name)
            .map(|p| p.sql)
            .ok_or_else(|| Error::Query(format!("no preset {name}")))?;
        run_sql(lake_dir, sql)
    };
    let bitrate = preset("bitrate_distribution")?;
    let edges = preset("sessions_by_edge")?;
    let startup = run_sql(lake_dir, STARTUP)?;
    let hourly = preset("rebuffering_ratio")?;
    let startup_pct = preset("startup")?;

    let mut body = String::new();
    let sessions: Vec<(f64, f64)> = (0..per_minute.height())
        .map(|i| (f64_at(&per_minute, "minute", i), f64_at(&per_minute, "sessions", i)))
        .collect();
    let rebuffers: Vec<(f64, f64)> = (0..per_minute.height())
        .map(|i| (f64_at(&per_minute, "minute", i), f64_at(&per_minute, "rebuffers", i)))
        .collect();
    body.push_str(&line_chart(
        "Sessions and rebuffering per minute",
        &[
            ("active sessions (distinct sid)", "#1f77b4", sessions),
            ("requests reporting bs", "#d62728", rebuffers),
        ],
    ));
    let bars: Vec<(String, f64)> = (0..bitrate.height())
        .map(|i| {
            (
                format!("{:.0}", f64_at(&bitrate, "bitrate_kbps", i)),
                f64_at(&bitrate, "content_ms", i) / 1000.0,
            )
        })
        .collect();
    body.push_str(&bar_chart(
        "Requested video bitrate (kbps): content seconds per rung",
        &bars,
        "#2ca02c",
    ));
    let bars: Vec<(String, f64)> = (0..startup.height())
        .map(|i| {
            (format!("{:.0}s", f64_at(&startup, "bucket", i)), f64_at(&startup, "sessions", i))
        })
        .collect();
    body.push_str(&bar_chart(
        "Startup time distribution (sessions per second of startup)",
        &bars,
        "#9467bd",
    ));
    let bars: Vec<(String, f64)> = (0..edges.height().min(15))
        .map(|i| (str_at(&edges, "edge", i), f64_at(&edges, "sessions", i)))
        .collect();
    body.push_str(&bar_chart("Top edges by sessions", &bars, "#ff7f0e"));
    body.push_str(&table("Rebuffering per hour", &hourly));
    body.push_str(&table("Startup percentiles", &startup_pct));
    body.push_str(&table("Sessions by edge", &edges));
    Ok(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CMCD QoE report</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:760px}}svg{{width:100%;height:auto;border:1px solid #ddd}}\
.axis{{stroke:#888}}.tick{{font-size:10px;fill:#555}}text{{font-size:11px}}table{{border-collapse:collapse;font-size:12px}}\
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body><h1>CMCD QoE report</h1>\
<p>Built from the requests and sessions tables of the lake; definitions are in the table comments of the Athena DDL.</p>{body}</body></html>\n"
    ))
}
