//! Where objects go ([`Sink`]), how files are encoded ([`Encoder`]), and where lines come from
//! ([`Source`]). The local directory and in-memory implementations live here; an object-store
//! sink and a stream source plug in through the same traits.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};

use crate::batch::Batch;
use crate::error::Error;
use crate::schema::{Datum, Table};

/// Stores finished objects under keys such as `requests/dt=2024-05-02/hour=11/part-….parquet`.
/// `put` of an existing key replaces it: names are deterministic, so a retry is idempotent.
pub trait Sink {
    /// Stores one object.
    ///
    /// # Errors
    ///
    /// [`Error::Sink`] when the object could not be stored (retryable).
    fn put(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), Error>;
}

/// A local directory: each key becomes a file below the root, written to a temporary name
/// first and renamed into place, so readers never see a partial file.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// A sink writing below `root` (created on demand).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Sink for LocalDir {
    fn put(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let err = |source| Error::Sink { key: key.to_owned(), source };
        if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            return Err(err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad key")));
        }
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("tmp");
        let mut file = fs::File::create(&tmp).map_err(err)?;
        file.write_all(&bytes).map_err(err)?;
        drop(file);
        fs::rename(&tmp, &path).map_err(err)
    }
}

/// Objects kept in memory (tests).
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    /// Key → bytes.
    pub objects: BTreeMap<String, Vec<u8>>,
}

impl Sink for MemorySink {
    fn put(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
        self.objects.insert(key.to_owned(), bytes);
        Ok(())
    }
}

/// Turns batches of one table into one file's bytes.
pub trait Encoder {
    /// A file being written.
    type File: EncodedFile;
    /// Starts a file for `table`.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`].
    fn create(&self, table: &'static Table) -> Result<Self::File, Error>;
    /// The file name extension (`parquet`).
    fn extension(&self) -> &'static str;
}

/// A file being written: one call to `write` per row group.
pub trait EncodedFile {
    /// Appends the batch (one row group).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`].
    ///
    /// The batch is empty afterwards: an encoder may move the rows out instead of copying them.
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error>;
    /// Bytes written so far.
    fn bytes(&self) -> u64;
    /// Tells the file it will hold about `bytes` bytes, so that an encoder that keeps the file
    /// in memory can make its buffer once instead of growing it (each doubling copies the file
    /// so far into fresh memory). A hint: nothing happens when the memory is not available.
    /// The default does nothing.
    fn reserve(&mut self, bytes: usize) {
        let _ = bytes;
    }
    /// Finishes the file and returns its bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`].
    fn finish(self) -> Result<Vec<u8>, Error>;
}

/// A plain-text encoder for tests and builds without Parquet: one header line with the column
/// names, then one TAB-separated line per row (`\N` for null, timestamps in epoch ms).
#[derive(Debug, Clone, Copy, Default)]
pub struct TextEncoder;

/// A [`TextEncoder`] file.
#[derive(Debug)]
pub struct TextFile(String);

impl Encoder for TextEncoder {
    type File = TextFile;
    fn create(&self, table: &'static Table) -> Result<TextFile, Error> {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        Ok(TextFile(names.join("\t") + "\n"))
    }
    fn extension(&self) -> &'static str {
        "tsv"
    }
}

impl EncodedFile for TextFile {
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error> {
        use std::fmt::Write as _;
        for row in 0..batch.len() {
            for (i, col) in batch.columns().iter().enumerate() {
                if i > 0 {
                    self.0.push('\t');
                }
                let _ = match col.get(row) {
                    Datum::Null => write!(self.0, "\\N"),
                    Datum::Str(s) => write!(self.0, "{}", s.replace(['\t', '\n'], " ")),
                    Datum::Int(n) | Datum::Millis(n) => write!(self.0, "{n}"),
                    Datum::Float(f) => write!(self.0, "{f}"),
                    Datum::Bool(b) => write!(self.0, "{b}"),
                };
            }
            self.0.push('\n');
        }
        batch.clear();
        Ok(())
    }
    fn bytes(&self) -> u64 {
        self.0.len() as u64
    }
    fn reserve(&mut self, bytes: usize) {
        let _ = self.0.try_reserve_exact(bytes.saturating_sub(self.0.len()));
    }
    fn finish(self) -> Result<Vec<u8>, Error> {
        Ok(self.0.into_bytes())
    }
}

