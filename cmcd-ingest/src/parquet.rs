//! The Parquet encoder (feature `parquet`): with [`crate::batch`]'s text columns, the only part
//! of the pipeline that names polars.
//!
//! A [`Batch`] becomes a polars `DataFrame` typed from the [`crate::schema`] definition and is
//! written as one row group by polars' batched Parquet writer: ZSTD compression, statistics,
//! dictionary encoding of string columns (polars dictionary-encodes a column unless more than
//! three quarters of its values are distinct), `timestamp` columns as INT64 with the logical type
//! TIMESTAMP(MILLIS, UTC), BIGINT as INT64, no unsigned types.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use polars::io::parquet::write::BatchedWriter;
use polars::polars_utils::compression::ZstdLevel;
use polars::prelude::{
    BooleanChunked, Column, DataFrame, DataType, Float64Chunked, Int64Chunked, IntoColumn,
    NewChunkedArray, ParquetCompression, ParquetWriter, Schema, StringChunked, TimeUnit, TimeZone,
};
use polars_arrow::bitmap::Bitmap;

use crate::batch::{Batch, ColumnData};
use crate::error::Error;
use crate::schema::{ColumnType, Table};
use crate::sink::{EncodedFile, Encoder};

/// The polars data type of a column type.
pub fn dtype(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::String,
        ColumnType::BigInt => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Timestamp => DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
    }
}

/// The polars schema of a table.
pub fn polars_schema(table: &Table) -> Schema {
    table.columns.iter().map(|c| (c.name.as_str().into(), dtype(c.ty))).collect()
}

/// A batch as a polars `DataFrame` with the schema's types. The text is moved out, not
/// copied; the batch is empty afterwards (its fixed-width buffers keep their capacity).
///
/// # Errors
///
/// [`Error::Encode`] if polars rejects the columns (lengths differ).
pub fn to_frame(batch: &mut Batch) -> Result<DataFrame, Error> {
    let table = batch.table();
    let rows = batch.len();
    let columns: Vec<Column> = table
        .columns
        .iter()
        .zip(batch.columns_mut())
        .map(|(def, data)| {
            let name = def.name.as_str().into();
            match data {
                ColumnData::Str(c) => StringChunked::with_chunk(name, c.take_arrow()).into_column(),
                ColumnData::Int(v) => Int64Chunked::from_vec_validity(
                    name,
                    v.values().to_vec(),
                    validity(v.validity(), v.has_nulls()),
                )
                .into_column(),
                ColumnData::Float(v) => Float64Chunked::from_vec_validity(
                    name,
                    v.values().to_vec(),
                    validity(v.validity(), v.has_nulls()),
                )
                .into_column(),
                ColumnData::Bool(v) => {
                    BooleanChunked::from_iter_options(name, v.iter()).into_column()
                }
                ColumnData::Millis(v) => Int64Chunked::from_vec_validity(
                    name,
                    v.values().to_vec(),
                    validity(v.validity(), v.has_nulls()),
                )
                .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                .into_column(),
            }
        })
        .collect();
    batch.clear();
    DataFrame::new(rows, columns).map_err(|e| encode_error(table, &e))
}

/// An Arrow validity bitmap, or none when every cell holds a value.
fn validity(valid: &[bool], has_nulls: bool) -> Option<Bitmap> {
    has_nulls.then(|| valid.iter().copied().collect())
}

fn encode_error(table: &Table, e: &dyn std::fmt::Display) -> Error {
    Error::Encode { table: table.name, message: e.to_string() }
}

/// A writer into memory shared with the encoder, so the bytes can be taken back after polars'
/// writer (which keeps its `Write`) has finished.
#[derive(Debug, Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Encodes tables as Parquet with ZSTD at a chosen level (default
/// [`ParquetEncoder::DEFAULT_ZSTD_LEVEL`]).
#[derive(Debug, Clone, Copy)]
pub struct ParquetEncoder {
    zstd_level: i32,
}

