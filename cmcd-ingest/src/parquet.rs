//! The Parquet encoder (feature `parquet`): with [`crate::batch`]'s text columns, the only part
//! of the pipeline that names polars.
//!
//! A [`Batch`] becomes Arrow arrays typed from the [`crate::schema`] definition and is written
//! as one row group by polars' Parquet writer (`polars-parquet`, the writer behind polars'
//! `ParquetWriter`, called directly so that each column chunk gets its own encoding): ZSTD
//! compression, statistics (min, max, null count), `timestamp` columns as INT64 with the
//! logical type TIMESTAMP(MILLIS, UTC), BIGINT as INT64, no unsigned types. The file's Arrow
//! schema is the one polars' `DataFrame` writer stores for the same columns. The pages are
//! compressed by `crate::compress` (one ZSTD context per file; the same frames as polars').
//!
//! Encodings: a text column arrives either as the dictionary [`crate::batch`] built while the
//! rows were appended — written as a dictionary page and RLE keys (the keys encoded by
//! `crate::dictionary_pages`), with statistics computed over the distinct texts only — or
//! plain, when more than three in four of its texts are distinct (polars' own threshold), and
//! is then written plain without a second dictionary attempt (pages by `crate::text_pages`,
//! cut and given statistics as polars does). Numbers and timestamps get
//! polars' choice (a dictionary when few distinct values, else plain), made by
//! `crate::number_dictionary`, and a dictionary's keys are encoded by `crate::dictionary_pages`
//! too; booleans are plain.
//!
//! Row order: a row group is written in its table's [`crate::schema::RowOrder`]. `requests`
//! rows are grouped by CMCD session (`Batch::write_order`, a counting sort over the `cmcd_sid`
//! dictionary's keys, which already number the sessions by first appearance). Numbers,
//! validity and dictionary keys are gathered into that order; plain text columns stay in
//! input order and `crate::text_pages` reads their cells through the order, page by page, so
//! that their text is never copied into a new order. On generated traffic the grouping makes
//! the `requests` files 16 % smaller and the ingest about 5 % cheaper in CPU (ZSTD finds the
//! repeats of a session's URLs, queries and headers next to each other; `BENCHMARKS.md`).
//! Text dictionaries are renumbered in the write order as they are taken (`crate::text`), so
//! the key pages follow the sessions too: `requests` another 6 % smaller.

use std::io::Write;
use std::sync::Arc;

use polars::polars_utils::compression::ZstdLevel;
use polars::prelude::{CompatLevel, DataType, PolarsError, Schema, SchemaExt, TimeUnit, TimeZone};
use polars_arrow::array::{Array, BooleanArray, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema};
use polars_parquet::parquet::page::Page;
use polars_parquet::read::ParquetError;
use polars_parquet::write::{
    CompressionOptions, DynIter, DynStreamingIterator, Encoding, FallibleStreamingIterator,
    FileWriter, ParquetType, StatisticsOptions, Version, WriteOptions, array_to_columns,
    get_dtype_encoding,
};

use crate::batch::{Batch, ColumnData, Values};
use crate::compress::{PageCompressor, SharedContext};
use crate::error::Error;
use crate::number_dictionary::{self, Choice};
use crate::schema::{ColumnType, Table};
use crate::sink::{CountingWriter, EncodedFile, Encoder, Tally};
use crate::text::{Taken, gather};
use crate::{dictionary_pages, text_pages};

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

/// The Arrow schema of a table, as polars converts [`polars_schema`] for Parquet.
pub fn arrow_schema(table: &Table) -> ArrowSchema {
    polars_schema(table).to_arrow(CompatLevel::newest())
}

/// A batch as Arrow arrays in schema order, with the schema's Arrow types (text columns as a
/// `Dictionary(UInt32, Utf8View)` or a `Utf8View` array), in input order. The text and the
/// numbers are moved out, not copied; the batch is empty afterwards.
///
/// # Errors
///
/// [`Error::Encode`] if Arrow rejects a column.
pub fn to_arrays(batch: &mut Batch) -> Result<Vec<Box<dyn Array>>, Error> {
    Ok(ordered_arrays(batch, None)?.into_iter().map(|c| c.array).collect())
}

/// A column's array for a row group: in the row group's write order, or (a plain text column)
/// in input order with the rows to write in that order, which its pages then read the cells
/// through instead of a copy of the text being made.
pub(crate) struct OrderedArray {
    array: Box<dyn Array>,
    rows: Option<Arc<[u32]>>,
}

