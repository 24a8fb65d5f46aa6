//! `deploy.toml`: what to deploy and every knob, each with a documented default.
//!
//! The defaults live in one place, the `Default` impls below, and `deploy/example.toml` writes
//! every one of them out with its documentation (a test checks the two agree). This module only
//! reads and checks the file; it does not touch AWS or decide resource shapes.

use std::fmt;

use cmcd_ingest::field::{Field, Kind};
use serde::Deserialize;

/// The commented example configuration (`smd-cli deploy init` writes it).
pub(crate) const EXAMPLE: &str = include_str!("../../../deploy/example.toml");

/// A configuration problem, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// Stable code: `syntax` (TOML or unknown key), `out_of_range`, `bad_value`,
    /// `nothing_enabled`, `required_field`.
    pub(crate) code: &'static str,
    /// What is wrong and how to fix it.
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for ConfigError {}

fn err(code: &'static str, message: String) -> ConfigError {
    ConfigError { code, message }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) edge: Edge,
    pub(crate) analytics: Analytics,
    pub(crate) artifacts: Artifacts,
    pub(crate) stream: Stream,
    pub(crate) realtime_log: RealtimeLog,
    pub(crate) lake: Lake,
    pub(crate) ingest: Ingest,
    pub(crate) glue: Glue,
    pub(crate) athena: Athena,
}

/// `[edge]`: the Lambda@Edge viewer-request function.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Edge {
    pub(crate) enabled: bool,
    pub(crate) runtime: String,
    pub(crate) memory_mb: u32,
    pub(crate) timeout_seconds: u32,
}

impl Default for Edge {
    fn default() -> Self {
        Self { enabled: true, runtime: "nodejs22.x".into(), memory_mb: 128, timeout_seconds: 5 }
    }
}

/// `[analytics]`: the CMCD pipeline on or off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Analytics {
    pub(crate) enabled: bool,
}

impl Default for Analytics {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `[artifacts]`: where the code zips are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Artifacts {
    pub(crate) bucket: String,
}

/// `[stream]`: the Kinesis Data Stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Stream {
    pub(crate) mode: String,
    pub(crate) shard_count: u32,
    pub(crate) retention_hours: u32,
    pub(crate) encrypted: bool,
}

impl Default for Stream {
    fn default() -> Self {
        Self { mode: "ON_DEMAND".into(), shard_count: 1, retention_hours: 24, encrypted: true }
    }
}

/// `[realtime_log]`: the CloudFront real-time log configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RealtimeLog {
    pub(crate) sampling_rate: u32,
    pub(crate) exclude_fields: Vec<String>,
}

impl Default for RealtimeLog {
    fn default() -> Self {
        Self { sampling_rate: 100, exclude_fields: Vec::new() }
    }
}

/// `[lake]`: the S3 bucket of the Parquet lake.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Lake {
    pub(crate) bucket_name: String,
    pub(crate) prefix: String,
    pub(crate) quarantine_expiration_days: u32,
    pub(crate) athena_results_expiration_days: u32,
    pub(crate) retain_on_delete: bool,
}

impl Default for Lake {
    fn default() -> Self {
        Self {
            bucket_name: String::new(),
            prefix: "cdn-logs".into(),
            quarantine_expiration_days: 30,
            athena_results_expiration_days: 7,
            retain_on_delete: true,
        }
    }
}

/// `[ingest]`: the ingest Lambda and its Kinesis event source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Ingest {
    pub(crate) architecture: String,
    pub(crate) memory_mb: u32,
    pub(crate) timeout_seconds: u32,
    pub(crate) batch_size: u32,
    pub(crate) batching_window_seconds: u32,
    pub(crate) starting_position: String,
    pub(crate) maximum_retry_attempts: i32,
    pub(crate) maximum_record_age_seconds: i32,
    pub(crate) parallelization_factor: u32,
    pub(crate) failure_retention_days: u32,
    pub(crate) log_retention_days: u32,
}

impl Default for Ingest {
    fn default() -> Self {
        Self {
            architecture: "arm64".into(),
            memory_mb: 1024,
            timeout_seconds: 120,
            batch_size: 1000,
            batching_window_seconds: 10,
            starting_position: "TRIM_HORIZON".into(),
            maximum_retry_attempts: 10,
            maximum_record_age_seconds: 86_400,
            parallelization_factor: 1,
            failure_retention_days: 14,
            log_retention_days: 30,
        }
    }
}

/// `[glue]`: the catalog database and the projection start.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Glue {
    pub(crate) database: String,
    pub(crate) projection_start: String,
}

impl Default for Glue {
    fn default() -> Self {
        Self { database: "cdn_logs".into(), projection_start: "2024-01-01".into() }
    }
}

/// `[athena]`: the workgroup and its named queries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Athena {
    pub(crate) enabled: bool,
    pub(crate) workgroup: String,
    pub(crate) bytes_scanned_cutoff_gb: u32,
}

impl Default for Athena {
    fn default() -> Self {
        Self { enabled: true, workgroup: String::new(), bytes_scanned_cutoff_gb: 10 }
    }
}

