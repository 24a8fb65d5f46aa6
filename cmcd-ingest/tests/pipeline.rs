//! The pipeline end to end in memory: deterministic object names, partition layout, rolling,
//! quarantine, bounded open partitions.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use cmcd_ingest::generate::{Config as GenConfig, Generator};
use cmcd_ingest::pipeline::{Config, Pipeline, Position};
use cmcd_ingest::sink::{MemorySink, TextEncoder};

fn run(lines: &[String], config: Config) -> (cmcd_ingest::pipeline::Stats, MemorySink) {
    let fields = cmcd_ingest::field::FieldSet::all();
    let mut p = Pipeline::new(fields, config, TextEncoder, MemorySink::default());
    for (i, l) in lines.iter().enumerate() {
        p.push(l.as_bytes(), Position::Line { source: "gen-log", number: i as u64 + 1 }).unwrap();
    }
    p.finish().unwrap()
}

fn traffic() -> Vec<String> {
    Generator::new(GenConfig {
        sessions: 12,
        minutes: 150,
        seed: 5,
        bad_line_every: 200,
        ..GenConfig::default()
    })
    .collect()
}

#[test]
fn same_input_same_objects() {
    let lines = traffic();
    let config = Config { row_group_rows: 1000, file_bytes: 400_000, ..Config::default() };
    let (a_stats, a) = run(&lines, config.clone());
    let (b_stats, b) = run(&lines, config);
    assert_eq!(a.objects, b.objects);
    assert_eq!(a_stats, b_stats);
    assert_counts_match_objects(&a_stats, &a);
    assert_eq!(a_stats.rows + a_stats.quarantined_total(), lines.len() as u64);
    // Layout: requests and sessions per dt/hour, quarantine at the top.
    let re = |k: &str| {
        let parts: Vec<&str> = k.split('/').collect();
        match parts.as_slice() {
            [t, dt, hour, name] => {
                (*t == "requests" || *t == "sessions")
                    && dt.len() == 13
                    && dt.starts_with("dt=2024-05-02")
                    && hour.len() == 7
                    && hour.starts_with("hour=")
                    && name.starts_with("part-gen-log-")
                    && name.ends_with(".tsv")
            }
            [t, name] => {
                *t == "quarantine" && name.starts_with("part-gen-log-") && name.ends_with(".jsonl")
            }
            _ => false,
        }
    };
    for key in a.objects.keys() {
        assert!(re(key), "{key}");
    }
    // 150 minutes from 11:00 span three hours at least; files roll at 400 kB.
    let hours: std::collections::BTreeSet<&str> =
        a.objects.keys().filter(|k| k.starts_with("requests/")).map(|k| &k[9..31]).collect();
    assert!(hours.len() >= 3, "{hours:?}");
    let requests = a.objects.iter().filter(|(k, _)| k.starts_with("requests/")).count();
    assert!(requests > hours.len(), "files roll at the size threshold");
    // Every requests row is in exactly one file (header line + rows).
    let rows: usize = a
        .objects
        .iter()
        .filter(|(k, _)| k.starts_with("requests/"))
        .map(|(_, v)| v.iter().filter(|&&b| b == b'\n').count() - 1)
        .sum();
    assert_eq!(rows as u64, a_stats.rows);
    let quarantined: usize = a
        .objects
        .iter()
        .filter(|(k, _)| k.starts_with("quarantine/"))
        .map(|(_, v)| v.iter().filter(|&&b| b == b'\n').count())
        .sum();
    assert_eq!(quarantined as u64, a_stats.quarantined_total());
    assert!(a_stats.quarantined_total() > 0);
}

#[test]
fn one_open_partition_still_writes_everything() {
    let lines = traffic();
    let (stats, sink) =
        run(&lines, Config { max_open_partitions: 1, row_group_rows: 100, ..Config::default() });
    let rows: usize = sink
        .objects
        .iter()
        .filter(|(k, _)| k.starts_with("requests/"))
        .map(|(_, v)| v.iter().filter(|&&b| b == b'\n').count() - 1)
        .sum();
    assert_eq!(rows as u64, stats.rows);
    assert!(stats.session_rows > 0);
}

/// `push_batch` (rows appended column by column, in blocks) writes exactly what `push` line by
/// line writes: same objects, same row groups (a file per row group here), same counters —
/// with partition changes, a partition closed to make room, bad lines and rows in blocks
/// that straddle row groups.
#[test]
fn push_batch_equals_push_line_by_line() {
    use cmcd_ingest::sink::{ReaderSource, Source};
    let lines: Vec<String> = Generator::new(GenConfig {
        sessions: 4,
        minutes: 130,
        seed: 9,
        bad_line_every: 97,
        ..GenConfig::default()
    })
    .collect();
    let text = lines.join("\n");
    for (rows, open, file_bytes) in [(29, 1, 1), (300, 2, 1), (257, 1, 400_000)] {
        let config = Config {
            row_group_rows: rows,
            max_open_partitions: open,
            file_bytes,
            ..Config::default()
        };
        let (line_stats, by_line) = run(&lines, config.clone());
        let fields = cmcd_ingest::field::FieldSet::all();
        let mut p = Pipeline::new(fields, config, TextEncoder, MemorySink::default());
        let mut source = ReaderSource::new(text.as_bytes(), "gen-log");
        let mut batches = 0;
        while let Some(batch) = source.next_batch().unwrap() {
            p.push_batch(&batch).unwrap();
            batches += 1;
        }
        let (batch_stats, by_batch) = p.finish().unwrap();
        assert!(batches >= 1);
        assert_eq!(line_stats, batch_stats, "rows {rows}, open {open}");
        assert_eq!(
            by_line.objects.keys().collect::<Vec<_>>(),
            by_batch.objects.keys().collect::<Vec<_>>(),
            "rows {rows}, open {open}"
        );
        assert_eq!(by_line.objects, by_batch.objects, "rows {rows}, open {open}");
        assert!(by_line.objects.len() > 3);
        assert!(batch_stats.quarantined_total() > 0 && batch_stats.session_rows > 0);
    }
}