/// The batch's columns as [`OrderedArray`]s in `order` (row indices; `None`: input order).
/// Numbers and dictionary keys are gathered into the order; the batch is empty afterwards.
fn ordered_arrays(
    batch: &mut Batch,
    order: Option<&Arc<[u32]>>,
) -> Result<Vec<OrderedArray>, Error> {
    let table = batch.table();
    let schema = arrow_schema(table);
    let ordered = |array: Box<dyn Array>| OrderedArray { array, rows: None };
    let arrays = schema
        .iter_values()
        .zip(batch.columns_mut())
        .map(|(field, data)| -> Result<OrderedArray, Error> {
            let dtype = field.dtype.clone();
            Ok(match data {
                ColumnData::Str(c) => {
                    match c
                        .take_arrow(order.map(|o| &o[..]))
                        .map_err(|e| encode_error(table, &e))?
                    {
                        Taken::Ordered(array) => ordered(array),
                        Taken::InputOrder(array) => OrderedArray { array, rows: order.cloned() },
                    }
                }
                ColumnData::Int(v) | ColumnData::Millis(v) => {
                    let (values, valid) = values_in(v, order);
                    ordered(PrimitiveArray::new(dtype, values.into(), valid).boxed())
                }
                ColumnData::Float(v) => {
                    let (values, valid) = values_in(v, order);
                    ordered(PrimitiveArray::new(dtype, values.into(), valid).boxed())
                }
                ColumnData::Bool(v) => {
                    let (values, valid) = values_in(v, order);
                    ordered(BooleanArray::new(dtype, values.into_iter().collect(), valid).boxed())
                }
            })
        })
        .collect::<Result<Vec<_>, Error>>();
    batch.clear();
    arrays
}

/// The values of a fixed-width column in `order` (moved out when in input order) and their
/// validity bitmap (none without nulls).
fn values_in<T: Copy + Default>(
    v: &mut Values<T>,
    order: Option<&Arc<[u32]>>,
) -> (Vec<T>, Option<Bitmap>) {
    let valid_cells = || v.validity().contains(&true);
    match order {
        // Without a value (a field no line fills) every cell holds the default, in any order.
        Some(order) if valid_cells() => {
            let validity = v.has_nulls().then(|| bitmap_of(&gather(v.validity(), order)));
            (gather(v.values(), order), validity)
        }
        _ => {
            let validity = validity(v.validity(), v.has_nulls());
            (v.take_values(), validity)
        }
    }
}

/// An Arrow validity bitmap, or none when every cell holds a value.
fn validity(valid: &[bool], has_nulls: bool) -> Option<Bitmap> {
    has_nulls.then(|| bitmap_of(valid))
}

/// `valid` as an Arrow bitmap (bit `i` of byte `i / 8` for cell `i`), packed eight cells at
/// a time (Arrow's collecting iterator sets one bit per step).
pub(crate) fn bitmap_of(valid: &[bool]) -> Bitmap {
    let pack = |cells: &[bool]| {
        cells.iter().enumerate().fold(0u8, |byte, (i, &ok)| byte | u8::from(ok) << i)
    };
    let mut chunks = valid.chunks_exact(8);
    let mut bytes: Vec<u8> = chunks.by_ref().map(pack).collect();
    if !chunks.remainder().is_empty() {
        bytes.push(pack(chunks.remainder()));
    }
    Bitmap::try_new(bytes, valid.len()).unwrap_or_else(|_| valid.iter().copied().collect())
}

/// The encoding a column chunk is written with (see the module docs).
fn encoding(array: &dyn Array) -> Encoding {
    match array.dtype() {
        ArrowDataType::Dictionary(..) => Encoding::RleDictionary,
        ArrowDataType::Utf8View => Encoding::Plain,
        other => get_dtype_encoding(other).first().copied().unwrap_or(Encoding::Plain),
    }
}

