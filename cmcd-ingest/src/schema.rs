//! The lake schema: one definition of both tables, from which the Parquet/polars schema
//! (`parquet` module) and the Athena DDL ([`athena_ddl`]) are both generated.
//!
//! Types are Athena-compatible only: `string`, `bigint` (INT64), `double`, `boolean` and
//! `timestamp` (INT64 with the Parquet logical type TIMESTAMP(MILLIS, UTC)). No unsigned integers.

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::field::{Field, Kind};

/// A column's type, as Athena names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// UTF-8 text (Parquet BYTE_ARRAY, logical STRING).
    String,
    /// Signed 64-bit integer (INT64).
    BigInt,
    /// IEEE 754 double.
    Double,
    /// Boolean.
    Boolean,
    /// Milliseconds since the epoch, UTC (INT64, TIMESTAMP(MILLIS, adjusted to UTC)).
    Timestamp,
}

impl ColumnType {
    /// The Athena (Hive DDL) type name.
    pub const fn athena(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::BigInt => "bigint",
            Self::Double => "double",
            Self::Boolean => "boolean",
            Self::Timestamp => "timestamp",
        }
    }
}

/// A typed cell value handed to a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Datum<'a> {
    /// SQL NULL.
    Null,
    /// Text.
    Str(&'a str),
    /// A BIGINT.
    Int(i64),
    /// A DOUBLE.
    Float(f64),
    /// A BOOLEAN.
    Bool(bool),
    /// A TIMESTAMP, epoch milliseconds.
    Millis(i64),
}

impl<'a> Datum<'a> {
    /// Text or null.
    pub fn str(v: Option<&'a str>) -> Self {
        v.map_or(Self::Null, Self::Str)
    }
    /// BIGINT or null.
    pub fn int(v: Option<i64>) -> Self {
        v.map_or(Self::Null, Self::Int)
    }
    /// DOUBLE or null.
    pub fn float(v: Option<f64>) -> Self {
        v.map_or(Self::Null, Self::Float)
    }
    /// BOOLEAN or null.
    pub fn bool(v: Option<bool>) -> Self {
        v.map_or(Self::Null, Self::Bool)
    }
    /// The text, if this is text.
    pub fn as_str(self) -> Option<&'a str> {
        if let Self::Str(v) = self { Some(v) } else { None }
    }
    /// The BIGINT, if this is one.
    pub fn as_int(self) -> Option<i64> {
        if let Self::Int(v) = self { Some(v) } else { None }
    }
    /// The DOUBLE, if this is one.
    pub fn as_float(self) -> Option<f64> {
        if let Self::Float(v) = self { Some(v) } else { None }
    }
    /// The BOOLEAN, if this is one.
    pub fn as_bool(self) -> Option<bool> {
        if let Self::Bool(v) = self { Some(v) } else { None }
    }
    /// The TIMESTAMP (epoch ms), if this is one.
    pub fn as_millis(self) -> Option<i64> {
        if let Self::Millis(v) = self { Some(v) } else { None }
    }
}

/// The CMCD keys of the `requests` table (`cmcd_<key>`), v1 keys first, then the v2 keys
/// analysts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variant is the key
pub enum CmcdKey {
    Br,
    Bl,
    Bs,
    Cid,
    D,
    Dl,
    Mtp,
    Nor,
    Nrr,
    Ot,
    Pr,
    Rtp,
    Sf,
    Sid,
    St,
    Su,
    Tb,
    V,
    Pt,
    Sta,
    Ltc,
    Msd,
    Bsa,
    Bsd,
    Bsda,
    Pb,
    Sn,
    Ec,
    Dfa,
}

/// Per-row CMCD bookkeeping columns of `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // documented by the column comments
pub enum Meta {
    SmdSessionId,
    CmcdRaw,
    CmcdSource,
    CmcdError,
    CmcdDropped,
    CmcdLenient,
    CmcdHeadersTruncated,
}

