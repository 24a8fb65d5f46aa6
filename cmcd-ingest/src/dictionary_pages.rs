//! The data pages of a dictionary-encoded column chunk (feature `parquet`).
//!
//! [`crate::text`] hands a text column over as the dictionary it built while the rows arrived:
//! distinct texts and one `u32` key per cell; [`crate::number_dictionary`] builds the same
//! shape for a number column that polars would give a dictionary. polars' writer encodes such keys, and the
//! definition levels, one value at a time through its general RLE/bit-packing encoder (on
//! generated traffic these pages cost about 2.5 % of the ingest's instructions that way, about
//! 1.4 % here). Here the keys of a data page are encoded by [`encode_keys`], which finds runs
//! with slice scans and packs eight keys at a time, and the definition levels are copied from
//! the validity bitmap's bytes by [`def_levels_from_bitmap`] (polars' `write_def_levels` when
//! the column has no nulls, or when a page starts inside a bitmap byte).
//!
//! What is not the keys and levels stays polars': the dictionary page and the chunk's
//! statistics come from polars' writer run on the same texts with a single key (so the texts'
//! PLAIN encoding, the min/max statistics and their truncation are polars' own). Data pages
//! are cut where polars cuts them (`data_page_size`, 1 MiB by default, estimated from the keys'
//! bytes per row), and their headers are the ones polars writes (a test compares them).
//!
//! The format (Parquet's `RLE` encoding, "RLE/bit-packing hybrid"): a page's keys are the bit
//! width as one byte, then runs. A run is a ULEB128 header; header `n << 1` is `n` copies of
//! one value stored in `ceil(width / 8)` little-endian bytes, header `g << 1 | 1` is `8 × g`
//! values bit-packed LSB first, `width` bits each. Only the last bit-packed run of a page may
//! hold padding after its values (readers stop at the page's value count).

use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::compute::aggregate::estimated_bytes_size;
use polars_arrow::datatypes::ArrowDataType;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::error::{ParquetError, ParquetResult};
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1, Page};
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::parquet::statistics::ParquetStatistics;
use polars_parquet::write::{
    Encoding, ParquetType, Version, WriteOptions, array_to_columns, write_def_levels,
};

/// polars' default data page size when the options leave it open.
const DEFAULT_PAGE_SIZE: usize = 1024 * 1024;
/// The largest data page polars writes.
const MAX_PAGE_SIZE: usize = (1 << 31) - (1 << 25);

/// The dictionary page and the data pages of `array`, a nullable, not nested column of type
/// `column`. The data pages are built as they are drawn.
///
/// # Errors
///
/// [`ParquetError::FeatureNotSupported`] when the options ask for format V2 pages (the encoder
/// writes V1), or polars' error for the dictionary page.
pub(crate) fn pages(
    array: &DictionaryArray<u32>,
    column: &ParquetType,
    options: WriteOptions,
) -> ParquetResult<impl Iterator<Item = ParquetResult<Page>> + use<>> {
    if options.version != Version::V1 {
        return Err(ParquetError::FeatureNotSupported("format V2 data pages".into()));
    }
    let ParquetType::PrimitiveType(primitive_type) = column else {
        return Err(ParquetError::FeatureNotSupported("a nested dictionary column".into()));
    };
    let (dict, statistics) = dictionary_page(array, column, options)?;
    let statistics = statistics.map(|mut s| {
        s.null_count = Some(i64::try_from(array.null_count()).unwrap_or(i64::MAX));
        s
    });
    let keys = array.keys();
    let (values, validity) = (keys.values().clone(), keys.validity().cloned());
    let rows = keys.len();
    let per_page = rows_per_page(rows, estimated_bytes_size(keys), options);
    let primitive_type = primitive_type.clone();
    let data = (0..rows).step_by(per_page).map(move |start| {
        let len = per_page.min(rows - start);
        let validity = validity.clone().map(|v| v.sliced(start, len));
        let keys = values.get(start..start + len).unwrap_or_default();
        data_page(keys, validity.as_ref(), statistics.clone(), &primitive_type)
    });
    Ok(std::iter::once(Ok(dict)).chain(data))
}