/// The pages of one column chunk (every column is a leaf: no nesting): a dictionary's (text,
/// or numbers that [`number_dictionary`] gives one) by [`dictionary_pages`], any other array's
/// by polars.
fn column_pages(
    array: &dyn Array,
    rows: Option<&Arc<[u32]>>,
    column: &ParquetType,
    options: WriteOptions,
) -> Result<DynIter<'static, Result<Page, ParquetError>>, ParquetError> {
    if let Some(dictionary) = array.as_any().downcast_ref::<DictionaryArray<u32>>() {
        return Ok(DynIter::new(dictionary_pages::pages(dictionary, column, options)?));
    }
    if let Some(texts) = array.as_any().downcast_ref::<Utf8ViewArray>() {
        if let Some(pages) = text_pages::pages(texts, rows.cloned(), column, options) {
            return Ok(DynIter::new(pages));
        }
        if let Some(rows) = rows {
            // Pages `text_pages` does not write (format V2): polars' writer, from a copy of
            // the cells in their order.
            return column_pages(&text_pages::gather(texts, rows), None, column, options);
        }
    }
    let to_parquet = |e: PolarsError| ParquetError::FeatureNotSupported(e.to_string());
    let encoding = match number_dictionary::choose(array) {
        Some(Choice::Dictionary(dictionary)) => {
            return Ok(DynIter::new(dictionary_pages::pages(&dictionary, column, options)?));
        }
        Some(Choice::Plain) => Encoding::Plain,
        None => encoding(array),
    };
    let leaves =
        array_to_columns(array, column.clone(), options, &[encoding]).map_err(to_parquet)?;
    let pages = leaves.into_iter().flatten().map(move |page| page.map_err(to_parquet));
    Ok(DynIter::new(pages))
}

/// The writer options of every file: format V1 pages, statistics, ZSTD at `level`.
fn write_options(level: ZstdLevel) -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(Some(level)),
        data_page_size: None,
    }
}

fn encode_error(table: &Table, e: &dyn std::fmt::Display) -> Error {
    Error::Encode { table: table.name, message: e.to_string() }
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

/// A Parquet file being written to an output `W`.
pub struct ParquetFile<W: Write> {
    table: &'static Table,
    tally: Tally,
    writer: FileWriter<CountingWriter<W>>,
    columns: Vec<ParquetType>,
    options: WriteOptions,
    zstd: SharedContext,
}

impl<W: Write> std::fmt::Debug for ParquetFile<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile").field("table", &self.table.name).finish_non_exhaustive()
    }
}

impl Encoder for ParquetEncoder {
    type File<W: Write> = ParquetFile<W>;

    fn create<W: Write>(&self, table: &'static Table, out: W) -> Result<ParquetFile<W>, Error> {
        let out = CountingWriter::new(out);
        let tally = out.tally();
        let level = Self::level(self.zstd_level, table.name)?;
        let options = write_options(level);
        let writer = FileWriter::try_new(out, arrow_schema(table), options)
            .map_err(|e| tally.error(encode_error(table, &e)))?;
        let columns = writer.parquet_schema().fields().to_vec();
        let zstd =
            SharedContext::new(level.compression_level()).map_err(|e| encode_error(table, &e))?;
        Ok(ParquetFile { table, tally, writer, columns, options, zstd })
    }

    fn extension(&self) -> &'static str {
        "parquet"
    }
}

impl<W: Write> EncodedFile<W> for ParquetFile<W> {
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error> {
        let rows = batch.len() as u64;
        if rows == 0 {
            return Ok(());
        }
        let order = batch.write_order().map(Arc::<[u32]>::from);
        let arrays = ordered_arrays(batch, order.as_ref())?;
        let mut columns = Vec::with_capacity(arrays.len());
        for (array, column) in arrays.iter().zip(&self.columns) {
            let pages =
                column_pages(array.array.as_ref(), array.rows.as_ref(), column, self.options)
                    .map_err(|e| encode_error(self.table, &e))?;
            let compressed =
                PageCompressor::new(pages, self.zstd.clone()).map_err(PolarsError::from);
            columns.push(Ok(DynStreamingIterator::new(compressed)));
        }
        self.writer
            .write(rows, DynIter::new(columns.into_iter()))
            .map_err(|e| self.tally.error(encode_error(self.table, &e)))
    }

    fn bytes(&self) -> u64 {
        self.tally.written()
    }

