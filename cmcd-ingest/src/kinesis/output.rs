//! What the consumer does with a finished range: [`RangeEncoder`] turns its records into lake
//! objects (pure, CPU-bound: it runs on a blocking thread), [`RangeSink`] stores them durably.

use std::future::Future;

use super::reader::StreamRecord;

/// Lake objects of one range: `(key, bytes)`.
pub type Objects = Vec<(String, Vec<u8>)>;

/// A boxed error of a sink.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Turns one contiguous range of one shard's records into lake objects. Must be
/// deterministic: the same records always give the same keys and bytes (replays rely on it).
pub trait RangeEncoder: Send + Sync + 'static {
    /// Encodes `records` of `shard`.
    ///
    /// # Errors
    ///
    /// Encoder errors (bad lines are quarantined, not errors).
    fn encode(&self, shard: &str, records: &[StreamRecord]) -> Result<Objects, crate::Error>;
}

/// Stores the objects of one range durably, replacing whatever an earlier attempt at the same
/// range (same shard and first sequence number) left.
pub trait RangeSink: Send + Sync + 'static {
    /// Writes the range's objects; returns once they are durable.
    ///
    /// # Errors
    ///
    /// Any storage error; the consumer retries with backoff and does not checkpoint.
    fn write_range(
        &self,
        shard: &str,
        first_sequence: &str,
        objects: Objects,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}