/// Lines with their positions, from one input.
#[derive(Debug, Clone, Default)]
pub struct LineBatch {
    /// The source name (`[A-Za-z0-9_-]`, see [`crate::partition::source_name`]).
    pub source: String,
    /// The position of the first line (1-based line number for files).
    pub first_line: u64,
    /// The input as read: each line followed by its LF (the input's last line may have none).
    data: Vec<u8>,
    /// End of each line in `data` (its LF's position); the next line starts one byte later.
    ends: Vec<usize>,
}

impl LineBatch {
    /// The lines (without their LF) with their line numbers.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        let mut start = 0;
        self.ends.iter().enumerate().map(move |(i, &end)| {
            let line = self.data.get(start..end).unwrap_or_default();
            start = end + 1;
            (self.first_line + i as u64, line)
        })
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of input held (the lines and their line ends).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }
}

/// A source of log lines.
pub trait Source {
    /// The next batch; `None` at the end.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the source cannot be read.
    fn next_batch(&mut self) -> Result<Option<LineBatch>, Error>;
}

/// Lines read from a reader (a file or standard input), in batches of about `batch_bytes`
/// (a line longer than that makes its batch longer).
///
/// The input is read in large chunks and cut at line ends; the bytes after a chunk's last LF
/// start the next batch. Memory stays bounded whatever the input: of a line longer than
/// [`crate::line::MAX_LINE_LEN`] only the first `MAX_LINE_LEN + 1` bytes are kept (it is
/// quarantined as too long with them) and the rest is skipped; skipped bytes are not counted
/// in the run's byte total.
#[derive(Debug)]
pub struct ReaderSource<R> {
    reader: R,
    source: String,
    next_line: u64,
    batch_bytes: usize,
    /// Bytes read after the last complete line.
    carry: Vec<u8>,
    at_end: bool,
    /// Skipping the rest of a line longer than [`MAX_HELD_LINE`].
    skipping: bool,
}

/// Fewest bytes one read asks for.
const MIN_READ: usize = 64 * 1024;

impl<R: Read> ReaderSource<R> {
    /// Reads `reader`, naming the input `source`.
    pub fn new(reader: R, source: impl Into<String>) -> Self {
        Self {
            reader,
            source: source.into(),
            next_line: 1,
            batch_bytes: 1 << 20,
            carry: Vec::new(),
            at_end: false,
            skipping: false,
        }
    }

    /// Batches of about `bytes` (default 1 MiB).
    #[must_use]
    pub fn with_batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes.max(1);
        self
    }
}

/// Bytes of a line kept at most: one more than the longest accepted line, so a longer line
/// still reads as too long (and is quarantined with these first bytes) while the rest of it is
/// skipped instead of held in memory.
const MAX_HELD_LINE: usize = crate::line::MAX_LINE_LEN + 1;

