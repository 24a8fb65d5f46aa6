//! The Lambda ingest mode (feature `lambda`): a Kinesis event-source-mapping batch → Parquet
//! objects in the S3 lake, answered with a partial batch response.
//!
//! [`Handler::handle`] groups the event's records by shard (the part of `eventID` before `:`),
//! keeping their order, turns each group into lake objects with [`encode_range`](crate::range)
//! and writes them with [`ObjectStore::write_range`] (the per-range manifest makes a retried,
//! shorter or longer, batch replace the objects of the earlier attempt). It returns
//! `{"batchItemFailures":[{"itemIdentifier": "<sequence number>"}]}` naming, for every shard
//! group whose write failed, the group's **first** record: the mapping then retries from that
//! record, and everything before it is durably written.
//!
//! Bad records never fail a batch: a payload that is not base64 is quarantined as
//! `bad_payload`, bad lines with their own reasons.
//!
//! Configuration (environment variables, read once by [`Settings::from_env`]):
//!
//! | variable | meaning |
//! |---|---|
//! | `LAKE` | required: `s3://bucket/prefix` (a directory path also works, for tests) |
//! | `FIELDS` | the real-time log configuration's field names, comma-separated (default: all 69) |
//! | `AWS_ENDPOINT_URL_S3` | an S3 endpoint other than AWS (local servers); turns on path-style addressing |
//! | `LAKE_PATH_STYLE` | `1`/`true`: path-style addressing without a custom endpoint |
//!
//! # What this does not do
//!
//! - No `sessions` rows (they need state across batches and shards; see [`crate::range`]).
//! - No retries beyond the store's own: a shard group whose write still fails is reported in
//!   `batchItemFailures` and the mapping retries it.
//! - It assumes the mapping's batches are contiguous ranges of one shard, which holds for a
//!   Kinesis mapping with `ParallelizationFactor` 1 (see ARCHITECTURE.md for the settings).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::field::FieldSet;
use crate::parquet::ParquetEncoder;
use crate::pipeline::{Config, Stats};
use crate::range::{RangeItem, RangeRecord, encode_range_items};
use crate::store::{ObjectStore, S3Options, StoreError};

/// A Kinesis event-source-mapping event (the fields this handler reads).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KinesisEvent {
    /// The records, in shard order.
    #[serde(rename = "Records")]
    pub records: Vec<KinesisEventRecord>,
}

/// One record of a [`KinesisEvent`].
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KinesisEventRecord {
    /// `shardId-…:<sequence number>`.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// The stream's ARN.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: Option<String>,
    /// The Kinesis record.
    pub kinesis: KinesisData,
}

/// The Kinesis part of a record.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisData {
    /// The payload, base64.
    pub data: String,
    /// The sequence number.
    pub sequence_number: String,
    /// The partition key.
    #[serde(default)]
    pub partition_key: Option<String>,
    /// Arrival time, epoch seconds with a fraction.
    #[serde(default)]
    pub approximate_arrival_timestamp: Option<f64>,
}

impl KinesisEventRecord {
    /// The shard id: `eventID` up to its `:`.
    pub fn shard(&self) -> &str {
        self.event_id.split_once(':').map_or(self.event_id.as_str(), |(shard, _)| shard)
    }
}

/// The partial batch response (`ReportBatchItemFailures`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct BatchResponse {
    /// The records to retry from, one per failed shard group.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

impl BatchResponse {
    /// The response for these outcomes: the first record of every failed group.
    pub fn from_outcomes(outcomes: &[GroupOutcome]) -> Self {
        Self {
            batch_item_failures: outcomes
                .iter()
                .filter(|o| o.result.is_err())
                .map(|o| BatchItemFailure { item_identifier: o.first_sequence.clone() })
                .collect(),
        }
    }
}

/// One entry of [`BatchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BatchItemFailure {
    /// The sequence number of the first record of the failed group.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// An error of the handler's configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// `LAKE` is not set.
    #[error("LAKE is not set: set it to s3://bucket/prefix")]
    MissingLake,
    /// `FIELDS` names an unknown or duplicate field, or lacks `timestamp`.
    #[error("FIELDS: {0}")]
    Fields(#[from] crate::Error),
    /// `LAKE` is not a lake location.
    #[error("LAKE: {0}")]
    Lake(#[from] StoreError),
}

impl InitError {
    /// The stable code: `missing_lake`, or the code of the underlying error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingLake => "missing_lake",
            Self::Fields(e) => e.code(),
            Self::Lake(e) => e.code(),
        }
    }
}

/// The handler's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The lake location.
    pub lake: String,
    /// The log fields.
    pub fields: FieldSet,
    /// S3 client settings.
    pub s3: S3Options,
}

impl Settings {
    /// Reads the settings from `var` (the process environment in the binary; see the module
    /// docs for the variables).
    ///
    /// # Errors
    ///
    /// [`InitError`].
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let lake = var("LAKE").filter(|s| !s.is_empty()).ok_or(InitError::MissingLake)?;
        crate::store::Location::parse(&lake)?;
        let fields = match var("FIELDS").filter(|s| !s.trim().is_empty()) {
            Some(names) if names.trim() != "all" => FieldSet::parse_names(&names)?,
            _ => FieldSet::all(),
        };
        let endpoint = var("AWS_ENDPOINT_URL_S3").filter(|s| !s.is_empty());
        let path_style = endpoint.is_some()
            || var("LAKE_PATH_STYLE").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Ok(Self { lake, fields, s3: S3Options { endpoint, path_style, ..S3Options::default() } })
    }
}

