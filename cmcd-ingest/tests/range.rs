//! Stream ranges → lake objects: keys fixed by shard and first sequence number, deterministic
//! output, every line accounted for, bad records quarantined with their own sequence number.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use cmcd_ingest::field::FieldSet;
use cmcd_ingest::generate::{Config as GenConfig, Generator};
use cmcd_ingest::pipeline::Config;
use cmcd_ingest::range::{RangeOutput, RangeRecord, encode_range};
use cmcd_ingest::sink::TextEncoder;

const SHARD: &str = "shardId-000000000003";

/// Kinesis-like sequence numbers (56 decimal digits, increasing).
fn seq(i: usize) -> String {
    format!("4959033827149025660855969253836157109592157598913{i:07}")
}

/// Generated traffic over 150 minutes (three hours at least), packed `per_record` lines per
/// record payload.
fn records(per_record: usize) -> Vec<(String, Vec<u8>)> {
    let lines: Vec<String> = Generator::new(GenConfig {
        sessions: 4,
        minutes: 150,
        seed: 11,
        bad_line_every: 0,
        ..GenConfig::default()
    })
    .collect();
    lines
        .chunks(per_record)
        .enumerate()
        .map(|(i, chunk)| {
            let mut data = chunk.join("\n").into_bytes();
            data.push(b'\n');
            (seq(i), data)
        })
        .collect()
}

fn encode(recs: &[(String, Vec<u8>)], config: &Config) -> RangeOutput {
    encode_range(
        &FieldSet::all(),
        config,
        TextEncoder,
        SHARD,
        recs.iter().map(|(s, d)| RangeRecord { sequence: s, data: d }),
    )
    .unwrap()
}

/// Data rows of TextEncoder objects (one header line each).
fn rows(out: &RangeOutput) -> usize {
    out.objects
        .iter()
        .filter(|(k, _)| k.starts_with("requests/"))
        .map(|(_, v)| v.iter().filter(|&&b| b == b'\n').count() - 1)
        .sum()
}

#[test]
fn keys_are_fixed_by_shard_and_first_sequence() {
    let recs = records(3);
    let lines: usize = recs.iter().map(|(_, d)| d.iter().filter(|&&b| b == b'\n').count()).sum();
    let config = Config::default();
    let a = encode(&recs, &config);
    let b = encode(&recs, &config);
    assert_eq!(a.objects, b.objects, "same range, same objects");
    assert_eq!(a.first_sequence, seq(0));
    assert_eq!(a.last_sequence, seq(recs.len() - 1));
    assert_eq!(a.records, recs.len() as u64);
    assert_eq!(a.stats.lines, lines as u64);
    assert_eq!(a.stats.rows, lines as u64, "generated lines are all good");
    assert_eq!(rows(&a), lines);
    assert_eq!(a.stats.session_rows, 0, "ranges never write sessions");
    let first = seq(0);
    let mut hours = Vec::new();
    for key in a.keys() {
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 4, "{key}");
        assert_eq!(parts[0], "requests", "{key}");
        assert_eq!(parts[3], format!("part-{SHARD}-{first}.tsv"), "{key}");
        hours.push(format!("{}/{}", parts[1], parts[2]));
    }
    // One object per UTC hour of the lines' timestamps (nothing rolls at 128 MiB).
    let want: std::collections::BTreeSet<String> = recs
        .iter()
        .flat_map(|(_, d)| {
            std::str::from_utf8(d).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .map(|line| {
            let secs: f64 = line.split('\t').next().unwrap().parse().unwrap();
            format!("dt=2024-05-02/hour={:02}", (secs as i64) / 3600 % 24)
        })
        .collect();
    assert!(want.len() >= 3, "{want:?}");
    assert_eq!(hours, want.into_iter().collect::<Vec<_>>());
}

#[test]
fn a_shorter_range_gives_a_subset_of_the_keys_and_a_prefix_of_the_rows() {
    let recs = records(2);
    let config = Config::default();
    let long = encode(&recs, &config);
    let short = encode(&recs[..recs.len() / 4], &config);
    let long_keys: Vec<&str> = long.keys().collect();
    for key in short.keys() {
        assert!(long_keys.contains(&key), "{key} not in {long_keys:?}");
    }
    assert!(short.objects.len() < long.objects.len(), "the short range ends an hour earlier");
    assert_eq!(short.last_sequence, seq(recs.len() / 4 - 1));
    // The first object of the short range is the start of the long one's (same hour, same
    // first row), with fewer rows.
    let (k, s) = &short.objects[0];
    let l = &long.objects.iter().find(|(lk, _)| lk == k).unwrap().1;
    assert!(l.starts_with(s) && s.len() < l.len(), "{k}");
}

#[test]
fn rolled_files_get_deterministic_suffixes() {
    let recs = records(4);
    let config = Config { row_group_rows: 200, file_bytes: 150_000, ..Config::default() };
    let a = encode(&recs, &config);
    let b = encode(&recs, &config);
    assert_eq!(a.objects, b.objects);
    let keys: Vec<&str> = a.keys().collect();
    let mut per_hour: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for key in &keys {
        let (dir, name) = key.rsplit_once('/').unwrap();
        per_hour.entry(dir).or_default().push(name);
    }
    let first = seq(0);
    for (dir, names) in &per_hour {
        assert!(names.len() > 1, "{dir} rolled: {names:?}");
        let mut want: Vec<String> =
            (1..names.len()).map(|n| format!("part-{SHARD}-{first}-{n}.tsv")).collect();
        want.push(format!("part-{SHARD}-{first}.tsv"));
        want.sort();
        assert_eq!(names, &want, "{dir}");
    }
    let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "keys are unique");
    assert_eq!(rows(&a) as u64, a.stats.rows);
}