/// polars' dictionary page for the texts of `array` and the statistics it gives their chunk,
/// from polars' writer run on the same texts with one key.
fn dictionary_page(
    array: &DictionaryArray<u32>,
    column: &ParquetType,
    options: WriteOptions,
) -> ParquetResult<(Page, Option<ParquetStatistics>)> {
    let one_key = PrimitiveArray::new(ArrowDataType::UInt32, vec![0u32].into(), None);
    let texts = DictionaryArray::try_new(array.dtype().clone(), one_key, array.values().clone())
        .map_err(|e| ParquetError::OutOfSpec(e.to_string()))?;
    let polars_error = |e: polars::prelude::PolarsError| ParquetError::OutOfSpec(e.to_string());
    let mut leaves =
        array_to_columns(texts.boxed(), column.clone(), options, &[Encoding::RleDictionary])
            .map_err(polars_error)?;
    let mut pages = leaves.pop().into_iter().flatten();
    let (Some(dict), Some(data)) = (pages.next(), pages.next()) else {
        return Err(ParquetError::OutOfSpec("no dictionary page from polars".into()));
    };
    let (dict, data) = (dict.map_err(polars_error)?, data.map_err(polars_error)?);
    let statistics = match &data {
        Page::Data(page) => match page.header() {
            DataPageHeader::V1(header) => header.statistics.clone(),
            DataPageHeader::V2(header) => header.statistics.clone(),
        },
        Page::Dict(_) => None,
    };
    Ok((dict, statistics))
}

/// Rows per data page, as polars decides it: the page size over the estimated bytes per row.
pub(crate) fn rows_per_page(rows: usize, bytes: usize, options: WriteOptions) -> usize {
    let page_size = options.data_page_size.unwrap_or(DEFAULT_PAGE_SIZE).min(MAX_PAGE_SIZE);
    let bytes_per_row = bytes.checked_div(rows).unwrap_or(0);
    (page_size / (bytes_per_row + 1)).max(1)
}

/// One data page: definition levels, the bit width of the largest key of a valid cell, the
/// keys of the valid cells.
fn data_page(
    keys: &[u32],
    validity: Option<&Bitmap>,
    statistics: Option<ParquetStatistics>,
    primitive_type: &PrimitiveType,
) -> ParquetResult<Page> {
    let rows = keys.len();
    let mut buffer = Vec::with_capacity(rows + 64);
    def_levels(&mut buffer, validity, rows)?;
    match validity {
        Some(validity) if validity.unset_bits() > 0 => {
            let mut valid = Vec::with_capacity(rows - validity.unset_bits());
            for_each_valid(keys, Some(validity), |_, k| valid.push(k));
            encode_keys(&mut buffer, &valid);
        }
        _ => encode_keys(&mut buffer, keys),
    }
    Ok(v1_data_page(buffer, rows, Encoding::RleDictionary, statistics, primitive_type))
}

/// A format V1 data page of `rows` cells of a nullable, not nested column: `buffer` holds its
/// definition levels and values in `encoding`; the header and descriptor are the ones polars
/// writes.
pub(crate) fn v1_data_page(
    buffer: Vec<u8>,
    rows: usize,
    encoding: Encoding,
    statistics: Option<ParquetStatistics>,
    primitive_type: &PrimitiveType,
) -> Page {
    let header = DataPageHeader::V1(DataPageHeaderV1 {
        num_values: i32::try_from(rows).unwrap_or(i32::MAX),
        encoding: encoding.into(),
        definition_level_encoding: Encoding::Rle.into(),
        repetition_level_encoding: Encoding::Rle.into(),
        statistics,
    });
    let descriptor =
        Descriptor { primitive_type: primitive_type.clone(), max_def_level: 0, max_rep_level: 0 };
    Page::Data(DataPage::new(header, CowBuffer::Owned(buffer), descriptor, rows))
}