/// The `sessions` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // documented by the column comments
pub enum SessionCol {
    Sid,
    FirstSeen,
    LastSeen,
    Requests,
    MediaRequests,
    Bytes,
    StartupMs,
    StartupSource,
    RebufferCount,
    StallMs,
    PlayedMs,
    AvgBitrateKbps,
    BitrateSwitches,
    TopBitrateShare,
    ThroughputHeadroom,
    BlP50Ms,
    BlP95Ms,
    Status4xx,
    Status5xx,
    CacheHitRatio,
    EdgeLocation,
    EdgeLocations,
    Country,
    Cid,
    Sf,
    St,
    V,
    UserAgent,
    SmdSessionId,
}

/// Where a column's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A CloudFront field of the request.
    Field(Field),
    /// A CMCD key of the request.
    Cmcd(CmcdKey),
    /// Request bookkeeping.
    Meta(Meta),
    /// A session aggregate.
    Session(SessionCol),
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// The DDL comment (the definition).
    pub comment: String,
    /// Where values come from.
    pub source: Source,
}

/// A table of the lake.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `requests` or `sessions`.
    pub name: &'static str,
    /// What one row is.
    pub comment: &'static str,
    /// The columns, in file order (the partition columns `dt` and `hour` are not stored in
    /// the files: they are the directory names).
    pub columns: Vec<Column>,
    /// The order of the rows within a row group.
    pub row_order: RowOrder,
}

/// The order of the rows within a row group of a table's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// Input order.
    Input,
    /// Grouped by the value of one text column: the groups in the order of their first row, the
    /// rows of a group in input order, the rows where the column is null last (in input
    /// order). Rows of one CMCD session repeat most of their text (URL prefix, query, headers,
    /// user agent), so grouping them makes the compressed pages smaller and faster to write.
    GroupedBy(Source),
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const CMCD_COLUMNS: &[(CmcdKey, &str, ColumnType, &str)] = {
    use CmcdKey as K;
    use ColumnType::{BigInt as I, Boolean as B, Double as F, String as S};
    &[
        (K::Br, "br", I, "encoded bitrate, kbps (v2 list: the member for ot, else the first)"),
        (K::Bl, "bl", I, "buffer length, ms (v2 list: the member for ot, else the first)"),
        (K::Bs, "bs", B, "buffer starvation since the previous request"),
        (K::Cid, "cid", S, "content id"),
        (K::D, "d", I, "object duration, ms"),
        (K::Dl, "dl", I, "deadline, ms"),
        (K::Mtp, "mtp", I, "measured throughput, kbps"),
        (K::Nor, "nor", S, "next object request (first URL)"),
        (K::Nrr, "nrr", S, "next range request (v1)"),
        (K::Ot, "ot", S, "object type token (m a v av i c tt k o)"),
        (K::Pr, "pr", F, "playback rate"),
        (K::Rtp, "rtp", I, "requested maximum throughput, kbps"),
        (K::Sf, "sf", S, "streaming format token (d h e s o)"),
        (K::Sid, "sid", S, "CMCD session id"),
        (K::St, "st", S, "stream type token (v l ll)"),
        (K::Su, "su", B, "startup or urgent"),
        (K::Tb, "tb", I, "top bitrate, kbps"),
        (K::V, "v", I, "CMCD version as sent (null means 1)"),
        (K::Pt, "pt", I, "v2 playhead time, ms"),
        (K::Sta, "sta", S, "v2 player state token (s p k r a w e f q d)"),
        (K::Ltc, "ltc", I, "v2 live latency, ms"),
        (K::Msd, "msd", I, "v2 media start delay, ms"),
        (K::Bsa, "bsa", I, "v2 buffer starvations since session start"),
        (K::Bsd, "bsd", I, "v2 sum of the durations of the starvations reported here, ms"),
        (K::Bsda, "bsda", I, "v2 cumulative buffer starvation duration, ms"),
        (K::Pb, "pb", I, "v2 playhead bitrate, kbps"),
        (K::Sn, "sn", I, "v2 sequence number"),
        (K::Ec, "ec", S, "v2 player error codes joined by commas"),
        (K::Dfa, "dfa", I, "v2 dropped frames since session start"),
    ]
};