#[test]
fn bad_records_are_quarantined_with_their_own_sequence_number() {
    let mut recs = records(5);
    recs.truncate(40);
    recs[3].1 = vec![0xff, 0xfe, 0x00, b'\n']; // binary: not 69 cells
    recs[7].1 = Vec::new();
    recs[9].1 = b"1714647600.123\ttoo-few-cells\n".to_vec();
    let out = encode(&recs, &Config::default());
    let q: Vec<&(String, Vec<u8>)> =
        out.objects.iter().filter(|(k, _)| k.starts_with("quarantine/")).collect();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, format!("quarantine/part-{SHARD}-{}.jsonl", seq(0)));
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&q[0].1)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(String, String, String)> = lines
        .iter()
        .map(|v| {
            (
                v["position"].as_str().unwrap().to_owned(),
                v["reason"].as_str().unwrap().to_owned(),
                v["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (seq(3), "field_count".to_owned(), SHARD.to_owned()),
            (seq(7), "empty".to_owned(), SHARD.to_owned()),
            (seq(9), "field_count".to_owned(), SHARD.to_owned()),
        ]
    );
    assert_eq!(out.stats.quarantined_total(), 3);
    assert_eq!(out.stats.rows + 3, out.stats.lines);
    assert_eq!(rows(&out) as u64, out.stats.rows);
}

#[test]
fn bad_ranges_are_errors_with_codes() {
    let fields = FieldSet::all();
    let config = Config::default();
    let none: [RangeRecord<'_>; 0] = [];
    let err = encode_range(&fields, &config, TextEncoder, SHARD, none).unwrap_err();
    assert_eq!(err.code(), "empty_range");
    let one = [RangeRecord { sequence: "1", data: b"x" }];
    let err = encode_range(&fields, &config, TextEncoder, "../shard", one).unwrap_err();
    assert_eq!(err.code(), "bad_name");
    let two =
        [RangeRecord { sequence: "1", data: b"x" }, RangeRecord { sequence: "2/3", data: b"" }];
    let err = encode_range(&fields, &config, TextEncoder, SHARD, two).unwrap_err();
    assert_eq!(err.code(), "bad_name");
}

/// A range gives the objects and counters of its lines pushed into a single-batch pipeline one
/// at a time (undecodable records rejected in their place), whatever the row-group, file and
/// open-partition limits: the block path changes how rows are appended, not what is written.
#[test]
fn a_range_equals_its_lines_pushed_one_by_one() {
    use cmcd_ingest::error::Reason;
    use cmcd_ingest::partition::BatchId;
    use cmcd_ingest::pipeline::{Pipeline, Position};
    use cmcd_ingest::range::{RangeItem, encode_range_items};
    use cmcd_ingest::sink::MemorySink;

    let mut recs = records(3);
    recs[5].1 = b"1714647600.123\ttoo-few-cells\n".to_vec();
    recs[6].1 = Vec::new();
    let undecodable = [11, 12, 400];
    let items: Vec<RangeItem<'_>> = recs
        .iter()
        .enumerate()
        .map(|(i, (s, d))| {
            if undecodable.contains(&i) {
                RangeItem::Undecodable { sequence: s, raw: b"not base64 !" }
            } else {
                RangeItem::Record(RangeRecord { sequence: s, data: d })
            }
        })
        .collect();
    for (rows, open, file_bytes) in
        [(29, 1, 1), (300, 2, 1), (257, 1, 60_000), (32_768, 8, 1 << 27)]
    {
        let config = Config {
            row_group_rows: rows,
            max_open_partitions: open,
            file_bytes,
            ..Config::default()
        };
        let out = encode_range_items(&FieldSet::all(), &config, TextEncoder, SHARD, items.clone())
            .unwrap();

        let id = BatchId::new(SHARD, &recs[0].0).unwrap();
        let mut p = Pipeline::new(FieldSet::all(), config, TextEncoder, MemorySink::default())
            .single_batch(id);
        for item in &items {
            let at = Position::Record { shard: SHARD, sequence: item.sequence() };
            match *item {
                RangeItem::Record(r) => {
                    let data = r.data.strip_suffix(b"\n").unwrap_or(r.data);
                    for line in data.split(|&b| b == b'\n') {
                        p.push(line, at).unwrap();
                    }
                }
                RangeItem::Undecodable { raw, .. } => {
                    p.reject(raw, Reason::BadPayload, at).unwrap()
                }
            }
        }
        let (stats, sink) = p.finish().unwrap();
        let label = format!("rows {rows}, open {open}, file bytes {file_bytes}");
        assert_eq!(out.stats, stats, "{label}");
        let expected: Vec<(String, Vec<u8>)> = sink.objects.into_iter().collect();
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            expected.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            "{label}"
        );
        assert_eq!(out.objects, expected, "{label}");
        assert_eq!(out.stats.quarantined.get("bad_payload"), Some(&3), "{label}");
        assert!(out.stats.quarantined_total() >= 5 && out.stats.rows > 1500, "{label}");
        assert!(out.objects.len() > 3, "{label}");
    }
}