/// Log retention values CloudWatch Logs accepts.
const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn range(name: &str, value: i64, lo: i64, hi: i64) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(err("out_of_range", format!("{name} = {value} is outside {lo}..={hi}")))
    }
}

fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(err("bad_value", format!("{name} = {value:?} must be one of {}", allowed.join(", "))))
    }
}

impl Config {
    /// Parses and checks a `deploy.toml`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key; see its codes.
    pub(crate) fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self =
            toml::from_str(text).map_err(|e| err("syntax", e.to_string().trim().to_owned()))?;
        config.check()?;
        Ok(config)
    }

    /// Checks every value against what AWS accepts.
    fn check(&self) -> Result<(), ConfigError> {
        if !self.edge.enabled && !self.analytics.enabled {
            return Err(err(
                "nothing_enabled",
                "edge.enabled and analytics.enabled are both false: the stack would be empty"
                    .into(),
            ));
        }
        let e = &self.edge;
        one_of("edge.runtime", &e.runtime, &["nodejs20.x", "nodejs22.x"])?;
        range("edge.memory_mb", e.memory_mb.into(), 128, 128)?;
        range("edge.timeout_seconds", e.timeout_seconds.into(), 1, 5)?;
        let s = &self.stream;
        one_of("stream.mode", &s.mode, &["ON_DEMAND", "PROVISIONED"])?;
        range("stream.shard_count", s.shard_count.into(), 1, 10_000)?;
        range("stream.retention_hours", s.retention_hours.into(), 24, 8760)?;
        range("realtime_log.sampling_rate", self.realtime_log.sampling_rate.into(), 1, 100)?;
        self.realtime_log_fields()?;
        let l = &self.lake;
        if !l.bucket_name.is_empty() && !valid_bucket(&l.bucket_name) {
            return Err(err(
                "bad_value",
                format!(
                    "lake.bucket_name = {:?} is not an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)",
                    l.bucket_name
                ),
            ));
        }
        if !self.artifacts.bucket.is_empty() && !valid_bucket(&self.artifacts.bucket) {
            return Err(err(
                "bad_value",
                format!("artifacts.bucket = {:?} is not an S3 bucket name", self.artifacts.bucket),
            ));
        }
        let prefix_ok = !l.prefix.is_empty()
            && !l.prefix.starts_with('/')
            && !l.prefix.ends_with('/')
            && l.prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        if !prefix_ok {
            return Err(err(
                "bad_value",
                format!(
                    "lake.prefix = {:?} must be a key prefix without leading or trailing '/' (letters, digits, - _ . /)",
                    l.prefix
                ),
            ));
        }
        range("lake.quarantine_expiration_days", l.quarantine_expiration_days.into(), 0, 36_500)?;
        range(
            "lake.athena_results_expiration_days",
            l.athena_results_expiration_days.into(),
            1,
            36_500,
        )?;
        let i = &self.ingest;
        one_of("ingest.architecture", &i.architecture, &["arm64", "x86_64"])?;
        range("ingest.memory_mb", i.memory_mb.into(), 128, 10_240)?;
        range("ingest.timeout_seconds", i.timeout_seconds.into(), 1, 900)?;
        range("ingest.batch_size", i.batch_size.into(), 1, 10_000)?;
        range("ingest.batching_window_seconds", i.batching_window_seconds.into(), 0, 300)?;
        one_of("ingest.starting_position", &i.starting_position, &["TRIM_HORIZON", "LATEST"])?;
        range("ingest.maximum_retry_attempts", i.maximum_retry_attempts.into(), -1, 10_000)?;
        if i.maximum_record_age_seconds != -1 {
            range(
                "ingest.maximum_record_age_seconds",
                i.maximum_record_age_seconds.into(),
                60,
                604_800,
            )?;
        }
        range("ingest.parallelization_factor", i.parallelization_factor.into(), 1, 10)?;
        range("ingest.failure_retention_days", i.failure_retention_days.into(), 1, 14)?;
        if !LOG_RETENTION_DAYS.contains(&i.log_retention_days) {
            return Err(err(
                "bad_value",
                format!(
                    "ingest.log_retention_days = {} is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 365, …)",
                    i.log_retention_days
                ),
            ));
        }
        let g = &self.glue;
        let db_ok = !g.database.is_empty()
            && g.database.len() <= 255
            && g.database
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !db_ok {
            return Err(err(
                "bad_value",
                format!(
                    "glue.database = {:?} must be lowercase letters, digits and underscores",
                    g.database
                ),
            ));
        }
        if !valid_date(&g.projection_start) {
            return Err(err(
                "bad_value",
                format!("glue.projection_start = {:?} must be YYYY-MM-DD", g.projection_start),
            ));
        }
        let a = &self.athena;
        let wg_ok = a.workgroup.len() <= 128
            && a.workgroup.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !wg_ok {
            return Err(err(
                "bad_value",
                format!("athena.workgroup = {:?} must be letters, digits, - _ .", a.workgroup),
            ));
        }
        range("athena.bytes_scanned_cutoff_gb", a.bytes_scanned_cutoff_gb.into(), 0, 1_000_000)?;
        Ok(())
    }

    /// The real-time log fields, in CloudFront's canonical order: every field the ingest stores
    /// (a `requests` column or a `cmcd-*` cell) less `realtime_log.exclude_fields`.
    ///
    /// # Errors
    ///
    /// `bad_value` for an unknown field name, `required_field` for `timestamp` or a `cmcd-*`
    /// field.
    pub(crate) fn realtime_log_fields(&self) -> Result<Vec<Field>, ConfigError> {
        let mut excluded = Vec::new();
        for name in &self.realtime_log.exclude_fields {
            let field = Field::from_name(name).ok_or_else(|| {
                err(
                    "bad_value",
                    format!(
                        "realtime_log.exclude_fields: {name:?} is not a CloudFront real-time log field"
                    ),
                )
            })?;
            if field == Field::Timestamp || field.kind() == Kind::Cmcd {
                return Err(err(
                    "required_field",
                    format!("realtime_log.exclude_fields: the ingest needs {name:?}; keep it"),
                ));
            }
            excluded.push(field);
        }
        Ok(ingest_fields().into_iter().filter(|f| !excluded.contains(f)).collect())
    }
}

