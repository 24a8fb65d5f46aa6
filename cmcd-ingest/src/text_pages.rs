//! The data pages of a plain text column chunk (feature `parquet`).
//!
//! A text column with mostly distinct values (request URLs, `cmcd_raw`, request and connection
//! ids) is written with Parquet's `PLAIN` encoding: each value as its length (little-endian
//! `u32`) and its bytes, after the page's definition levels. polars' writer builds such a page
//! from a string-view array in three passes over the cells — the text bytes summed over every
//! view to reserve the page buffer, the definition levels pushed one cell at a time through its
//! RLE encoder, then the values — and a further two for the page's minimum and maximum. Here
//! the levels are copied from the validity bitmap's bytes (`dictionary_pages`) and one pass
//! writes the values and finds both bounds.
//!
//! Everything else is polars' rule: pages are cut where polars cuts them (the same
//! `data_page_size` estimate as `dictionary_pages`), and each page's statistics — its minimum
//! and maximum value (bytes compared lexicographically, then truncated as polars' settings
//! say) and null count — are the ones polars' writer gives a two-row page holding that minimum
//! and maximum. The `plain_text_pages_match_polars` test in `crate::parquet` compares headers,
//! statistics and values with polars' pages. Format V2 pages are left to polars' writer.
//!
//! A row group written in another order than its rows arrived in (`requests`, grouped by CMCD
//! session: `crate::schema::RowOrder`) hands its plain text columns over in input order with
//! the rows to write: each page reads its cells through those row indices, so the text is not
//! copied into the new order first.

use std::sync::Arc;

use polars_arrow::array::{Array, MutablePlString, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::compute::aggregate::estimated_bytes_size;
use polars_parquet::parquet::error::{ParquetError, ParquetResult};
use polars_parquet::parquet::page::{DataPageHeader, Page};
use polars_parquet::parquet::statistics::{BinaryStatistics, ParquetStatistics};
use polars_parquet::write::{Encoding, ParquetType, Version, WriteOptions, array_to_columns};

use crate::dictionary_pages::{def_levels, rows_per_page, v1_data_page};

/// The data pages of `array`, a nullable, not nested text column of type `column`, built as
/// they are drawn, with its cells in input order or, given an `order` (a permutation of the
/// row indices), in that order; `None` for format V2 pages or a column that is not a primitive one.
pub(crate) fn pages(
    array: &Utf8ViewArray,
    order: Option<Arc<[u32]>>,
    column: &ParquetType,
    options: WriteOptions,
) -> Option<impl Iterator<Item = ParquetResult<Page>> + use<>> {
    if options.version != Version::V1 {
        return None;
    }
    let ParquetType::PrimitiveType(_) = column else { return None };
    let column = column.clone();
    let rows = array.len();
    let per_page = rows_per_page(rows, estimated_bytes_size(array), options);
    // The text bytes per row, for the page buffer's size (known for the whole array; a slice
    // would sum its views again).
    let text_per_row = array.total_bytes_len().checked_div(rows).unwrap_or(0);
    let array = array.clone();
    Some((0..rows).step_by(per_page).map(move |start| {
        let len = per_page.min(rows - start);
        // An eighth more than the average, so that a page of longer texts does not grow the
        // buffer (each growth copies what the page holds so far).
        let capacity = len * (text_per_row + size_of::<u32>()) * 9 / 8 + len / 8 + 64;
        match &order {
            None => page(&array.clone().sliced(start, len), &column, options, capacity),
            Some(order) => {
                let rows = order.get(start..start + len).unwrap_or_default();
                page_of_rows(&array, rows, &column, options, capacity)
            }
        }
    }))
}

/// One data page: definition levels, then each valid cell's length and bytes.
fn page(
    array: &Utf8ViewArray,
    column: &ParquetType,
    options: WriteOptions,
    capacity: usize,
) -> ParquetResult<Page> {
    let levels = array.validity();
    let texts = array.values_iter();
    match levels.filter(|v| v.unset_bits() > 0) {
        Some(validity) => {
            let valid = texts.zip(validity.iter()).filter_map(|(t, ok)| ok.then_some(t));
            encode_page(valid, levels, array.len(), column, options, capacity)
        }
        None => encode_page(texts, levels, array.len(), column, options, capacity),
    }
}

/// One data page of the cells `rows` of `array`, in that order.
fn page_of_rows(
    array: &Utf8ViewArray,
    rows: &[u32],
    column: &ParquetType,
    options: WriteOptions,
    capacity: usize,
) -> ParquetResult<Page> {
    let text = |r: u32| array.value(r as usize);
    // The cells are read out of the order they were stored in, so the processor's own
    // prefetcher does not see them coming: each is asked for a few cells ahead.
    let text_prefetching = |(i, &r): (usize, &u32)| {
        if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
            prefetch(text(ahead).as_bytes());
        }
        text(r)
    };
    match array.validity().filter(|v| v.unset_bits() > 0) {
        Some(all) => {
            let ok = |r: u32| all.get(r as usize).unwrap_or(false);
            let validity: Bitmap = rows.iter().map(|&r| ok(r)).collect();
            let valid = rows.iter().enumerate().filter(|(_, r)| ok(**r)).map(text_prefetching);
            encode_page(valid, Some(&validity), rows.len(), column, options, capacity)
        }
        None => {
            let texts = rows.iter().enumerate().map(text_prefetching);
            encode_page(texts, None, rows.len(), column, options, capacity)
        }
    }
}