impl<R: Read> Source for ReaderSource<R> {
    fn next_batch(&mut self) -> Result<Option<LineBatch>, Error> {
        let mut data = Vec::with_capacity(self.batch_bytes.max(self.carry.len()) + 4096);
        data.append(&mut self.carry);
        let mut ends = Vec::new();
        let mut scanned = 0;
        let mut cut = false;
        loop {
            if self.skipping {
                // The rest of an over-long line, up to and including its LF.
                let lf = memchr::memchr(b'\n', data.get(scanned..).unwrap_or_default());
                let skipped_to = lf.map_or(data.len(), |lf| scanned + lf + 1);
                data.drain(scanned..skipped_to);
                self.skipping = lf.is_none();
            }
            while let Some(offset) = memchr::memchr(b'\n', data.get(scanned..).unwrap_or_default())
            {
                let start = ends.last().map_or(0, |&lf| lf + 1);
                let mut lf = scanned + offset;
                if lf - start > MAX_HELD_LINE {
                    data.drain(start + MAX_HELD_LINE..lf);
                    lf = start + MAX_HELD_LINE;
                }
                ends.push(lf);
                scanned = lf + 1;
            }
            scanned = data.len();
            let complete = ends.last().map_or(0, |&lf| lf + 1);
            if data.len() - complete > MAX_HELD_LINE {
                data.truncate(complete + MAX_HELD_LINE);
                ends.push(data.len()); // the batch's last line: nothing follows it
                self.skipping = true;
                cut = true;
                break;
            }
            if self.at_end || (!ends.is_empty() && data.len() >= self.batch_bytes) {
                break;
            }
            let want = self.batch_bytes.saturating_sub(data.len()).max(MIN_READ);
            let n = (&mut self.reader)
                .take(want as u64)
                .read_to_end(&mut data)
                .map_err(|source| Error::Read { input: self.source.clone(), source })?;
            self.at_end = n == 0;
        }
        let complete = ends.last().map_or(0, |&lf| lf + 1);
        if self.at_end && !cut && data.len() > complete {
            ends.push(data.len()); // the last line, without LF
        } else if !self.at_end && !cut {
            self.carry.extend_from_slice(data.get(complete..).unwrap_or_default());
            data.truncate(complete);
        }
        let batch =
            LineBatch { source: self.source.clone(), first_line: self.next_line, data, ends };
        self.next_line += batch.ends.len() as u64;
        Ok((!batch.ends.is_empty()).then_some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8], batch_bytes: usize) -> Vec<(u64, Vec<u8>)> {
        let mut source = ReaderSource::new(text, "t").with_batch_bytes(batch_bytes);
        let mut out = Vec::new();
        while let Some(batch) = source.next_batch().unwrap() {
            assert!(!batch.is_empty());
            out.extend(batch.lines().map(|(n, l)| (n, l.to_vec())));
        }
        out
    }

    proptest::proptest! {
        /// Whatever the batch size, the lines are the input split at LF (no empty last line
        /// after a final LF), numbered from 1.
        #[test]
        fn lines_are_the_input_split_at_lf(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b'\r'),
                    proptest::strategy::Just(b'a'),
                ],
                0..300,
            ),
            batch_bytes in 1usize..40,
        ) {
            let mut expected: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            if text.is_empty() || text.ends_with(b"\n") {
                expected.pop();
            }
            let got = read_all(&text, batch_bytes);
            let numbers: Vec<u64> = got.iter().map(|(n, _)| *n).collect();
            let lines: Vec<&[u8]> = got.iter().map(|(_, l)| l.as_slice()).collect();
            proptest::prop_assert_eq!(lines, expected.clone());
            proptest::prop_assert_eq!(numbers, (1..=expected.len() as u64).collect::<Vec<_>>());
        }
    }

    /// Over-long lines (with and without a final LF) are cut to one byte more than a line may
    /// have, the rest skipped, and line numbers stay right.
    #[test]
    fn over_long_lines_are_cut_and_skipped() {
        let max = crate::line::MAX_LINE_LEN;
        let mut text = b"ok\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 3 * max));
        text.extend_from_slice(b"\nok2\n");
        text.extend(std::iter::repeat_n(b'y', max + 5));
        for batch_bytes in [7, 1000, 1 << 20] {
            let lines = read_all(&text, batch_bytes);
            let lens: Vec<(u64, usize)> = lines.iter().map(|(n, l)| (*n, l.len())).collect();
            assert_eq!(lens, [(1, 2), (2, max + 1), (3, 3), (4, max + 1)], "{batch_bytes}");
            assert!(lines[1].1.iter().all(|&b| b == b'x'));
            assert_eq!(lines[2].1, b"ok2");
            assert!(lines[3].1.iter().all(|&b| b == b'y'));
        }
        // A line of exactly the longest accepted length is kept whole.
        let mut text = vec![b'z'; max];
        text.push(b'\n');
        text.extend_from_slice(b"next");
        let lines = read_all(&text, 100);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].1.len(), max);
        assert_eq!(lines[1].1, b"next");
    }

    #[test]
    fn batches_stay_near_their_size() {
        let text = "x".repeat(99) + "\n";
        let text = text.repeat(1000);
        let mut source = ReaderSource::new(text.as_bytes(), "t").with_batch_bytes(10_000);
        let mut batches = 0;
        while let Some(batch) = source.next_batch().unwrap() {
            assert!(batch.bytes() <= 10_000 + MIN_READ, "{}", batch.bytes());
            batches += 1;
        }
        assert!(batches >= 2);
    }
}