/// Every real-time log field the ingest stores: those with a `requests` column, and the
/// `cmcd-*` cells it types into the `cmcd_<key>` columns. Derived from the schema, in canonical
/// order.
pub(crate) fn ingest_fields() -> Vec<Field> {
    let requests = cmcd_ingest::schema::requests();
    Field::ALL
        .into_iter()
        .filter(|f| {
            f.kind() == Kind::Cmcd
                || requests
                    .columns
                    .iter()
                    .any(|c| c.source == cmcd_ingest::schema::Source::Field(*f))
        })
        .collect()
}

fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
        && name.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && name.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric)
}

fn valid_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b.iter()
            .enumerate()
            .all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
        && matches!(text.get(5..7).and_then(|m| m.parse::<u8>().ok()), Some(1..=12))
        && matches!(text.get(8..10).and_then(|d| d.parse::<u8>().ok()), Some(1..=31))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_documents_exactly_the_defaults() {
        assert_eq!(Config::parse(EXAMPLE).unwrap(), Config::default());
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_example_mentions_every_key() {
        let value: toml::Table = toml::from_str(EXAMPLE).unwrap();
        // Every section has every key of its struct: compare with a fully spelled-out default.
        let sections = value.len();
        assert_eq!(sections, 9);
        let keys: usize = value.values().map(|v| v.as_table().map_or(0, toml::Table::len)).sum();
        assert_eq!(keys, 4 + 1 + 1 + 4 + 2 + 5 + 11 + 2 + 3);
    }

    #[test]
    fn bad_values_have_stable_codes() {
        let code = |text: &str| Config::parse(text).unwrap_err().code;
        assert_eq!(code("[stream]\nmod = 'ON_DEMAND'"), "syntax");
        assert_eq!(code("[stream]\nmode = 'FAST'"), "bad_value");
        assert_eq!(code("[realtime_log]\nsampling_rate = 0"), "out_of_range");
        assert_eq!(code("[realtime_log]\nexclude_fields = ['cmcd-session-id']"), "required_field");
        assert_eq!(code("[realtime_log]\nexclude_fields = ['timestamp']"), "required_field");
        assert_eq!(code("[realtime_log]\nexclude_fields = ['nope']"), "bad_value");
        assert_eq!(
            code("[edge]\nenabled = false\n[analytics]\nenabled = false"),
            "nothing_enabled"
        );
        assert_eq!(code("[glue]\ndatabase = 'Cdn-Logs'"), "bad_value");
        assert_eq!(code("[glue]\nprojection_start = '2024-13-01'"), "bad_value");
        assert_eq!(code("[lake]\nprefix = '/x/'"), "bad_value");
        assert_eq!(code("[lake]\nbucket_name = 'Upper'"), "bad_value");
        assert_eq!(code("[ingest]\nlog_retention_days = 2"), "bad_value");
        assert_eq!(code("[ingest]\nmaximum_record_age_seconds = 10"), "out_of_range");
        assert_eq!(code("[edge]\nmemory_mb = 256"), "out_of_range");
    }

    #[test]
    fn fields_are_the_ingest_set_in_canonical_order() {
        let all = Config::default().realtime_log_fields().unwrap();
        assert_eq!(all.len(), cmcd_ingest::field::FIELD_COUNT);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        let mut c = Config::default();
        c.realtime_log.exclude_fields = vec!["cs-cookie".into()];
        let fewer = c.realtime_log_fields().unwrap();
        assert_eq!(fewer.len(), all.len() - 1);
        assert!(!fewer.contains(&Field::CsCookie));
        assert_eq!(fewer.iter().filter(|f| f.kind() == Kind::Cmcd).count(), 18);
    }
}