/// A sink whose objects take `room` bytes each, then fail as a full disk does.
#[derive(Default)]
struct FullDisk {
    room: usize,
    committed: Vec<String>,
}

/// An output with room for `.0` more bytes, then full.
struct Limited(usize);

impl std::io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.0 {
            return Err(std::io::ErrorKind::StorageFull.into());
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl cmcd_ingest::sink::Sink for FullDisk {
    type Object = Limited;
    fn create(&mut self, _: &str) -> Result<Limited, cmcd_ingest::error::Error> {
        Ok(Limited(self.room))
    }
    fn commit(&mut self, key: &str, _: Limited) -> Result<(), cmcd_ingest::error::Error> {
        self.committed.push(key.to_owned());
        Ok(())
    }
}

/// `requests` files are written to their object while they are encoded: a failing object is a
/// sink error naming the object's key, and nothing is committed for it.
#[test]
fn a_failing_object_is_a_sink_error_with_its_key() {
    let lines = traffic();
    let fields = cmcd_ingest::field::FieldSet::all();
    let config = Config { row_group_rows: 500, ..Config::default() };
    let sink = FullDisk { room: 100_000, ..FullDisk::default() };
    let mut p = Pipeline::new(fields, config, TextEncoder, sink);
    let mut result = Ok(());
    for (i, l) in lines.iter().enumerate() {
        result = p.push(l.as_bytes(), Position::Line { source: "gen-log", number: i as u64 + 1 });
        if result.is_err() {
            break;
        }
    }
    let result = result.and_then(|()| p.finish().map(drop));
    match result {
        Err(cmcd_ingest::error::Error::Sink { key, source }) => {
            assert!(key.starts_with("requests/dt=2024-05-02/hour="), "{key}");
            assert!(key.ends_with(".tsv"), "{key}");
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        }
        other => panic!("{other:?}"),
    }
}

/// The counters are the objects as stored, whole.
fn assert_counts_match_objects(stats: &cmcd_ingest::pipeline::Stats, sink: &MemorySink) {
    for table in ["requests", "sessions", "quarantine"] {
        let stored: Vec<usize> = sink
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{table}/")))
            .map(|(_, v)| v.len())
            .collect();
        assert_eq!(stats.objects.get(table).copied(), Some(stored.len() as u64), "{table}");
        let bytes: usize = stored.iter().sum();
        assert_eq!(stats.object_bytes.get(table).copied(), Some(bytes as u64), "{table}");
    }
}

/// With Parquet, whose footer is written when a file finishes, the counted bytes are still the
/// stored objects'.
#[cfg(feature = "parquet")]
#[test]
fn parquet_object_sizes_are_counted_whole() {
    let lines = traffic();
    let fields = cmcd_ingest::field::FieldSet::all();
    let config = Config { row_group_rows: 1000, file_bytes: 400_000, ..Config::default() };
    let encoder = cmcd_ingest::parquet::ParquetEncoder::default();
    let mut p = Pipeline::new(fields, config, encoder, MemorySink::default());
    for (i, l) in lines.iter().enumerate() {
        p.push(l.as_bytes(), Position::Line { source: "gen-log", number: i as u64 + 1 }).unwrap();
    }
    let (stats, sink) = p.finish().unwrap();
    assert!(stats.objects.get("requests").copied().unwrap_or(0) > 1, "{stats:?}");
    assert_counts_match_objects(&stats, &sink);
}

/// A Parquet file whose output fails reports the output's own error (as a sink error, its key
/// filled in by the pipeline), not polars' rewording of it.
#[cfg(feature = "parquet")]
#[test]
fn a_failing_parquet_output_is_a_sink_error() {
    use cmcd_ingest::sink::{EncodedFile, Encoder};

    let fields = cmcd_ingest::field::FieldSet::all();
    let mut batch = cmcd_ingest::batch::Batch::new(cmcd_ingest::schema::requests(), 64);
    for line in traffic().iter().take(200) {
        if let Ok(request) = cmcd_ingest::request::Request::parse(&fields, line.as_bytes()) {
            batch.push_row(|c| request.datum(c.source));
        }
    }
    let encoder = cmcd_ingest::parquet::ParquetEncoder::default();
    let mut file = encoder.create(cmcd_ingest::schema::requests(), Vec::new()).unwrap();
    file.write(&mut batch.clone()).unwrap();
    let bytes = file.finish().unwrap();

    let mut file =
        encoder.create(cmcd_ingest::schema::requests(), Limited(bytes.len() / 2)).unwrap();
    let failed = file.write(&mut batch).and_then(|()| file.finish().map(drop));
    match failed {
        Err(cmcd_ingest::error::Error::Sink { key, source }) => {
            assert!(key.is_empty());
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        }
        other => panic!("{other:?}"),
    }
}