const META_COLUMNS: &[(Meta, &str, ColumnType, &str)] = &[
    (
        Meta::SmdSessionId,
        "smd_session_id",
        ColumnType::String,
        "SMD token session id from the path prefix /<sid>.<jwt>/",
    ),
    (
        Meta::CmcdRaw,
        "cmcd_raw",
        ColumnType::String,
        "CMCD payload as decoded from the transport (query value, or CMCD-* header values joined by commas)",
    ),
    (
        Meta::CmcdSource,
        "cmcd_source",
        ColumnType::String,
        "where CMCD came from: cells, query, headers, cells+query, cells+headers",
    ),
    (
        Meta::CmcdError,
        "cmcd_error",
        ColumnType::String,
        "code of the error that rejected the CMCD payload (syntax, too_large, unsupported_version)",
    ),
    (
        Meta::CmcdDropped,
        "cmcd_dropped",
        ColumnType::BigInt,
        "CMCD keys dropped for a wrong type or value, plus unreadable cmcd-* cells",
    ),
    (
        Meta::CmcdLenient,
        "cmcd_lenient",
        ColumnType::BigInt,
        "non-conforming CMCD accepted by the lenient decoder",
    ),
    (
        Meta::CmcdHeadersTruncated,
        "cmcd_headers_truncated",
        ColumnType::Boolean,
        "cs-headers was truncated at 800 bytes by CloudFront",
    ),
];

const SESSION_COLUMNS: &[(SessionCol, &str, ColumnType, &str)] = {
    use ColumnType::{BigInt as I, Double as F, String as S, Timestamp as T};
    use SessionCol as C;
    &[
        (C::Sid, "cmcd_sid", S, "CMCD session id (one row per sid and hour)"),
        (C::FirstSeen, "first_seen", T, "timestamp of the first request in the hour"),
        (C::LastSeen, "last_seen", T, "timestamp of the last request in the hour"),
        (C::Requests, "requests", I, "requests in the hour"),
        (C::MediaRequests, "media_requests", I, "requests with ot a, v or av"),
        (C::Bytes, "bytes", I, "sum of sc_bytes"),
        (
            C::StartupMs,
            "startup_ms",
            I,
            "v2 msd (first seen); else, when the hour holds the session's first request and it has su, ms from that request to the first media request without su (cmcd.md 5.2)",
        ),
        (C::StartupSource, "startup_source", S, "msd or su"),
        (
            C::RebufferCount,
            "rebuffer_count",
            I,
            "distinct seconds with a bs request (audio and video starving in the same second count once; cmcd.md 5.2)",
        ),
        (
            C::StallMs,
            "stall_ms",
            I,
            "sum of v2 bsd (completed stall durations, ms); null without v2 data",
        ),
        (
            C::PlayedMs,
            "played_ms",
            I,
            "sum of d over ot v/av requests, ms (content fetched, cmcd.md 5.1)",
        ),
        (
            C::AvgBitrateKbps,
            "avg_bitrate_kbps",
            F,
            "time-weighted average br over ot v/av, weight d (cmcd.md 5.2)",
        ),
        (
            C::BitrateSwitches,
            "bitrate_switches",
            I,
            "changes of br between consecutive requests of the same ot (v, av), in timestamp order",
        ),
        (
            C::TopBitrateShare,
            "top_bitrate_share",
            F,
            "share of d (ot v/av with br and tb) where br = tb",
        ),
        (
            C::ThroughputHeadroom,
            "throughput_headroom",
            F,
            "mean of mtp / br over ot v/av requests with both",
        ),
        (C::BlP50Ms, "bl_p50_ms", I, "median buffer length, ms (nearest rank)"),
        (C::BlP95Ms, "bl_p95_ms", I, "95th percentile buffer length, ms (nearest rank)"),
        (C::Status4xx, "status_4xx", I, "requests with sc_status 400-499"),
        (C::Status5xx, "status_5xx", I, "requests with sc_status 500-599"),
        (
            C::CacheHitRatio,
            "cache_hit_ratio",
            F,
            "share of requests whose x_edge_response_result_type (else x_edge_result_type) is Hit or RefreshHit, among requests with one (cmcd.md 5.1)",
        ),
        (C::EdgeLocation, "edge_location", S, "x_edge_location of the first request"),
        (
            C::EdgeLocations,
            "edge_locations",
            S,
            "distinct x_edge_location values, sorted, comma-separated",
        ),
        (C::Country, "c_country", S, "c_country of the first request that has one"),
        (C::Cid, "cmcd_cid", S, "first cid"),
        (C::Sf, "cmcd_sf", S, "first sf"),
        (C::St, "cmcd_st", S, "first st"),
        (C::V, "cmcd_v", I, "highest CMCD version seen (1 when absent)"),
        (C::UserAgent, "cs_user_agent", S, "cs_user_agent of the first request that has one"),
        (C::SmdSessionId, "smd_session_id", S, "first SMD token session id"),
    ]
};

