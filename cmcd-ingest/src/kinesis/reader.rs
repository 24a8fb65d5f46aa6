//! One shard's `GetRecords` loop, within the per-shard limits: at most 5 calls per second
//! (200 ms apart), at most 10,000 records per call (the service caps a response at 10 MB).
//! Throttling (`ProvisionedThroughputExceededException`, `KMSThrottlingException`,
//! `LimitExceededException`), 5xx answers and connection failures are retried with exponential
//! backoff and jitter; an expired iterator is replaced by a new one `AFTER_SEQUENCE_NUMBER` of
//! the last record handed out (or at the original position when none was).
//!
//! The SDK's own retries are off for these two calls: this loop is the only one retrying them,
//! so retries keep the 200 ms spacing and are counted.
//!
//! It does not buffer, decode or checkpoint: the shard worker does.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;

use super::backoff::Backoff;
use super::discovery::kinesis_err;
use super::error::ConsumerError;

/// Where a reader starts when a shard has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest record in the stream (`TRIM_HORIZON`).
    TrimHorizon,
    /// Only records put after the iterator is made (`LATEST`).
    Latest,
    /// The first record at or after this time (epoch ms).
    AtTimestamp(i64),
}

impl StartAt {
    /// Parses `trim-horizon`, `latest` or `at-timestamp=RFC3339` (UTC `Z` or an offset).
    ///
    /// # Errors
    ///
    /// `bad_start`.
    pub fn parse(text: &str) -> Result<Self, ConsumerError> {
        let bad = || ConsumerError::BadStart(text.to_owned());
        match text {
            "trim-horizon" => Ok(Self::TrimHorizon),
            "latest" => Ok(Self::Latest),
            _ => {
                let ts = text.strip_prefix("at-timestamp=").ok_or_else(bad)?;
                let dt =
                    DateTime::from_str(ts, aws_sdk_kinesis::primitives::DateTimeFormat::DateTime)
                        .map_err(|_| bad())?;
                Ok(Self::AtTimestamp(dt.to_millis().map_err(|_| bad())?))
            }
        }
    }
}

/// Where to (re)start reading a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// At this sequence number (replaying a pending range).
    At(String),
    /// After this sequence number (after a checkpoint or the last record held).
    After(String),
    /// At the configured start.
    Start(StartAt),
}

/// One record as read.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// Its sequence number.
    pub sequence: String,
    /// Its payload: one or more log lines.
    pub data: Vec<u8>,
}

/// One `GetRecords` answer.
#[derive(Debug, Default)]
pub struct Fetch {
    /// The records, in sequence order.
    pub records: Vec<StreamRecord>,
    /// How far behind the tip of the stream the reader is, ms.
    pub millis_behind: Option<i64>,
    /// The shard is closed and has been read to its end.
    pub end: bool,
    /// The children the service named at the end of the shard (`ChildShards`), with parents.
    pub children: Vec<(String, Vec<String>)>,
}

/// Minimum time between two `GetRecords` calls on one shard (5 calls/s).
pub const MIN_CALL_INTERVAL: Duration = Duration::from_millis(200);

/// Most records one `GetRecords` call may ask for.
pub const MAX_LIMIT: i32 = 10_000;

/// A configuration override that turns the SDK's retries off for one call.
fn without_sdk_retries() -> aws_sdk_kinesis::config::Builder {
    aws_sdk_kinesis::config::Builder::default()
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
}

/// Non-throttling failures in a row before a call is given up.
const MAX_FAILURES: u32 = 12;

/// Whether a failed call is worth retrying: throttling, a 5xx answer, a timeout or a
/// connection failure.
pub fn is_retryable<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => {
            is_throttling(se.err().code()) || se.raw().status().is_server_error()
        }
        _ => false,
    }
}

fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ProvisionedThroughputExceededException"
                | "KMSThrottlingException"
                | "LimitExceededException"
                | "ThrottlingException"
                | "InternalFailureException"
                | "InternalFailure"
        )
    )
}

/// The reader of one shard.
#[derive(Debug)]
pub struct ShardReader {
    client: Client,
    stream: String,
    shard: String,
    iterator: Option<String>,
    /// Where a new iterator starts: after the last record handed out, or the seek position.
    resume: Position,
    last_call: Option<Instant>,
    backoff: Backoff,
    /// `GetRecords` calls made.
    pub calls: u64,
    /// Retries after throttling or failures.
    pub retries: u64,
}

