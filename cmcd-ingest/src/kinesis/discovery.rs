//! Shard discovery: `ListShards` with paging. The first call names the stream; follow-up calls
//! send the `NextToken` without the stream name, as the API requires (and `MaxResults` again,
//! or the service returns everything left). Throttling is retried with backoff.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{DisplayErrorContext, SdkError};

use super::backoff::Backoff;
use super::error::ConsumerError;
use super::reader::is_retryable;

/// One shard as `ListShards` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard id.
    pub shard_id: String,
    /// Its parents (none for an original shard, one after a split, two after a merge).
    pub parents: Vec<String>,
    /// Whether the shard is closed (it has an ending sequence number).
    pub closed: bool,
}

/// The result of [`list_shards`].
#[derive(Debug, Clone)]
pub struct ShardList {
    /// Every shard, parents before children (in the order `ListShards` returns them, which is
    /// shard id order; children always have higher ids than their parents).
    pub shards: Vec<ShardInfo>,
    /// `ListShards` calls made (pages).
    pub pages: usize,
}

/// Lists every shard of `stream`, `page_size` shards per call (`None`: the service default).
///
/// # Errors
///
/// `kinesis` when a call fails for good (retryable failures are retried 8 times).
pub async fn list_shards(
    client: &Client,
    stream: &str,
    page_size: Option<i32>,
) -> Result<ShardList, ConsumerError> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t).set_max_results(page_size),
            None => client.list_shards().stream_name(stream).set_max_results(page_size),
        };
        let out = match req.send().await {
            Ok(out) => out,
            Err(e) if is_retryable(&e) && backoff.attempts() < 8 => {
                backoff.wait().await;
                continue;
            }
            Err(e) => return Err(kinesis_err("ListShards", &e)),
        };
        backoff.reset();
        pages += 1;
        for s in out.shards.unwrap_or_default() {
            let parents = [s.parent_shard_id, s.adjacent_parent_shard_id].into_iter().flatten();
            shards.push(ShardInfo {
                closed: s
                    .sequence_number_range
                    .as_ref()
                    .is_some_and(|r| r.ending_sequence_number.is_some()),
                shard_id: s.shard_id,
                parents: parents.collect(),
            });
        }
        match out.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(ShardList { shards, pages })
}

/// A Kinesis SDK error as a [`ConsumerError`].
pub(crate) fn kinesis_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    e: &SdkError<E, R>,
) -> ConsumerError {
    ConsumerError::Kinesis { operation, message: DisplayErrorContext(e).to_string() }
}