/// The `requests` table: one row per log line.
pub fn requests() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut columns = Vec::new();
        for f in Field::ALL {
            let ty = match f.kind() {
                Kind::Cmcd => continue,
                Kind::Timestamp => ColumnType::Timestamp,
                Kind::Integer => ColumnType::BigInt,
                Kind::Seconds => ColumnType::Double,
                Kind::Text | Kind::EncodedText => ColumnType::String,
            };
            let comment = match f.kind() {
                Kind::Timestamp => "CloudFront timestamp (UTC, ms)".to_owned(),
                Kind::Seconds => format!("CloudFront {}, seconds", f.name()),
                Kind::EncodedText => format!("CloudFront {}, percent-decoded", f.name()),
                _ => format!("CloudFront {}", f.name()),
            };
            columns.push(Column { name: f.column(), ty, comment, source: Source::Field(f) });
        }
        for &(key, name, ty, comment) in CMCD_COLUMNS {
            columns.push(Column {
                name: format!("cmcd_{name}"),
                ty,
                comment: format!("CMCD {name}: {comment}"),
                source: Source::Cmcd(key),
            });
        }
        for &(meta, name, ty, comment) in META_COLUMNS {
            columns.push(Column {
                name: name.to_owned(),
                ty,
                comment: comment.to_owned(),
                source: Source::Meta(meta),
            });
        }
        Table {
            name: "requests",
            comment: "one row per CloudFront real-time log line; in each row group the rows are \
                      grouped by cmcd_sid (sessions in the order of their first row, the rows of \
                      a session in log order, rows without a sid last)",
            columns,
            row_order: RowOrder::GroupedBy(Source::Cmcd(CmcdKey::Sid)),
        }
    })
}

/// The `sessions` table: one row per CMCD session id and hour.
pub fn sessions() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        name: "sessions",
        comment: "one row per CMCD sid and UTC hour, aggregated from requests",
        columns: SESSION_COLUMNS
            .iter()
            .map(|&(c, name, ty, comment)| Column {
                name: name.to_owned(),
                ty,
                comment: comment.to_owned(),
                source: Source::Session(c),
            })
            .collect(),
        row_order: RowOrder::Input,
    })
}

/// Both tables.
pub fn tables() -> [&'static Table; 2] {
    [requests(), sessions()]
}

fn sql_string(s: &str) -> String {
    s.replace('\'', "''")
}

/// The partition columns of both tables: name, type and definition. They are directory names
/// (`dt=YYYY-MM-DD/hour=HH`, UTC, from the log timestamp), not columns stored in the files.
pub const PARTITION_COLUMNS: [(&str, ColumnType, &str); 2] = [
    ("dt", ColumnType::String, "UTC date of the log timestamp, YYYY-MM-DD (partition)"),
    ("hour", ColumnType::String, "UTC hour of the log timestamp, 00-23 (partition)"),
];

/// Where `table` lives under the lake `location` (`s3://bucket/prefix`): `<location>/<table>/`.
pub fn table_location(location: &str, table: &Table) -> String {
    format!("{}/{}/", location.trim_end_matches('/'), table.name)
}

/// The table properties of `table` at `location`: ZSTD Parquet and partition projection on `dt`
/// (date, `yyyy-MM-dd`, from `projection_start` to NOW, one day apart) and `hour` (integer 0–23,
/// two digits), with the `storage.location.template` of the lake layout. Athena DDL and the Glue
/// table of `smd-cli deploy render` both use this list, so they cannot disagree.
pub fn table_properties(
    location: &str,
    table: &Table,
    projection_start: &str,
) -> Vec<(&'static str, String)> {
    let base = table_location(location, table);
    vec![
        ("parquet.compression", "ZSTD".to_owned()),
        ("projection.enabled", "true".to_owned()),
        ("projection.dt.type", "date".to_owned()),
        ("projection.dt.format", "yyyy-MM-dd".to_owned()),
        ("projection.dt.range", format!("{projection_start},NOW")),
        ("projection.dt.interval", "1".to_owned()),
        ("projection.dt.interval.unit", "DAYS".to_owned()),
        ("projection.hour.type", "integer".to_owned()),
        ("projection.hour.range", "0,23".to_owned()),
        ("projection.hour.digits", "2".to_owned()),
        ("storage.location.template", format!("{base}dt=${{dt}}/hour=${{hour}}/")),
    ]
}