/// Appends the format V1 definition levels of `rows` cells of a nullable, not nested column
/// with `validity` (none: every cell valid): from the bitmap's bytes when it starts at a byte
/// boundary, else by polars' encoder.
pub(crate) fn def_levels(
    out: &mut Vec<u8>,
    validity: Option<&Bitmap>,
    rows: usize,
) -> ParquetResult<()> {
    match validity.map(Bitmap::as_slice) {
        Some((bytes, 0, len)) => def_levels_from_bitmap(out, bytes, len),
        _ => write_def_levels(out, true, validity, rows, Version::V1)
            .map_err(|e| ParquetError::OutOfSpec(e.to_string()))?,
    }
    Ok(())
}

/// Appends the definition levels of a nullable, not nested column (1 for a value, 0 for a
/// null) as a format V1 page holds them — their length in bytes as a little-endian `u32`,
/// then runs of width 1 — from the bytes of an Arrow validity bitmap starting at bit 0 and
/// `len` bits long. Arrow and Parquet both put the first value in the lowest bit, so eight
/// levels bit-packed are one bitmap byte: a byte of all values or all nulls repeated starts
/// an RLE run, any other byte is copied into a bit-packed run.
fn def_levels_from_bitmap(out: &mut Vec<u8>, bitmap: &[u8], len: usize) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let whole = bitmap.get(..len / 8).unwrap_or_default();
    let mut literal_start = 0;
    let mut at = 0;
    while let Some(&byte) = whole.get(at) {
        let uniform = byte == 0 || byte == 0xff;
        if !uniform || whole.get(at + 1) != Some(&byte) {
            at += 1;
            continue;
        }
        let run = whole.get(at..).unwrap_or_default().iter().take_while(|&&b| b == byte).count();
        literal_bytes(out, whole.get(literal_start..at).unwrap_or_default());
        repeated(out, u32::from(byte & 1), run * 8, 1);
        at += run;
        literal_start = at;
    }
    literal_bytes(out, whole.get(literal_start..).unwrap_or_default());
    if !len.is_multiple_of(8) {
        // The last levels, the bits after them cleared.
        let last = bitmap.get(len / 8).copied().unwrap_or(0) & ((1u8 << (len % 8)) - 1);
        literal_bytes(out, &[last]);
    }
    let levels = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    if let Some(prefix) = out.get_mut(start..start + 4) {
        prefix.copy_from_slice(&levels.to_le_bytes());
    }
}

/// Calls `f(i, value)` for each valid cell `i` of `values` (`validity` none: every cell), in
/// order: the validity bitmap is read 64 cells at a time (a word of all values or all nulls
/// costs one test; the columns' nulls come in runs, from the rows without CMCD).
pub(crate) fn for_each_valid<T: Copy>(
    values: &[T],
    validity: Option<&Bitmap>,
    mut f: impl FnMut(usize, T),
) {
    let Some(validity) = validity.filter(|v| v.unset_bits() > 0) else {
        values.iter().enumerate().for_each(|(i, &v)| f(i, v));
        return;
    };
    let (bytes, 0, _) = validity.as_slice() else {
        // A bitmap not starting at a byte boundary: cell by cell.
        for (i, (&v, ok)) in values.iter().zip(validity.iter()).enumerate() {
            if ok {
                f(i, v);
            }
        }
        return;
    };
    for (w, chunk) in values.chunks(64).enumerate() {
        let mut word = [0u8; 8];
        let source = bytes.get(w * 8..).unwrap_or_default();
        let n = source.len().min(8);
        if let (Some(dst), Some(src)) = (word.get_mut(..n), source.get(..n)) {
            dst.copy_from_slice(src);
        }
        let mut bits = u64::from_le_bytes(word);
        if chunk.len() < 64 {
            bits &= (1u64 << chunk.len()) - 1;
        }
        let base = w * 64;
        if bits == u64::MAX {
            chunk.iter().enumerate().for_each(|(j, &v)| f(base + j, v));
            continue;
        }
        while bits != 0 {
            let j = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(&v) = chunk.get(j) {
                f(base + j, v);
            }
        }
    }
}