/// What happened to one shard group of a batch.
#[derive(Debug)]
pub struct GroupOutcome {
    /// The shard.
    pub shard: String,
    /// The group's first and last sequence numbers.
    pub first_sequence: String,
    /// The last sequence number.
    pub last_sequence: String,
    /// Records in the group.
    pub records: usize,
    /// Counters of the encoding (`None` if encoding failed).
    pub stats: Option<Stats>,
    /// Objects written and leftovers removed, or the error.
    pub result: Result<crate::store::RangeWrite, GroupError>,
}

/// Why a shard group was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Encoding failed (a malformed shard id or sequence number in the event).
    #[error(transparent)]
    Encode(#[from] crate::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GroupError {
    /// The stable code of the underlying error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Encode(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// The Lambda handler: configuration read once, one store client for every invocation.
#[derive(Debug)]
pub struct Handler {
    store: ObjectStore,
    fields: FieldSet,
    config: Config,
}

impl Handler {
    /// A handler writing to `store`.
    pub fn new(store: ObjectStore, fields: FieldSet, config: Config) -> Self {
        Self { store, fields, config }
    }

    /// A handler from the process environment (see the module docs).
    ///
    /// # Errors
    ///
    /// [`InitError`].
    pub async fn from_env() -> Result<Self, InitError> {
        let settings = Settings::from_env(|k| std::env::var(k).ok())?;
        Self::from_settings(settings).await
    }

    /// A handler from settings.
    ///
    /// # Errors
    ///
    /// [`InitError::Lake`].
    pub async fn from_settings(settings: Settings) -> Result<Self, InitError> {
        let store = ObjectStore::open(&settings.lake, &settings.s3).await?;
        Ok(Self::new(store, settings.fields, Config::default()))
    }

    /// Handles one event: the partial batch response.
    pub async fn handle(&self, event: &KinesisEvent) -> BatchResponse {
        BatchResponse::from_outcomes(&self.handle_groups(event).await)
    }

    /// Handles one event and reports every shard group's outcome (in the order the shards
    /// first appear in the event).
    pub async fn handle_groups(&self, event: &KinesisEvent) -> Vec<GroupOutcome> {
        let mut order: Vec<&str> = Vec::new();
        let mut groups: BTreeMap<&str, Vec<&KinesisEventRecord>> = BTreeMap::new();
        for record in &event.records {
            let shard = record.shard();
            groups
                .entry(shard)
                .or_insert_with(|| {
                    order.push(shard);
                    Vec::new()
                })
                .push(record);
        }
        let mut outcomes = Vec::with_capacity(order.len());
        for shard in order {
            let records = groups.remove(shard).unwrap_or_default();
            outcomes.push(self.handle_group(shard, &records).await);
        }
        outcomes
    }

    async fn handle_group(&self, shard: &str, records: &[&KinesisEventRecord]) -> GroupOutcome {
        let first = records.first().map(|r| r.kinesis.sequence_number.clone()).unwrap_or_default();
        let last = records.last().map(|r| r.kinesis.sequence_number.clone()).unwrap_or_default();
        let decoded: Vec<Option<Vec<u8>>> = records
            .iter()
            .map(|r| base64::engine::general_purpose::STANDARD.decode(&r.kinesis.data).ok())
            .collect();
        let items = records.iter().zip(&decoded).map(|(r, d)| match d {
            Some(data) => {
                RangeItem::Record(RangeRecord { sequence: &r.kinesis.sequence_number, data })
            }
            None => RangeItem::Undecodable {
                sequence: &r.kinesis.sequence_number,
                raw: r.kinesis.data.as_bytes(),
            },
        });
        let mut outcome = GroupOutcome {
            shard: shard.to_owned(),
            first_sequence: first,
            last_sequence: last,
            records: records.len(),
            stats: None,
            result: Ok(crate::store::RangeWrite::default()),
        };
        let output = match encode_range_items(
            &self.fields,
            &self.config,
            ParquetEncoder::default(),
            shard,
            items,
        ) {
            Ok(o) => o,
            Err(e) => {
                outcome.result = Err(e.into());
                return outcome;
            }
        };
        outcome.stats = Some(output.stats);
        outcome.result = self
            .store
            .write_range(shard, &output.first_sequence, output.objects)
            .await
            .map_err(GroupError::from);
        outcome
    }
}

/// One JSON log line for a group's outcome (what the binary prints to CloudWatch).
pub fn outcome_json(o: &GroupOutcome) -> serde_json::Value {
    let stats = o.stats.as_ref();
    serde_json::json!({
        "shard": o.shard,
        "first_sequence": o.first_sequence,
        "last_sequence": o.last_sequence,
        "records": o.records,
        "lines": stats.map(|s| s.lines),
        "rows": stats.map(|s| s.rows),
        "quarantined": stats.map(Stats::quarantined_total),
        "written": o.result.as_ref().ok().map(|w| w.written.len()),
        "deleted": o.result.as_ref().ok().map(|w| w.deleted.len()),
        "error": o.result.as_ref().err().map(|e| serde_json::json!({"code": e.code(), "message": e.to_string()})),
    })
}
