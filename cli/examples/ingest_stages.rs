//! Where file ingest spends its time: the same log file, held in memory, through three stages
//! that each add one part of `ingest file`, alternating for a few rounds (best round each):
//!
//! 1. `read`: the line reader alone (chunks cut at line ends, line numbers);
//! 2. `typed`: the whole pipeline — parse, typing, CMCD, SMD session id, sessions, quarantine,
//!    row buffers — with an encoder that drops each finished row group;
//! 3. `parquet`: the same with the Parquet encoder (objects kept in memory, not written).
//!
//! The differences are the cost of each part: `typed − read` the pipeline, `parquet − typed`
//! the Parquet writer (frames, dictionaries, statistics, ZSTD).
//!
//! ```sh
//! POLARS_MAX_THREADS=1 cargo run --release -p smd-cli --example ingest_stages -- FILE FIELDS [ROUNDS]
//! ```
//!
//! FIELDS is the comma-separated field list of the file (as for `ingest file --fields`);
//! ROUNDS defaults to 3.

use std::io::{Cursor, Write};
use std::time::Instant;

use anyhow::{Context, Result};
use cmcd_ingest::batch::Batch;
use cmcd_ingest::error::Error;
use cmcd_ingest::field::FieldSet;
use cmcd_ingest::parquet::ParquetEncoder;
use cmcd_ingest::pipeline::{Config, Pipeline};
use cmcd_ingest::schema::Table;
use cmcd_ingest::sink::{EncodedFile, Encoder, ReaderSource, Sink, Source as _};

// The allocator of `smd-cli`, so the figures match the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Counts rows and drops them.
#[derive(Debug, Clone, Copy)]
struct DropRows;

#[derive(Debug)]
struct DroppedFile<W>(W);

impl Encoder for DropRows {
    type File<W: Write> = DroppedFile<W>;
    fn create<W: Write>(&self, _: &'static Table, out: W) -> Result<DroppedFile<W>, Error> {
        Ok(DroppedFile(out))
    }
    fn extension(&self) -> &'static str {
        "dropped"
    }
}

impl<W: Write> EncodedFile<W> for DroppedFile<W> {
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error> {
        batch.clear();
        Ok(())
    }
    fn bytes(&self) -> u64 {
        0
    }
    fn finish(self) -> Result<W, Error> {
        Ok(self.0)
    }
}

/// Keeps the byte count of what it is given.
#[derive(Debug, Default)]
struct CountBytes(u64);

impl Sink for CountBytes {
    type Object = Vec<u8>;
    fn create(&mut self, _: &str) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
    fn commit(&mut self, _: &str, object: Vec<u8>) -> Result<(), Error> {
        self.0 += object.len() as u64;
        Ok(())
    }
}

/// One pass of the reader over `data`; the number of lines.
fn read_only(data: &[u8]) -> Result<u64> {
    let mut lines = 0;
    let mut source = ReaderSource::new(Cursor::new(data), "bench");
    while let Some(batch) = source.next_batch()? {
        lines += batch.len() as u64;
    }
    Ok(lines)
}

/// One pass of the pipeline over `data`; the rows and the bytes of the objects.
fn pipeline<E: Encoder>(data: &[u8], fields: &FieldSet, encoder: E) -> Result<(u64, u64)> {
    let mut pipeline = Pipeline::new(fields.clone(), Config::default(), encoder, CountBytes(0));
    let mut source = ReaderSource::new(Cursor::new(data), "bench");
    while let Some(batch) = source.next_batch()? {
        pipeline.push_batch(&batch)?;
    }
    let (stats, sink) = pipeline.finish()?;
    Ok((stats.rows, sink.0))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, fields, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: ingest_stages FILE FIELDS [ROUNDS]");
    };
    let rounds: usize = rest.first().map_or(Ok(3), |s| s.parse().context("ROUNDS is a number"))?;
    let fields = FieldSet::parse_names(fields)?;
    let data = std::fs::read(file).with_context(|| format!("reading {file}"))?;

    let mut best = [f64::INFINITY; 3];
    let mut lines = 0;
    for round in 1..=rounds.max(1) {
        let started = Instant::now();
        lines = read_only(&data)?;
        let read = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let (typed_rows, _) = pipeline(&data, &fields, DropRows)?;
        let typed = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let (rows, bytes) = pipeline(&data, &fields, ParquetEncoder::default())?;
        let parquet = started.elapsed().as_secs_f64();
        anyhow::ensure!(rows == typed_rows, "the two pipeline runs wrote different row counts");

        println!(
            "round {round}: read {read:.2} s, typed {typed:.2} s, parquet {parquet:.2} s \
             ({rows} rows, {:.1} MiB of objects)",
            bytes as f64 / (1024.0 * 1024.0)
        );
        for (b, t) in best.iter_mut().zip([read, typed, parquet]) {
            *b = b.min(t);
        }
    }
    let [read, typed, parquet] = best;
    let per_line = |s: f64| s * 1e6 / lines.max(1) as f64;
    let share = |s: f64| 100.0 * s / parquet;
    println!("best of rounds, {lines} lines:");
    for (name, seconds) in [
        ("read", read),
        ("pipeline (typed - read)", typed - read),
        ("writer (parquet - typed)", parquet - typed),
        ("total (parquet)", parquet),
    ] {
        println!(
            "  {name:<26} {seconds:6.2} s  {:6.2} µs/line  {:5.1} %",
            per_line(seconds),
            share(seconds)
        );
    }
    Ok(())
}