    fn finish(mut self) -> Result<W, Error> {
        self.writer.end(None).map_err(|e| self.tally.error(encode_error(self.table, &e)))?;
        let mut out = self.writer.into_inner();
        out.flush().map_err(|e| self.tally.error(encode_error(self.table, &e)))?;
        Ok(out.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldSet;
    use crate::request::Request;
    use crate::schema;
    use crate::schema::Datum;

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
        let schema = arrow_schema(schema::requests());
        let arrays = to_arrays(&mut batch.clone()).unwrap();
        assert_eq!(arrays.len(), schema::requests().columns.len());
        for ((field, array), def) in
            schema.iter_values().zip(&arrays).zip(&schema::requests().columns)
        {
            assert_eq!(field.name.as_str(), def.name);
            assert_eq!(array.len(), 1, "{}", def.name);
            let athena = match &field.dtype {
                ArrowDataType::Utf8View => "string",
                ArrowDataType::Int64 => "bigint",
                ArrowDataType::Float64 => "double",
                ArrowDataType::Boolean => "boolean",
                ArrowDataType::Timestamp(
                    polars_arrow::datatypes::TimeUnit::Millisecond,
                    Some(tz),
                ) if tz.as_str() == "UTC" => "timestamp",
                other => panic!("{} has type {other:?}, not Athena-compatible", def.name),
            };
            assert!(ddl.contains(&format!("`{}` {athena} COMMENT", def.name)), "{}", def.name);
            match array.dtype() {
                ArrowDataType::Dictionary(_, values, _) => assert_eq!(**values, field.dtype),
                dtype => assert_eq!(*dtype, field.dtype, "{}", def.name),
            }
        }
        let mut file = ParquetEncoder::default().create(schema::requests(), Vec::new()).unwrap();
        file.write(&mut batch.clone()).unwrap();
        let written = file.bytes();
        let bytes = file.finish().unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
        assert!(written > 0 && written < bytes.len() as u64, "the footer comes at finish");
    }

    /// A `requests` batch of at most `rows` generated lines (no bad lines).
    fn generated_requests(sessions: u32, minutes: u32, rows: usize) -> Batch {
        let fields = FieldSet::all();
        let lines = crate::generate::Generator::new(crate::generate::Config {
            sessions,
            minutes,
            bad_line_every: 0,
            ..Default::default()
        });
        let mut batch = Batch::new(schema::requests(), 64);
        for line in lines.take(rows) {
            let request = Request::parse(&fields, line.as_bytes()).unwrap();
            batch.push_row(|c| request.datum(c.source));
        }
        batch
    }

    /// A generated `requests` batch of 5,000 rows as Arrow arrays, with the options of a writer
    /// whose 3,000-byte data pages cut every column into many pages.
    struct SmallPages {
        expected: Batch,
        options: WriteOptions,
        types: Vec<ParquetType>,
        arrays: Vec<Box<dyn Array>>,
    }

    fn small_pages() -> SmallPages {
        let mut batch = generated_requests(60, 6, 5000);
        assert_eq!(batch.len(), 5000);
        let expected = batch.clone();
        let options = WriteOptions {
            data_page_size: Some(3000),
            ..write_options(ZstdLevel::try_new(1).unwrap())
        };
        let types = FileWriter::try_new(Vec::new(), arrow_schema(schema::requests()), options)
            .unwrap()
            .parquet_schema()
            .fields()
            .to_vec();
        let arrays = to_arrays(&mut batch).unwrap();
        SmallPages { expected, options, types, arrays }
    }

    impl SmallPages {
        /// Every column written with [`column_pages`] into one file, read back by polars.
        fn read_back(&self) -> polars::prelude::DataFrame {
            let columns = self.arrays.iter().map(|a| (a.as_ref(), None));
            read_back(columns, &self.types, self.options, self.expected.len())
        }
    }

    /// `columns` (each an array and the order its rows are written in) written with
    /// [`column_pages`] as one row group of `rows` rows, read back by polars.
    fn read_back<'a>(
        columns: impl Iterator<Item = (&'a dyn Array, Option<&'a Arc<[u32]>>)>,
        types: &[ParquetType],
        options: WriteOptions,
        rows: usize,
    ) -> polars::prelude::DataFrame {
        use polars::prelude::{ParquetReader, SerReader};

        let schema = arrow_schema(schema::requests());
        let mut writer = FileWriter::try_new(Vec::new(), schema, options).unwrap();
        let mut pages = Vec::new();
        for ((array, order), ty) in columns.zip(types) {
            let column = column_pages(array, order, ty, options).unwrap();
            let compressed = PageCompressor::new(column, SharedContext::new(1).unwrap())
                .map_err(PolarsError::from);
            pages.push(Ok(DynStreamingIterator::new(compressed)));
        }
        writer.write(rows as u64, DynIter::new(pages.into_iter())).unwrap();
        writer.end(None).unwrap();
        let frame = ParquetReader::new(std::io::Cursor::new(writer.into_inner())).finish().unwrap();
        assert_eq!(frame.height(), rows);
        frame
    }