/// A bit-packed run of width 1 whose groups of eight are `bytes`.
fn literal_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes.is_empty() {
        uleb128(out, (bytes.len() as u64) << 1 | 1);
        out.extend_from_slice(bytes);
    }
}

/// Appends `keys` as a dictionary page's values: the bit width of the largest key as one byte,
/// then RLE runs for eight or more equal keys and bit-packed runs for the rest (see the module
/// docs).
fn encode_keys(out: &mut Vec<u8>, keys: &[u32]) {
    let width = u32::BITS - keys.iter().copied().max().unwrap_or(0).leading_zeros();
    out.push(width as u8);
    encode_runs(out, keys, width);
}

/// Appends `keys` (each below `2^width`) as RLE and bit-packed runs.
fn encode_runs(out: &mut Vec<u8>, keys: &[u32], width: u32) {
    out.reserve(keys.len() * width as usize / 8 + 16);
    let mut literal_start = 0;
    let mut at = 0;
    while let Some(&value) = keys.get(at) {
        // A run worth repeating has eight equal keys at least, so most keys are passed over
        // with one comparison.
        if keys.get(at + 7) != Some(&value) {
            at += 1;
            continue;
        }
        let run = keys.get(at..).unwrap_or_default().iter().take_while(|&&k| k == value).count();
        // A bit-packed run holds whole groups of eight: the first keys of a repeat complete
        // the pending literals' last group.
        let fill = (8 - (at - literal_start) % 8) % 8;
        if run >= fill + 8 {
            let repeat_start = at + fill;
            bit_packed(out, keys.get(literal_start..repeat_start).unwrap_or_default(), width);
            repeated(out, value, run - fill, width);
            literal_start = at + run;
        }
        at += run;
    }
    bit_packed(out, keys.get(literal_start..).unwrap_or_default(), width);
}

/// A bit-packed run of `keys`, padded with zeros to a whole group of eight.
fn bit_packed(out: &mut Vec<u8>, keys: &[u32], width: u32) {
    if keys.is_empty() {
        return;
    }
    let groups = keys.len().div_ceil(8);
    uleb128(out, (groups as u64) << 1 | 1);
    let mut whole = keys.chunks_exact(8);
    for group in &mut whole {
        pack_group(out, group, width);
    }
    let rest = whole.remainder();
    if !rest.is_empty() {
        let mut padded = [0u32; 8];
        padded.get_mut(..rest.len()).unwrap_or_default().copy_from_slice(rest);
        pack_group(out, &padded, width);
    }
}

/// Eight keys of `width` bits, LSB first: `width` bytes, written 32 bits at a time.
fn pack_group(out: &mut Vec<u8>, group: &[u32], width: u32) {
    let mut acc: u64 = 0;
    let mut bits = 0;
    for &key in group {
        acc |= u64::from(key) << bits;
        bits += width;
        if bits >= 32 {
            out.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            bits -= 32;
        }
    }
    // 8 × width bits in all: what is left is whole bytes.
    out.extend_from_slice(acc.to_le_bytes().get(..bits as usize / 8).unwrap_or_default());
}

/// An RLE run: `count` copies of `value`, stored in `ceil(width / 8)` bytes.
fn repeated(out: &mut Vec<u8>, value: u32, count: usize, width: u32) {
    uleb128(out, (count as u64) << 1);
    let bytes = width.div_ceil(8) as usize;
    out.extend_from_slice(value.to_le_bytes().get(..bytes).unwrap_or_default());
}