/// How many cells ahead [`page_of_rows`] asks for a cell's text.
const PREFETCH_AHEAD: usize = 8;

/// Asks the processor to load the first cache lines of `bytes` (nothing on other targets
/// than x86-64).
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.iter().step_by(64).take(4) {
        safe_arch::prefetch_t0(line);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// A data page of `rows` cells: definition levels from `validity` (none: every cell valid),
/// then `texts`, the texts of the valid cells, as `PLAIN` values.
fn encode_page<'a>(
    texts: impl Iterator<Item = &'a str>,
    validity: Option<&Bitmap>,
    rows: usize,
    column: &ParquetType,
    options: WriteOptions,
    capacity: usize,
) -> ParquetResult<Page> {
    let ParquetType::PrimitiveType(primitive_type) = column else {
        return Err(ParquetError::FeatureNotSupported("a nested text column".into()));
    };
    let mut buffer = Vec::with_capacity(capacity);
    def_levels(&mut buffer, validity, rows)?;
    let bounds = plain_values(&mut buffer, texts);
    let statistics = if options.has_statistics() {
        let nulls = validity.map_or(0, Bitmap::unset_bits);
        Some(statistics(bounds, nulls, column, options)?)
    } else {
        None
    };
    Ok(v1_data_page(buffer, rows, Encoding::Plain, statistics, primitive_type))
}

/// The cells `rows` of `array`, in that order, as a new array (a copy of their text).
pub(crate) fn gather(array: &Utf8ViewArray, rows: &[u32]) -> Utf8ViewArray {
    let mut cells = MutablePlString::with_capacity(rows.len());
    for &r in rows {
        cells.push(array.get(r as usize));
    }
    cells.into()
}

/// A page's statistics from its smallest and largest text (`None`: every cell null) and its
/// null count: polars' statistics for a page of those two texts (its truncation of long
/// values included), with the page's null count.
fn statistics(
    bounds: Option<(&str, &str)>,
    nulls: usize,
    column: &ParquetType,
    options: WriteOptions,
) -> ParquetResult<ParquetStatistics> {
    let null_count =
        options.statistics.null_count.then(|| i64::try_from(nulls).unwrap_or(i64::MAX));
    let Some((min, max)) = bounds else {
        let ParquetType::PrimitiveType(primitive_type) = column else {
            return Err(ParquetError::FeatureNotSupported("a nested text column".into()));
        };
        let none = BinaryStatistics {
            primitive_type: primitive_type.clone(),
            null_count,
            distinct_count: None,
            max_value: None,
            min_value: None,
        };
        return Ok(none.serialize());
    };
    let two = Utf8ViewArray::from_slice_values([min, max]);
    let polars_error = |e: polars::prelude::PolarsError| ParquetError::OutOfSpec(e.to_string());
    let page = array_to_columns(two.boxed(), column.clone(), options, &[Encoding::Plain])
        .map_err(polars_error)?
        .pop()
        .and_then(|mut pages| pages.next())
        .ok_or_else(|| ParquetError::OutOfSpec("no page from polars".into()))?
        .map_err(polars_error)?;
    let Page::Data(page) = page else {
        return Err(ParquetError::OutOfSpec("a dictionary page from polars".into()));
    };
    let DataPageHeader::V1(header) = page.header() else {
        return Err(ParquetError::OutOfSpec("a format V2 page from polars".into()));
    };
    let mut statistics = header
        .statistics
        .clone()
        .ok_or_else(|| ParquetError::OutOfSpec("no statistics from polars".into()))?;
    statistics.null_count = null_count;
    Ok(statistics)
}

/// Appends `texts` as `PLAIN` values (length, bytes); returns the smallest and the largest
/// (`str` order is the order of their bytes), `None` when there is none.
fn plain_values<'a>(
    buffer: &mut Vec<u8>,
    texts: impl Iterator<Item = &'a str>,
) -> Option<(&'a str, &'a str)> {
    let mut bounds: Option<(&str, &str)> = None;
    for text in texts {
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        buffer.extend_from_slice(&len.to_le_bytes());
        buffer.extend_from_slice(text.as_bytes());
        bounds = Some(match bounds {
            None => (text, text),
            Some((min, max)) => (min.min(text), max.max(text)),
        });
    }
    bounds
}