    /// A `requests` row group is written grouped by CMCD session (`RowOrder`): its order is
    /// the naive one (a stable sort by the position of each sid's first row, rows without a
    /// sid last), and every column — plain text read through the order page by page,
    /// dictionary keys and numbers gathered into it — reads back as the input's rows in that
    /// order.
    #[test]
    fn requests_are_written_grouped_by_session() {
        let SmallPages { expected, options, types, .. } = small_pages();
        let sid = expected.column("cmcd_sid").unwrap();
        let mut first = std::collections::HashMap::new();
        for r in 0..expected.len() {
            if let Datum::Str(s) = sid.get(r) {
                let next = first.len();
                first.entry(s).or_insert(next);
            }
        }
        let mut naive: Vec<u32> = (0..expected.len() as u32).collect();
        naive.sort_by_key(|&r| sid.get(r as usize).as_str().map_or(usize::MAX, |s| first[s]));
        assert!(first.len() >= 10, "{} sessions", first.len());
        assert!(naive.windows(2).any(|w| w[0] > w[1]), "interleaved sessions");
        assert!(naive.iter().any(|&r| sid.get(r as usize) == Datum::Null), "rows without a sid");

        let mut batch = expected.clone();
        let order: Arc<[u32]> = batch.write_order().expect("a new order").into();
        assert_eq!(&order[..], &naive[..]);
        let arrays = ordered_arrays(&mut batch, Some(&order)).unwrap();
        assert!(batch.is_empty());
        let through_order = arrays.iter().filter(|a| a.rows.is_some()).count();
        assert!(through_order >= 3, "{through_order} plain text columns read through the order");
        let columns = arrays.iter().map(|a| (a.array.as_ref(), a.rows.as_ref()));
        let frame = read_back(columns, &types, options, expected.len());
        for (def, data) in schema::requests().columns.iter().zip(expected.columns()) {
            let read = frame.column(&def.name).unwrap();
            let want = order.iter().map(|&r| data.get(r as usize));
            let same = match data {
                ColumnData::Str(_) => read.str().unwrap().iter().eq(want.map(Datum::as_str)),
                ColumnData::Int(_) => read.i64().unwrap().iter().eq(want.map(Datum::as_int)),
                ColumnData::Millis(_) => {
                    let read = read.cast(&DataType::Int64).unwrap();
                    read.i64().unwrap().iter().eq(want.map(Datum::as_millis))
                }
                ColumnData::Float(_) => read.f64().unwrap().iter().eq(want.map(Datum::as_float)),
                ColumnData::Bool(_) => read.bool().unwrap().iter().eq(want.map(Datum::as_bool)),
            };
            assert!(same, "{}", def.name);
        }
    }

    /// Rows already grouped (one session, or no sid at all) and the `sessions` table keep input
    /// order: no order is made.
    #[test]
    fn grouped_rows_and_sessions_keep_input_order() {
        let fields = FieldSet::parse_names("timestamp,c-ip,cs-uri-query").unwrap();
        let mut batch = Batch::new(schema::requests(), 8);
        for (t, query) in [
            ("1700000000.000", "CMCD=sid%3D%22a%22"),
            ("1700000001.000", "CMCD=sid%3D%22a%22"),
            ("1700000002.000", "-"),
            ("1700000003.000", "-"),
        ] {
            let line = format!("{t}\t192.0.2.1\t{query}");
            let request = Request::parse(&fields, line.as_bytes()).unwrap();
            batch.push_row(|c| request.datum(c.source));
        }
        assert_eq!(batch.column("cmcd_sid").unwrap().get(1), Datum::Str("a"));
        assert_eq!(batch.write_order(), None);
        // A row with a sid after a row without one: the null row moves last.
        let line = "1700000004.000\t192.0.2.1\tCMCD=sid%3D%22b%22";
        let request = Request::parse(&fields, line.as_bytes()).unwrap();
        batch.push_row(|c| request.datum(c.source));
        assert_eq!(batch.write_order(), Some(vec![0, 1, 4, 2, 3]));
        let sessions = Batch::new(schema::sessions(), 8);
        assert_eq!(sessions.table().row_order, schema::RowOrder::Input);
        assert_eq!(sessions.write_order(), None);
    }