impl Default for ParquetEncoder {
    fn default() -> Self {
        Self { zstd_level: Self::DEFAULT_ZSTD_LEVEL }
    }
}

impl ParquetEncoder {
    /// The default ZSTD level. Measured on generated traffic (`BENCHMARKS.md`): level 1
    /// compresses the `requests` table about as well as zstd's own default (3) and spends
    /// less CPU.
    pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

    /// An encoder compressing at ZSTD `level` (1–22; higher is smaller and slower).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] naming the accepted range when `level` is outside it.
    pub fn with_zstd_level(level: i32) -> Result<Self, Error> {
        Self::level(level, "parquet")?;
        Ok(Self { zstd_level: level })
    }

    /// The ZSTD level.
    pub fn zstd_level(&self) -> i32 {
        self.zstd_level
    }

    fn level(level: i32, table: &'static str) -> Result<ZstdLevel, Error> {
        ZstdLevel::try_new(level).map_err(|_| Error::Encode {
            table,
            message: format!("ZSTD level {level} is outside 1–22"),
        })
    }
}

/// A Parquet file being written.
pub struct ParquetFile {
    table: &'static Table,
    buf: SharedBuf,
    writer: BatchedWriter<SharedBuf>,
}

impl std::fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile").field("table", &self.table.name).finish_non_exhaustive()
    }
}

impl Encoder for ParquetEncoder {
    type File = ParquetFile;

    fn create(&self, table: &'static Table) -> Result<ParquetFile, Error> {
        let buf = SharedBuf::default();
        let level = Self::level(self.zstd_level, table.name)?;
        let writer = ParquetWriter::new(buf.clone())
            .with_compression(ParquetCompression::Zstd(Some(level)))
            .with_row_group_size(Some(usize::MAX >> 1))
            .batched(&polars_schema(table))
            .map_err(|e| encode_error(table, &e))?;
        Ok(ParquetFile { table, buf, writer })
    }

    fn extension(&self) -> &'static str {
        "parquet"
    }
}

impl EncodedFile for ParquetFile {
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error> {
        let df = to_frame(batch)?;
        self.writer.write_batch(&df).map_err(|e| encode_error(self.table, &e))
    }

    fn bytes(&self) -> u64 {
        self.buf.len() as u64
    }

    fn finish(self) -> Result<Vec<u8>, Error> {
        self.writer.finish().map_err(|e| encode_error(self.table, &e))?;
        drop(self.writer);
        Ok(self.buf.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldSet;
    use crate::request::Request;
    use crate::schema;

    /// Every column written is in the DDL, with the Athena type matching its Parquet type.
    #[test]
    fn written_columns_match_the_ddl() {
        let ddl = schema::athena_ddl("s3://b/p", "db", "2024-01-01");
        let fields = FieldSet::all();
        let line = crate::generate::Generator::new(crate::generate::Config {
            sessions: 1,
            minutes: 1,
            bad_line_every: 0,
            ..Default::default()
        })
        .next()
        .unwrap();
        let request = Request::parse(&fields, line.as_bytes()).unwrap();
        let mut batch = Batch::new(schema::requests(), 1);
        batch.push_row(|c| request.datum(c.source));
        let df = to_frame(&mut batch.clone()).unwrap();
        for (col, def) in df.columns().iter().zip(&schema::requests().columns) {
            assert_eq!(col.name().as_str(), def.name);
            let athena = match col.dtype() {
                DataType::String => "string",
                DataType::Int64 => "bigint",
                DataType::Float64 => "double",
                DataType::Boolean => "boolean",
                DataType::Datetime(TimeUnit::Milliseconds, Some(tz)) if tz.as_str() == "UTC" => {
                    "timestamp"
                }
                other => panic!("{} has type {other:?}, not Athena-compatible", def.name),
            };
            assert!(ddl.contains(&format!("`{}` {athena} COMMENT", def.name)), "{}", def.name);
        }
        let mut file = ParquetEncoder::default().create(schema::requests()).unwrap();
        file.write(&mut batch).unwrap();
        let bytes = file.finish().unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    }
}
