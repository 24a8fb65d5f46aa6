//! Helpers shared by the object-store tests: generated stream records and the request ids of
//! the `requests` rows in a lake of TextEncoder objects.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use cmcd_ingest::field::FieldSet;
use cmcd_ingest::generate::{Config as GenConfig, Generator};
use cmcd_ingest::pipeline::Config;
use cmcd_ingest::range::{RangeOutput, RangeRecord, encode_range};
use cmcd_ingest::sink::TextEncoder;
use cmcd_ingest::store::ObjectStore;

/// A stream record: sequence number and payload (one log line).
pub(crate) type Rec = (String, Vec<u8>);

/// Kinesis-like sequence numbers (56 decimal digits, increasing).
pub(crate) fn seq(i: usize) -> String {
    format!("4959033827149025660855969253836157109592157598913{i:07}")
}

/// One record per generated line, over `minutes` from 11:00 UTC.
pub(crate) fn records(minutes: u32) -> Vec<Rec> {
    Generator::new(GenConfig {
        sessions: 3,
        minutes,
        seed: 21,
        bad_line_every: 0,
        ..GenConfig::default()
    })
    .enumerate()
    .map(|(i, line)| (seq(i), format!("{line}\n").into_bytes()))
    .collect()
}

/// The UTC hour of a record's line (its leading epoch-seconds timestamp).
pub(crate) fn hour(rec: &Rec) -> i64 {
    let text = std::str::from_utf8(&rec.1).unwrap();
    let secs: f64 = text.split('\t').next().unwrap().parse().unwrap();
    (secs as i64) / 3600 % 24
}

/// The index of the first record in `hour`.
pub(crate) fn first_in_hour(recs: &[Rec], h: i64) -> usize {
    recs.iter().position(|r| hour(r) == h).unwrap()
}

/// The `x-edge-request-id` of a record's line (cell 13 of the canonical order).
pub(crate) fn request_id(rec: &Rec) -> String {
    std::str::from_utf8(&rec.1).unwrap().split('\t').nth(12).unwrap().to_owned()
}

/// Encodes a range of `shard` with the text encoder.
pub(crate) fn encode(shard: &str, recs: &[Rec], config: &Config) -> RangeOutput {
    encode_range(
        &FieldSet::all(),
        config,
        TextEncoder,
        shard,
        recs.iter().map(|(s, d)| RangeRecord { sequence: s, data: d }),
    )
    .unwrap()
}

/// Writes a range to the store.
pub(crate) async fn write(
    store: &ObjectStore,
    shard: &str,
    recs: &[Rec],
    config: &Config,
) -> cmcd_ingest::store::RangeWrite {
    let out = encode(shard, recs, config);
    store.write_range(shard, &out.first_sequence, out.objects).await.unwrap()
}

/// Request id → number of `requests` rows holding it, over every object of the store.
pub(crate) async fn lake_ids(store: &ObjectStore) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for key in store.list("requests/").await.unwrap() {
        let bytes = store.get(&key).await.unwrap().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = header.iter().position(|c| *c == "x_edge_request_id").unwrap();
        for line in lines {
            *ids.entry(line.split('\t').nth(col).unwrap().to_owned()).or_default() += 1;
        }
    }
    ids
}

/// Request ids of `recs`, each once.
pub(crate) fn expected_ids(recs: &[Rec]) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for r in recs {
        *ids.entry(request_id(r)).or_default() += 1;
    }
    assert!(ids.values().all(|&n| n == 1), "generated request ids are unique");
    ids
}