/// A run header: `n` as an unsigned LEB128 varint (polars' encoder).
fn uleb128(out: &mut Vec<u8>, n: u64) {
    let mut container = [0u8; 10];
    let used = polars_parquet::parquet::encoding::uleb128::encode(n, &mut container);
    out.extend_from_slice(container.get(..used).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use polars_parquet::parquet::encoding::hybrid_rle::HybridRleDecoder;
    use proptest::prelude::*;

    use polars_arrow::array::PrimitiveArray;
    use polars_arrow::bitmap::Bitmap;
    use polars_arrow::datatypes::ArrowDataType;

    use super::{def_levels_from_bitmap, encode_keys, for_each_valid};

    /// `keys` encoded, then decoded by polars' reader.
    fn round_trip(keys: &[u32]) -> Vec<u32> {
        let mut out = Vec::new();
        encode_keys(&mut out, keys);
        let width = u32::from(out[0]);
        HybridRleDecoder::new(&out[1..], width, keys.len()).collect().unwrap()
    }

    #[test]
    fn runs_and_literals() {
        let mut keys = vec![3, 1, 4, 1, 5];
        keys.extend([9; 20]);
        keys.extend([2, 6, 5, 3, 5, 8, 9, 7, 9]);
        keys.extend([0; 8]);
        keys.push(70_000);
        assert_eq!(round_trip(&keys), keys);
        let mut out = Vec::new();
        encode_keys(&mut out, &[7; 1000]);
        // Width 3, one RLE run of 1,000 (header 2,000 as ULEB128: 0xd0 0x0f), the value.
        assert_eq!(out, [3, 0xd0, 0x0f, 7]);
    }

    #[test]
    fn width_zero_and_empty() {
        assert_eq!(round_trip(&[0; 5]), [0; 5]);
        assert_eq!(round_trip(&[0; 500]), [0; 500]);
        assert_eq!(round_trip(&[]), Vec::<u32>::new());
        let mut out = Vec::new();
        encode_keys(&mut out, &[]);
        assert_eq!(out, [0]);
    }

    proptest! {
        #[test]
        fn definition_levels_read_back(
            runs in proptest::collection::vec((any::<bool>(), 1usize..40), 0..50),
        ) {
            let valid: Vec<bool> =
                runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v, n)).collect();
            let bitmap: Bitmap = valid.iter().copied().collect();
            let (bytes, offset, len) = bitmap.as_slice();
            prop_assert_eq!(offset, 0);
            let mut out = Vec::new();
            def_levels_from_bitmap(&mut out, bytes, len);
            let levels = u32::from_le_bytes(out[..4].try_into().unwrap()) as usize;
            prop_assert_eq!(levels, out.len() - 4);
            let read = HybridRleDecoder::new(&out[4..], 1, len).collect().unwrap();
            let expected: Vec<u32> = valid.iter().map(|&v| u32::from(v)).collect();
            prop_assert_eq!(read, expected);
        }

        #[test]
        fn polars_reads_what_is_written(
            runs in proptest::collection::vec((0u32..(1 << 20), 1usize..40, 0u32..21), 0..60),
        ) {
            // Runs of random length of keys of random width.
            let keys: Vec<u32> = runs
                .iter()
                .flat_map(|&(v, n, bits)| std::iter::repeat_n(v & ((1u32 << bits) - 1), n))
                .collect();
            prop_assert_eq!(round_trip(&keys), keys);
        }
    }

    proptest::proptest! {
        /// The word-at-a-time walk visits exactly the valid cells, in order, for any length,
        /// any validity and bitmaps that start inside a byte (a sliced array).
        #[test]
        fn for_each_valid_visits_the_valid_cells(
            valid in proptest::collection::vec(proptest::bool::weighted(0.8), 0..300),
            skip in 0usize..9,
        ) {
            let values: Vec<i64> = (0..valid.len() as i64).map(|v| v * 7).collect();
            let bitmap: Bitmap = valid.iter().copied().collect();
            let array = PrimitiveArray::new(ArrowDataType::Int64, values.into(), Some(bitmap));
            let array = if skip <= array.len() {
                array.clone().sliced(skip, array.len() - skip)
            } else {
                array
            };
            let expected: Vec<(usize, i64)> = array
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, *v)))
                .collect();
            let mut seen = Vec::new();
            for_each_valid(array.values(), array.validity(), |i, v| seen.push((i, v)));
            proptest::prop_assert_eq!(seen, expected);
        }
    }
}
