//! One contiguous range of a stream shard's records → the lake objects that hold its lines.
//!
//! [`encode_range`] is a pure function: the same records (same shard, same sequence numbers,
//! same payloads, in the same order) always give the same object keys with the same rows. Every
//! object of a range is named by the shard and the range's **first** sequence number, which is
//! what a stream checkpoint fixes, so a retried range rewrites the same keys:
//!
//! - `requests/dt=YYYY-MM-DD/hour=HH/part-<shard>-<first seq>.<ext>` per hour the range touches,
//!   with `-1`, `-2`, … after the name when one hour's rows roll over
//!   [`Config::file_bytes`](crate::pipeline::Config::file_bytes) (or when the hour is reopened
//!   after more than [`Config::max_open_partitions`](crate::pipeline::Config) other hours);
//! - `quarantine/part-<shard>-<first seq>.jsonl` for bad lines, each keeping its own record's
//!   sequence number as its `position` (and `-1`, … past
//!   [`Config::quarantine_bytes`](crate::pipeline::Config::quarantine_bytes)).
//!
//! One record's payload holds one or more CloudFront log lines separated by `\n` (a final `\n`
//! ends the last line and adds none). A payload that is not a log line at all (binary, empty)
//! is quarantined like any bad line; it never fails the range.
//!
//! # What this does not do
//!
//! - **No `sessions` rows.** A session spans many ranges and shards (a player's requests are
//!   spread over shards by CloudFront), and its hour closes only once later traffic has been
//!   seen; a range has neither. Session rows from a stream need state kept across ranges and
//!   shards, which this function does not keep and does not fake.
//! - **No I/O.** Storing the objects, and replacing those of an earlier, different attempt at
//!   the same range, is the object store's job (`store::ObjectStore::write_range`, feature
//!   `s3`). A longer earlier attempt may have written keys this one does not produce; the
//!   store's manifest removes them.

use crate::error::{Error, Reason};
use crate::field::FieldSet;
use crate::partition::BatchId;
use crate::pipeline::{Config, Input, Pipeline, Position, Stats};
use crate::sink::{Encoder, MemorySink};

/// One stream record: its sequence number and its payload (one or more log lines).
#[derive(Debug, Clone, Copy)]
pub struct RangeRecord<'a> {
    /// The record's sequence number (`[A-Za-z0-9_-]{1,128}`; Kinesis sequence numbers are
    /// decimal digits).
    pub sequence: &'a str,
    /// The payload: CloudFront log lines separated by `\n`.
    pub data: &'a [u8],
}

/// The lake objects of one range and what went into them.
#[derive(Debug, Clone)]
pub struct RangeOutput {
    /// `(key, bytes)` of every object, sorted by key.
    pub objects: Vec<(String, Vec<u8>)>,
    /// Counters (lines, rows, quarantined lines by reason, objects). `session_rows` is 0.
    pub stats: Stats,
    /// The sequence number of the first record (it names every object).
    pub first_sequence: String,
    /// The sequence number of the last record (the checkpoint once the objects are durable).
    pub last_sequence: String,
    /// Records in the range.
    pub records: u64,
}

impl RangeOutput {
    /// The keys of [`RangeOutput::objects`].
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.objects.iter().map(|(k, _)| k.as_str())
    }
}

/// Encodes one contiguous range of records of `shard` into lake objects (see the module docs).
///
/// # Errors
///
/// - [`Error::EmptyRange`] when `records` is empty;
/// - [`Error::BadName`] when `shard` or a sequence number is not `[A-Za-z0-9_-]{1,128}`;
/// - [`Error::Encode`] from the encoder.
///
/// Bad lines are quarantined, never errors.
///
/// # Examples
///
/// ```
/// use cmcd_ingest::field::FieldSet;
/// use cmcd_ingest::pipeline::Config;
/// use cmcd_ingest::range::{encode_range, RangeRecord};
/// use cmcd_ingest::sink::TextEncoder;
///
/// let records = [
///     RangeRecord { sequence: "4959001", data: b"not a log line\n" },
///     RangeRecord { sequence: "4959002", data: b"" },
/// ];
/// let out = encode_range(
///     &FieldSet::all(), &Config::default(), TextEncoder, "shardId-000000000001", records,
/// )?;
/// assert_eq!(out.first_sequence, "4959001");
/// assert_eq!(out.last_sequence, "4959002");
/// assert_eq!(out.stats.quarantined_total(), 2);
/// assert_eq!(out.keys().collect::<Vec<_>>(), ["quarantine/part-shardId-000000000001-4959001.jsonl"]);
/// # Ok::<(), cmcd_ingest::Error>(())
/// ```
pub fn encode_range<'a, E: Encoder>(
    fields: &FieldSet,
    config: &Config,
    encoder: E,
    shard: &str,
    records: impl IntoIterator<Item = RangeRecord<'a>>,
) -> Result<RangeOutput, Error> {
    encode_range_items(fields, config, encoder, shard, records.into_iter().map(RangeItem::Record))
}