/// `CREATE EXTERNAL TABLE` statements for both tables at `location` (`s3://bucket/prefix`,
/// without the trailing slash), with partition projection on `dt` (date, `yyyy-MM-dd`, from
/// `projection_start` to NOW) and `hour` (integer 0–23, two digits).
pub fn athena_ddl(location: &str, database: &str, projection_start: &str) -> String {
    let location = location.trim_end_matches('/');
    let mut out = String::new();
    let _ = writeln!(out, "-- Generated by smd-cli athena ddl from the cmcd-ingest schema.");
    let _ = writeln!(out, "CREATE DATABASE IF NOT EXISTS {database};\n");
    for table in tables() {
        let _ = writeln!(out, "CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{} (", table.name);
        let n = table.columns.len();
        for (i, c) in table.columns.iter().enumerate() {
            let comma = if i + 1 < n { "," } else { "" };
            let _ = writeln!(
                out,
                "  `{}` {} COMMENT '{}'{comma}",
                c.name,
                c.ty.athena(),
                sql_string(&c.comment)
            );
        }
        let _ = writeln!(out, ")");
        let _ = writeln!(out, "COMMENT '{}'", sql_string(table.comment));
        let partitions: Vec<String> = PARTITION_COLUMNS
            .iter()
            .map(|(name, ty, _)| format!("`{name}` {}", ty.athena()))
            .collect();
        let _ = writeln!(out, "PARTITIONED BY ({})", partitions.join(", "));
        let _ = writeln!(out, "STORED AS PARQUET");
        let _ = writeln!(out, "LOCATION '{}'", table_location(location, table));
        let _ = writeln!(out, "TBLPROPERTIES (");
        let props = table_properties(location, table, projection_start);
        let n = props.len();
        for (i, (key, value)) in props.iter().enumerate() {
            let comma = if i + 1 < n { "," } else { "" };
            let _ = writeln!(out, "  '{key}' = '{}'{comma}", sql_string(value));
        }
        let _ = writeln!(out, ");\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_lake_contract() {
        let r = requests();
        for name in [
            "timestamp",
            "x_edge_request_id",
            "sc_status",
            "cs_uri_stem",
            "cmcd_sid",
            "cmcd_br",
            "cmcd_bl",
            "cmcd_bs",
            "cmcd_ot",
            "smd_session_id",
        ] {
            assert!(r.column(name).is_some(), "{name}");
        }
        // 69 fields less the 18 cmcd-* cells, 29 CMCD keys, 7 bookkeeping columns.
        assert_eq!(r.columns.len(), 69 - 18 + 29 + 7);
        let mut names: Vec<_> = r.columns.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), r.columns.len(), "column names are unique");
        assert_eq!(r.column("time_taken").map(|c| c.ty), Some(ColumnType::Double));
        assert_eq!(r.column("sc_bytes").map(|c| c.ty), Some(ColumnType::BigInt));
        assert_eq!(r.column("timestamp").map(|c| c.ty), Some(ColumnType::Timestamp));
    }

    #[test]
    fn ddl_lists_every_column_with_its_type() {
        let ddl = athena_ddl("s3://b/p/", "cdn", "2024-01-01");
        for t in tables() {
            assert!(ddl.contains(&format!("LOCATION 's3://b/p/{}/'", t.name)));
            for c in &t.columns {
                assert!(
                    ddl.contains(&format!("`{}` {} COMMENT", c.name, c.ty.athena())),
                    "{}",
                    c.name
                );
            }
        }
        assert!(
            ddl.contains(
                "'storage.location.template' = 's3://b/p/requests/dt=${dt}/hour=${hour}/'"
            )
        );
    }
}
