//! ZSTD compression of Parquet pages with one compression context per file (feature
//! `parquet`).
//!
//! polars' page compressor creates a ZSTD context for every page and zero-fills the output
//! buffer before compressing into it; a file has about a hundred pages per row group. Here one
//! context is made per file and reused for all its pages (zstd then keeps its tables instead
//! of allocating and clearing them), and each page compresses into the spare capacity of the
//! buffer of the column's previous page. The frames are the same bytes: same level, same
//! parameters, one frame per page (the `one_context_writes_the_same_frames` test compares
//! them with polars' output).
//!
//! Only data pages of format V1 and dictionary pages occur (the encoder writes V1); a V2 data
//! page is compressed as the format says, levels left uncompressed.

use std::sync::{Arc, Mutex, PoisonError};

use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::error::{ParquetError, ParquetResult};
use polars_parquet::parquet::page::{
    CompressedDataPage, CompressedDictPage, CompressedPage, DataPageHeader, Page,
};
use polars_parquet::write::FallibleStreamingIterator;

/// A ZSTD context shared by the column iterators of one file (the writer drains them one after
/// the other, so the lock is never contended).
#[derive(Clone)]
pub(crate) struct SharedContext(Arc<Mutex<zstd::bulk::Compressor<'static>>>);

impl std::fmt::Debug for SharedContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedContext").finish_non_exhaustive()
    }
}

impl SharedContext {
    /// A context compressing at `level`.
    pub(crate) fn new(level: i32) -> ParquetResult<Self> {
        let compressor = zstd::bulk::Compressor::new(level).map_err(io_error)?;
        Ok(Self(Arc::new(Mutex::new(compressor))))
    }

    /// `input` as one ZSTD frame.
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> ParquetResult<()> {
        out.reserve(zstd::zstd_safe::compress_bound(input.len()));
        let mut context = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        context.compress_to_buffer(input, out).map_err(io_error)?;
        Ok(())
    }
}

fn io_error(e: std::io::Error) -> ParquetError {
    ParquetError::InvalidParameter(format!("zstd: {e}"))
}

/// The pages of one column chunk, compressed as they are drained.
pub(crate) struct PageCompressor<I> {
    pages: I,
    context: SharedContext,
    current: Option<CompressedPage>,
}

impl<I> PageCompressor<I> {
    pub(crate) fn new(pages: I, context: SharedContext) -> Self {
        Self { pages, context, current: None }
    }
}

impl<I> std::fmt::Debug for PageCompressor<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCompressor").finish_non_exhaustive()
    }
}

impl<I: Iterator<Item = ParquetResult<Page>>> PageCompressor<I> {
    fn compress(&self, page: Page, mut out: Vec<u8>) -> ParquetResult<CompressedPage> {
        out.clear();
        Ok(match page {
            Page::Data(page) => {
                let input = page.buffer();
                let skip = match page.header() {
                    DataPageHeader::V1(_) => 0,
                    DataPageHeader::V2(h) => {
                        let levels =
                            h.repetition_levels_byte_length + h.definition_levels_byte_length;
                        usize::try_from(levels).unwrap_or(usize::MAX).min(input.len())
                    }
                };
                let (levels, values) = input.split_at(skip);
                out.extend_from_slice(levels);
                self.context.compress(values, &mut out)?;
                CompressedPage::Data(CompressedDataPage::new(
                    page.header().clone(),
                    CowBuffer::Owned(out),
                    Compression::Zstd,
                    input.len(),
                    page.descriptor.clone(),
                    page.num_rows().unwrap_or(0),
                ))
            }
            Page::Dict(page) => {
                self.context.compress(&page.buffer, &mut out)?;
                CompressedPage::Dict(CompressedDictPage::new(
                    CowBuffer::Owned(out),
                    Compression::Zstd,
                    page.buffer.len(),
                    page.num_values,
                    page.is_sorted,
                ))
            }
        })
    }
}

impl<I: Iterator<Item = ParquetResult<Page>>> FallibleStreamingIterator for PageCompressor<I> {
    type Item = CompressedPage;
    type Error = ParquetError;

    fn advance(&mut self) -> ParquetResult<()> {
        // The previous data page has been written: its buffer takes the next page.
        let out = match self.current.take() {
            Some(CompressedPage::Data(mut page)) => {
                std::mem::replace(page.slice_mut(), CowBuffer::Owned(Vec::new())).into_vec()
            }
            _ => Vec::new(),
        };
        self.current = match self.pages.next() {
            Some(page) => Some(self.compress(page?, out)?),
            None => None,
        };
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}