/// One element of a range as a transport delivers it: a record, or a record whose payload the
/// transport could not decode (quarantined whole as [`Reason::BadPayload`], keeping its place
/// and sequence number in the range).
#[derive(Debug, Clone, Copy)]
pub enum RangeItem<'a> {
    /// A decoded record.
    Record(RangeRecord<'a>),
    /// A record whose payload is not decodable; `raw` is what was received.
    Undecodable {
        /// The record's sequence number.
        sequence: &'a str,
        /// The raw payload text.
        raw: &'a [u8],
    },
}

impl<'a> RangeItem<'a> {
    /// The record's sequence number.
    pub fn sequence(&self) -> &'a str {
        match *self {
            Self::Record(r) => r.sequence,
            Self::Undecodable { sequence, .. } => sequence,
        }
    }
}

/// [`encode_range`] over records some of which could not be decoded by their transport.
///
/// # Errors
///
/// As [`encode_range`].
pub fn encode_range_items<'a, E: Encoder>(
    fields: &FieldSet,
    config: &Config,
    encoder: E,
    shard: &str,
    items: impl IntoIterator<Item = RangeItem<'a>>,
) -> Result<RangeOutput, Error> {
    let mut records = items.into_iter().peekable();
    let first = records.peek().ok_or_else(|| Error::EmptyRange(shard.to_owned()))?.sequence();
    let id = BatchId::new(shard, first)?;
    let first_sequence = first.to_owned();
    let mut pipeline =
        Pipeline::new(fields.clone(), config.clone(), encoder, MemorySink::default())
            .single_batch(id);
    // Names are checked before any line is pushed; the lines of all records then go through
    // the pipeline's block path together (a record usually holds one line).
    let mut items_in_order = Vec::new();
    let mut last = first;
    for item in records {
        let sequence = item.sequence();
        if sequence != last {
            BatchId::new(shard, sequence)?;
        }
        last = sequence;
        items_in_order.push(item);
    }
    let count = items_in_order.len() as u64;
    let inputs = items_in_order.iter().flat_map(|item| {
        let at = Position::Record { shard, sequence: item.sequence() };
        let (record_lines, rejected) = match *item {
            RangeItem::Record(record) => (Some(lines(record.data)), None),
            RangeItem::Undecodable { raw, .. } => {
                (None, Some(Input::Reject(raw, Reason::BadPayload)))
            }
        };
        record_lines
            .into_iter()
            .flatten()
            .map(Input::Line)
            .chain(rejected)
            .map(move |input| (input, at))
    });
    pipeline.push_inputs(inputs)?;
    let last_sequence = last.to_owned();
    let (stats, sink) = pipeline.finish()?;
    // Single-batch names are unique, so the sink holds every object once.
    let objects = sink.objects.into_iter().collect();
    Ok(RangeOutput { objects, stats, first_sequence, last_sequence, records: count })
}

/// The lines of one payload: split at `\n`; a final `\n` adds no line; an empty payload is one
/// empty line (quarantined as `empty`, so the record is accounted for).
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.split(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_lines() {
        let l = |d: &'static [u8]| lines(d).collect::<Vec<_>>();
        assert_eq!(l(b"a\nb\n"), [&b"a"[..], b"b"]);
        assert_eq!(l(b"a\nb"), [&b"a"[..], b"b"]);
        assert_eq!(l(b"a"), [&b"a"[..]]);
        assert_eq!(l(b""), [&b""[..]]);
        assert_eq!(l(b"\n"), [&b""[..]]);
        assert_eq!(l(b"a\n\nb\n"), [&b"a"[..], b"", b"b"]);
    }
}
