//! Encodes a CloudFront real-time log file the way the Kinesis consumer encodes a stream: one
//! line per record, `RANGE` records per range, each range through `encode_range` into Parquet
//! objects in memory (nothing is written). Prints the encode time per line, for comparing
//! builds of the range path without a Kinesis server in the measurement.
//!
//! ```sh
//! cargo run --release -p smd-cli --example encode_ranges -- FILE FIELDS [LINES] [RANGE]
//! ```
//!
//! FIELDS is the comma-separated field list of the file (as for `ingest file --fields`); LINES
//! (default 200,000) lines are read into memory first; RANGE defaults to 10,000 records, the
//! consumer's default `max_range_records`.

use std::time::Instant;

use anyhow::{Context, Result};
use cmcd_ingest::field::FieldSet;
use cmcd_ingest::parquet::ParquetEncoder;
use cmcd_ingest::pipeline::Config;
use cmcd_ingest::range::{RangeRecord, encode_range};

// The allocator of `smd-cli`, so the figures match the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, fields, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: encode_ranges FILE FIELDS [LINES] [RANGE]");
    };
    let number = |i: usize, default: usize| -> Result<usize> {
        rest.get(i).map_or(Ok(default), |s| s.parse().context("LINES and RANGE are numbers"))
    };
    let (max_lines, range) = (number(0, 200_000)?, number(1, 10_000)?.max(1));
    let fields = FieldSet::parse_names(fields)?;
    let data = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let lines: Vec<&[u8]> =
        data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).take(max_lines).collect();
    // Kinesis-like sequence numbers: 56 increasing decimal digits.
    let sequences: Vec<String> = (0..lines.len())
        .map(|i| format!("{:056}", 49_590_338_271_490_256_608u128 + i as u128))
        .collect();

    let started = Instant::now();
    let (mut ranges, mut objects, mut rows) = (0, 0, 0);
    for (chunk, seqs) in lines.chunks(range).zip(sequences.chunks(range)) {
        let records = chunk.iter().zip(seqs).map(|(l, s)| RangeRecord { sequence: s, data: l });
        let out = encode_range(
            &fields,
            &Config::default(),
            ParquetEncoder::default(),
            "shardId-000000000001",
            records,
        )?;
        ranges += 1;
        objects += out.objects.len();
        rows += out.stats.rows;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} lines, {ranges} ranges, {rows} rows, {objects} objects: {seconds:.3} s, {:.2} µs/line",
        lines.len(),
        seconds * 1e6 / lines.len().max(1) as f64
    );
    Ok(())
}