impl ShardReader {
    /// A reader of `shard`, not positioned yet.
    pub fn new(client: Client, stream: &str, shard: &str) -> Self {
        Self {
            client,
            stream: stream.to_owned(),
            shard: shard.to_owned(),
            iterator: None,
            resume: Position::Start(StartAt::TrimHorizon),
            last_call: None,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
            calls: 0,
            retries: 0,
        }
    }

    /// Moves the reader to `position` (the iterator is made on the next read).
    pub fn seek(&mut self, position: Position) {
        self.resume = position;
        self.iterator = None;
    }

    async fn new_iterator(&mut self) -> Result<String, ConsumerError> {
        let mut req =
            self.client.get_shard_iterator().stream_name(&self.stream).shard_id(&self.shard);
        req = match &self.resume {
            Position::At(seq) => req
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(seq),
            Position::After(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            Position::Start(StartAt::TrimHorizon) => {
                req.shard_iterator_type(ShardIteratorType::TrimHorizon)
            }
            Position::Start(StartAt::Latest) => req.shard_iterator_type(ShardIteratorType::Latest),
            Position::Start(StartAt::AtTimestamp(ms)) => req
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(*ms)),
        };
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match req.clone().customize().config_override(without_sdk_retries()).send().await {
                Ok(out) => {
                    return out.shard_iterator.ok_or_else(|| ConsumerError::Kinesis {
                        operation: "GetShardIterator",
                        message: format!("no iterator for {}", self.shard),
                    });
                }
                Err(e) if is_retryable(&e) && backoff.attempts() < MAX_FAILURES => {
                    self.retries += 1;
                    backoff.wait().await;
                }
                Err(e) => return Err(kinesis_err("GetShardIterator", &e)),
            }
        }
    }

    /// One `GetRecords` call of at most `limit` records (clamped to 1..=10,000), spaced at
    /// least 200 ms after the previous one, retried as the module docs say.
    ///
    /// # Errors
    ///
    /// `kinesis` when the call fails for good.
    pub async fn next(&mut self, limit: usize) -> Result<Fetch, ConsumerError> {
        let limit = i32::try_from(limit).unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
        loop {
            if let Some(at) = self.last_call {
                let since = at.elapsed();
                if since < MIN_CALL_INTERVAL {
                    tokio::time::sleep(MIN_CALL_INTERVAL - since).await;
                }
            }
            let iterator = match self.iterator.clone() {
                Some(it) => it,
                None => {
                    let it = self.new_iterator().await?;
                    self.iterator = Some(it.clone());
                    it
                }
            };
            self.last_call = Some(Instant::now());
            self.calls += 1;
            let res = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .limit(limit)
                .customize()
                .config_override(without_sdk_retries())
                .send()
                .await;
            match res {
                Ok(out) => {
                    self.backoff.reset();
                    let records: Vec<StreamRecord> = out
                        .records
                        .into_iter()
                        .map(|r| StreamRecord {
                            sequence: r.sequence_number,
                            data: r.data.into_inner(),
                        })
                        .collect();
                    if let Some(last) = records.last() {
                        self.resume = Position::After(last.sequence.clone());
                    }
                    let end = out.next_shard_iterator.is_none();
                    self.iterator = out.next_shard_iterator;
                    let children = out
                        .child_shards
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| (c.shard_id, c.parent_shards))
                        .collect();
                    return Ok(Fetch {
                        records,
                        millis_behind: out.millis_behind_latest,
                        end,
                        children,
                    });
                }
                Err(e)
                    if e.as_service_error().is_some_and(|s| s.is_expired_iterator_exception()) =>
                {
                    // Re-made from `resume`: after the last record handed out.
                    self.retries += 1;
                    self.iterator = None;
                }
                Err(e) if is_retryable(&e) => {
                    let throttled = e.as_service_error().is_some_and(|s| is_throttling(s.code()));
                    if !throttled && self.backoff.attempts() >= MAX_FAILURES {
                        return Err(kinesis_err("GetRecords", &e));
                    }
                    self.retries += 1;
                    self.backoff.wait().await;
                }
                Err(e) => return Err(kinesis_err("GetRecords", &e)),
            }
        }
    }
}