    /// Two data pages with equal format V1 headers and value counts.
    fn assert_headers_match<'p>(
        a: &'p Page,
        b: &'p Page,
        ty: &ParquetType,
    ) -> (&'p polars_parquet::parquet::page::DataPage, &'p polars_parquet::parquet::page::DataPage)
    {
        use polars_parquet::parquet::page::DataPageHeader;

        let (Page::Data(a), Page::Data(b)) = (a, b) else { panic!("data pages: {ty:?}") };
        let (DataPageHeader::V1(a_header), DataPageHeader::V1(b_header)) = (a.header(), b.header())
        else {
            panic!("format V1 pages")
        };
        assert_eq!(a_header, b_header, "{ty:?}");
        assert_eq!(a.num_values(), b.num_values());
        (a, b)
    }

    /// `ours`, the pages of `array`, against polars' own for the same array: the same page
    /// count, the same dictionary page (or none), the same header on every data page, and for
    /// plain columns the same bytes. Returns whether the column got a dictionary.
    fn assert_pages_match_polars(
        ours: &[Page],
        array: &dyn Array,
        ty: &ParquetType,
        options: WriteOptions,
    ) -> bool {
        let polars: Vec<Page> =
            array_to_columns(array, ty.clone(), options, &[Encoding::RleDictionary])
                .unwrap()
                .into_iter()
                .flatten()
                .map(Result::unwrap)
                .collect();
        assert_eq!(ours.len(), polars.len(), "{ty:?}");
        let dictionary = match (&ours[0], &polars[0]) {
            (Page::Dict(a), Page::Dict(b)) => {
                assert_eq!((&a.buffer[..], a.num_values), (&b.buffer[..], b.num_values), "{ty:?}");
                true
            }
            (Page::Data(_), Page::Data(_)) => false,
            _ => panic!("one side has a dictionary, the other not: {ty:?}"),
        };
        for (a, b) in ours.iter().zip(&polars).skip(usize::from(dictionary)) {
            let (a, b) = assert_headers_match(a, b, ty);
            if !dictionary {
                assert!(a.buffer() == b.buffer(), "plain pages are polars' bytes: {ty:?}");
            }
        }
        dictionary
    }

    /// [`assert_pages_match_polars`] for the pages [`column_pages`] writes.
    fn assert_number_pages_match_polars(
        array: &dyn Array,
        ty: &ParquetType,
        options: WriteOptions,
    ) -> bool {
        let ours: Vec<Page> =
            column_pages(array, None, ty, options).unwrap().map(Result::unwrap).collect();
        assert_pages_match_polars(&ours, array, ty, options)
    }

    /// Dictionary text columns (`crate::dictionary_pages`) cut into many data pages, with nulls
    /// and repeats: the dictionary page, the page cuts and every data page header (value
    /// count, encodings, statistics) are polars' own, and polars' reader reads every cell back.
    #[test]
    fn dictionary_pages_read_back_cell_for_cell() {
        let pages = small_pages();
        let mut dictionaries = 0;
        for (array, ty) in pages.arrays.iter().zip(&pages.types) {
            if let Some(dict) = array.as_any().downcast_ref::<DictionaryArray<u32>>() {
                dictionaries += 1;
                let ours: Vec<Page> = dictionary_pages::pages(dict, ty, pages.options)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                // 4-byte keys: 3,000-byte pages hold 599 rows, as polars cuts them.
                assert_eq!(ours.len(), 1 + 5000_usize.div_ceil(599), "{ty:?}");
                assert!(assert_pages_match_polars(&ours, array.as_ref(), ty, pages.options));
            }
        }
        assert!(dictionaries >= 10, "{dictionaries} dictionary columns");
        let frame = pages.read_back();
        let mut nulls = 0;
        for (def, data) in schema::requests().columns.iter().zip(pages.expected.columns()) {
            let ColumnData::Str(cells) = data else { continue };
            let read = frame.column(&def.name).unwrap().str().unwrap();
            let read: Vec<Option<&str>> = read.iter().collect();
            let written: Vec<Option<&str>> = cells.iter().collect();
            assert!(read == written, "{}", def.name);
            nulls += written.iter().filter(|c| c.is_none()).count();
        }
        assert!(nulls > 5000, "nulls are covered ({nulls})");
    }

    #[test]
    fn bitmaps_pack_like_arrow() {
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 1000] {
            let valid: Vec<bool> = (0..len).map(|i| (i * 7 + i / 3) % 5 != 0).collect();
            let ours = bitmap_of(&valid);
            let arrow: Bitmap = valid.iter().copied().collect();
            assert_eq!(ours, arrow, "{len}");
            assert_eq!(ours.unset_bits(), valid.iter().filter(|v| !**v).count());
        }
    }

    /// Plain text columns (`crate::text_pages`): polars' page cuts and headers (statistics
    /// included), and after the definition levels the same value bytes; the generated
    /// columns and arrays made for the edges (all null, no null, empty and non-ASCII texts, a
    /// single row, pages starting inside a validity byte).
    #[test]
    fn plain_text_pages_match_polars() {
        /// The bytes after a V1 page's definition levels.
        fn values(page: &Page) -> &[u8] {
            let Page::Data(page) = page else { panic!("a data page") };
            let buffer = page.buffer();
            let levels = u32::from_le_bytes(buffer[..4].try_into().unwrap()) as usize;
            &buffer[4 + levels..]
        }
        fn assert_matches(array: &Utf8ViewArray, ty: &ParquetType, options: WriteOptions) {
            let ours: Vec<Page> =
                text_pages::pages(array, None, ty, options).unwrap().map(Result::unwrap).collect();
            let polars: Vec<Page> =
                array_to_columns(array.clone().boxed(), ty.clone(), options, &[Encoding::Plain])
                    .unwrap()
                    .into_iter()
                    .flatten()
                    .map(Result::unwrap)
                    .collect();
            assert_eq!(ours.len(), polars.len(), "{ty:?}");
            for (a, b) in ours.iter().zip(&polars) {
                assert_headers_match(a, b, ty);
                assert!(values(a) == values(b), "plain values are polars' bytes: {ty:?}");
            }
        }

        let pages = small_pages();
        let mut plain = 0;
        let mut text_type = None;
        for (array, ty) in pages.arrays.iter().zip(&pages.types) {
            if let Some(texts) = array.as_any().downcast_ref::<Utf8ViewArray>() {
                assert_matches(texts, ty, pages.options);
                plain += 1;
                text_type = Some(ty);
            }
        }
        assert!(plain >= 5, "{plain} plain text columns");
        let ty = text_type.unwrap();
        let texts = |cells: Vec<Option<&str>>| -> Utf8ViewArray {
            polars_arrow::array::MutablePlString::from_iter(cells).into()
        };
        let long = "x".repeat(300);
        let cases = [
            texts(vec![None; 700]),
            texts((0..700).map(|i| Some(if i % 3 == 0 { "é" } else { "abc" })).collect()),
            texts(
                (0..700)
                    .map(|i| (i % 5 != 1).then_some(if i % 7 == 0 { "" } else { &long }))
                    .collect(),
            ),
            texts(
                (0..900)
                    .map(|i| (i % 2 == 0).then_some(["zz", "a", "\u{1F600}", "Z"][i % 4]))
                    .collect(),
            ),
            texts(vec![Some("only")]),
        ];
        for array in &cases {
            assert_matches(array, ty, pages.options);
        }
    }

    /// Number columns (`crate::number_dictionary`) get polars' dictionary decision, dictionary
    /// page, page cuts and headers, and polars' reader reads every cell back.
    #[test]
    fn number_columns_match_polars_pages() {
        let pages = small_pages();
        let (options, types) = (pages.options, &pages.types);
        let (mut dictionaries, mut plain) = (0, 0);
        for (array, ty) in pages.arrays.iter().zip(types) {
            if number_dictionary::choose(array.as_ref()).is_some() {
                if assert_number_pages_match_polars(array.as_ref(), ty, options) {
                    dictionaries += 1;
                } else {
                    plain += 1;
                }
            }
        }
        assert!(dictionaries >= 10 && plain >= 4, "{dictionaries} dictionaries, {plain} plain");
        let frame = pages.read_back();
        for (def, data) in schema::requests().columns.iter().zip(pages.expected.columns()) {
            let read = frame.column(&def.name).unwrap();
            let same = match data {
                ColumnData::Int(v) => read.i64().unwrap().iter().eq(v.iter()),
                ColumnData::Millis(v) => {
                    let read = read.cast(&DataType::Int64).unwrap();
                    read.i64().unwrap().iter().eq(v.iter())
                }
                ColumnData::Float(v) => read.f64().unwrap().iter().eq(v.iter()),
                ColumnData::Str(_) | ColumnData::Bool(_) => continue,
            };
            assert!(same, "{}", def.name);
        }

        // Each branch of the decision, on arrays made for it.
        let column = |name: &str| {
            let at = schema::requests().columns.iter().position(|c| c.name == name).unwrap();
            types[at].clone()
        };
        let (int, float) = (column("sc_bytes"), column("time_taken"));
        let ints = |values: Vec<i64>, validity: Option<Bitmap>| {
            PrimitiveArray::new(ArrowDataType::Int64, values.into(), validity).boxed()
        };
        let cases: Vec<(&str, Box<dyn Array>, &ParquetType, bool)> = vec![
            (
                "narrow range, few values",
                ints((0..4000).map(|i| 200 + i % 7).collect(), None),
                &int,
                true,
            ),
            ("narrow range, all distinct", ints((0..4000).collect(), None), &int, false),
            (
                "narrow range, 3,000 distinct of 3,500",
                ints((0..3500).map(|i| i % 3000).collect(), None),
                &int,
                false,
            ),
            (
                "narrow range, 2,048 distinct of 2,100",
                ints((0..2100).map(|i| i % 2048).collect(), None),
                &int,
                true,
            ),
            (
                "wide range, few values",
                ints((0..4000).map(|i| (i % 5) * 1_000_000_007).collect(), None),
                &int,
                true,
            ),
            (
                "wide range, all distinct",
                ints((0..4000).map(|i| i * 1_000_003).collect(), None),
                &int,
                false,
            ),
            ("range overflows", ints(vec![i64::MIN, i64::MAX, 0, i64::MIN], None), &int, true),
            (
                "nulls hold values outside the range",
                ints(
                    (0..4000).map(|i| if i % 3 == 0 { -9_999_999 } else { i % 11 }).collect(),
                    Some((0..4000).map(|i| i % 3 != 0).collect()),
                ),
                &int,
                true,
            ),
            (
                "all null",
                ints(vec![0; 300], Some(vec![false; 300].into_iter().collect())),
                &int,
                true,
            ),
            ("one value", ints(vec![42], None), &int, true),
            (
                "doubles, few values",
                PrimitiveArray::new(
                    ArrowDataType::Float64,
                    (0..4000).map(|i| f64::from(i % 9) / 4.0).collect::<Vec<_>>().into(),
                    None,
                )
                .boxed(),
                &float,
                false, // polars casts no doubles to a dictionary: plain
            ),
            (
                "doubles, all distinct",
                PrimitiveArray::new(
                    ArrowDataType::Float64,
                    (0..4000).map(|i| f64::from(i) * 0.001).collect::<Vec<_>>().into(),
                    None,
                )
                .boxed(),
                &float,
                false,
            ),
        ];
        for (case, array, ty, dictionary) in cases {
            assert!(number_dictionary::choose(array.as_ref()).is_some(), "{case}");
            assert_eq!(
                assert_number_pages_match_polars(array.as_ref(), ty, options),
                dictionary,
                "{case}"
            );
        }
    }

    /// One ZSTD context per file (`crate::compress`) writes the same bytes as polars' page
    /// compressor, which makes a context per page: same frames, same file (the rows in the
    /// table's write order on both sides).
    #[test]
    fn one_context_writes_the_same_frames() {
        use polars_parquet::write::Compressor;

        let mut batch = generated_requests(4, 3, 3000);
        let mut copy = batch.clone();

        let mut file = ParquetEncoder::default().create(schema::requests(), Vec::new()).unwrap();
        file.write(&mut batch).unwrap();
        let ours = file.finish().unwrap();

        let level = ZstdLevel::try_new(ParquetEncoder::DEFAULT_ZSTD_LEVEL).unwrap();
        let options = write_options(level);
        let mut writer =
            FileWriter::try_new(Vec::new(), arrow_schema(schema::requests()), options).unwrap();
        let types = writer.parquet_schema().fields().to_vec();
        let rows = copy.len() as u64;
        let order = copy.write_order().map(Arc::<[u32]>::from);
        assert!(order.is_some(), "the sessions' rows interleave");
        let mut columns = Vec::new();
        for (array, ty) in ordered_arrays(&mut copy, order.as_ref()).unwrap().iter().zip(&types) {
            let pages =
                column_pages(array.array.as_ref(), array.rows.as_ref(), ty, options).unwrap();
            let compressed = Compressor::new_from_vec(pages, options.compression, vec![])
                .map_err(PolarsError::from);
            columns.push(Ok(DynStreamingIterator::new(compressed)));
        }
        writer.write(rows, DynIter::new(columns.into_iter())).unwrap();
        writer.end(None).unwrap();
        let polars = writer.into_inner();
        assert!(ours.len() > 10_000);
        assert!(ours == polars, "{} bytes against polars' {} bytes", ours.len(), polars.len());
    }
}
