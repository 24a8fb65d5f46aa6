//! Where objects go ([`Sink`]), how files are encoded ([`Encoder`]), and where lines come from
//! ([`Source`]). The local directory and in-memory implementations live here; an object-store
//! sink and a stream source plug in through the same traits.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::batch::Batch;
use crate::direct_file::DirectFile;
use crate::error::Error;
use crate::schema::{Datum, Table};

/// Stores finished objects under keys such as `requests/dt=2024-05-02/hour=11/part-….parquet`.
/// Storing an existing key replaces it: names are deterministic, so a retry is idempotent.
///
/// An object is either handed over whole ([`put`](Self::put)) or written piece by piece while
/// it is encoded ([`create`](Self::create), then [`commit`](Self::commit)), so that a large file
/// need not be held in memory. Either way readers never see part of an object.
pub trait Sink {
    /// An object being written: its bytes go in as they are encoded.
    type Object: Write;
    /// Starts the object `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Sink`] when the object cannot be started (retryable).
    fn create(&mut self, key: &str) -> Result<Self::Object, Error>;
    /// Completes an object from [`create`](Self::create) (`key` is the one given there, for
    /// errors and for sinks that do not keep it): it appears under that key, whole. An object
    /// dropped without `commit` leaves nothing behind.
    ///
    /// # Errors
    ///
    /// [`Error::Sink`] when the object could not be stored (retryable).
    fn commit(&mut self, key: &str, object: Self::Object) -> Result<(), Error>;
    /// Stores one object given whole.
    ///
    /// # Errors
    ///
    /// [`Error::Sink`] when the object could not be stored (retryable).
    fn put(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let mut object = self.create(key)?;
        object.write_all(&bytes).map_err(|source| Error::Sink { key: key.to_owned(), source })?;
        self.commit(key, object)
    }
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

/// A [`LocalDir`] object being written: a temporary file next to its final name, removed when
/// dropped without [`Sink::commit`]. Its bytes go through a 1 MiB buffer (polars' Parquet
/// writer makes many small writes) and past the page cache where the filesystem allows it
/// (`direct_file`: the lake is written once and not read back by the writer).
#[derive(Debug)]
pub struct TempFile {
    file: Option<DirectFile>,
    tmp: PathBuf,
    path: PathBuf,
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("object already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl Sink for LocalDir {
    type Object = TempFile;

    fn create(&mut self, key: &str) -> Result<TempFile, Error> {
        let err = |source| Error::Sink { key: key.to_owned(), source };
        let path = self.path(key).map_err(err)?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("tmp");
        let file = Some(DirectFile::create(&tmp).map_err(err)?);
        Ok(TempFile { file, tmp, path })
    }

    fn commit(&mut self, key: &str, mut object: TempFile) -> Result<(), Error> {
        let err = |source| Error::Sink { key: key.to_owned(), source };
        let Some(file) = object.file.take() else {
            return Err(err(io::Error::other("object already committed")));
        };
        let result = file.finish().and_then(|f| {
            drop(f);
            fs::rename(&object.tmp, &object.path)
        });
        if result.is_err() {
            let _ = fs::remove_file(&object.tmp);
        }
        result.map_err(err)
    }
}

impl LocalDir {
    /// The file of `key`; keys with empty, `.` or `..` segments are refused.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        if key.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad key"));
        }
        Ok(self.root.join(key))
    }
}

/// Objects kept in memory (tests).
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    /// Key → bytes.
    pub objects: BTreeMap<String, Vec<u8>>,
}

impl Sink for MemorySink {
    type Object = Vec<u8>;

    fn create(&mut self, _key: &str) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }

    fn commit(&mut self, key: &str, object: Vec<u8>) -> Result<(), Error> {
        self.objects.insert(key.to_owned(), object);
        Ok(())
    }

    fn put(&mut self, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
        self.commit(key, bytes)
    }
}

/// Turns batches of one table into one file, written to an output as it is encoded.
pub trait Encoder {
    /// A file being written to an output of type `W`.
    type File<W: Write>: EncodedFile<W>;
    /// Starts a file for `table`, written to `out`.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`]; [`Error::Sink`] (with an empty key) when `out` fails.
    fn create<W: Write>(&self, table: &'static Table, out: W) -> Result<Self::File<W>, Error>;
    /// The file name extension (`parquet`).
    fn extension(&self) -> &'static str;
}

/// A file being written: one call to `write` per row group.
pub trait EncodedFile<W> {
    /// Appends the batch (one row group).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`]; [`Error::Sink`] (with an empty key: the caller knows it) when the
    /// output fails.
    ///
    /// The batch is empty afterwards: an encoder may move the rows out instead of copying them.
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error>;
    /// Bytes written so far.
    fn bytes(&self) -> u64;
    /// Finishes the file and returns the output, every byte written to it.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    fn finish(self) -> Result<W, Error>;
}

/// What a [`CountingWriter`] has seen: bytes written and the first failure, readable while the
/// writer itself is owned by someone else (polars' Parquet writer keeps its output and turns
/// I/O errors into its own).
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<TallyInner>);

#[derive(Debug, Default)]
struct TallyInner {
    written: AtomicU64,
    failure: Mutex<Option<io::Error>>,
}

impl Tally {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.0.written.load(Ordering::Relaxed)
    }

    /// The error to report for a failed encode: the output's own failure when there was one
    /// (as [`Error::Sink`] with an empty key, for the caller to fill in), else `otherwise`.
    pub fn error(&self, otherwise: Error) -> Error {
        match self.0.failure.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(source) => Error::Sink { key: String::new(), source },
            None => otherwise,
        }
    }

    fn fail(&self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        self.0.failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
        copy
    }
}

/// The error of a write the tally did not record (it records every failure: a fallback).
fn unreported(e: &io::Error) -> Error {
    Error::Sink { key: String::new(), source: io::Error::new(e.kind(), e.to_string()) }
}

/// An output that keeps a [`Tally`] of what is written to it.
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    tally: Tally,
}

impl<W> CountingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner, tally: Tally::default() }
    }

    /// A handle on the tally.
    pub fn tally(&self) -> Tally {
        self.tally.clone()
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.write(buf) {
            Ok(n) => {
                self.tally.0.written.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => Err(self.tally.fail(e)),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.inner.write_all(buf) {
            Ok(()) => {
                self.tally.0.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(self.tally.fail(e)),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.tally.fail(e))
    }
}

/// A plain-text encoder for tests and builds without Parquet: one header line with the column
/// names, then one TAB-separated line per row (`\N` for null, timestamps in epoch ms).
#[derive(Debug, Clone, Copy, Default)]
pub struct TextEncoder;

/// A [`TextEncoder`] file.
#[derive(Debug)]
pub struct TextFile<W> {
    out: CountingWriter<W>,
    line: String,
}

impl Encoder for TextEncoder {
    type File<W: Write> = TextFile<W>;
    fn create<W: Write>(&self, table: &'static Table, out: W) -> Result<TextFile<W>, Error> {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let mut file = TextFile { out: CountingWriter::new(out), line: String::new() };
        emit(&mut file.out, &(names.join("\t") + "\n"))?;
        Ok(file)
    }
    fn extension(&self) -> &'static str {
        "tsv"
    }
}

/// Writes `text` to `out`; a failure is the output's own error.
fn emit<W: Write>(out: &mut CountingWriter<W>, text: &str) -> Result<(), Error> {
    out.write_all(text.as_bytes()).map_err(|e| out.tally.error(unreported(&e)))
}

impl<W: Write> EncodedFile<W> for TextFile<W> {
    fn write(&mut self, batch: &mut Batch) -> Result<(), Error> {
        use std::fmt::Write as _;
        for row in 0..batch.len() {
            self.line.clear();
            for (i, col) in batch.columns().iter().enumerate() {
                if i > 0 {
                    self.line.push('\t');
                }
                let _ = match col.get(row) {
                    Datum::Null => write!(self.line, "\\N"),
                    Datum::Str(s) => write!(self.line, "{}", s.replace(['\t', '\n'], " ")),
                    Datum::Int(n) | Datum::Millis(n) => write!(self.line, "{n}"),
                    Datum::Float(f) => write!(self.line, "{f}"),
                    Datum::Bool(b) => write!(self.line, "{b}"),
                };
            }
            self.line.push('\n');
            emit(&mut self.out, &self.line)?;
        }
        batch.clear();
        Ok(())
    }
    fn bytes(&self) -> u64 {
        self.out.tally.written()
    }
    fn finish(mut self) -> Result<W, Error> {
        self.out.flush().map_err(|e| self.out.tally.error(unreported(&e)))?;
        Ok(self.out.into_inner())
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
    use crate::scratch::Scratch;

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

    fn files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        out
    }

    /// An object written piece by piece appears whole at commit, under its name only; one
    /// dropped before commit leaves nothing; `put` is create + write + commit.
    #[test]
    fn local_dir_objects_appear_at_commit_only() {
        let scratch = Scratch::new("sink-commit");
        let mut dir = LocalDir::new(&scratch.0);
        let mut object = dir.create("requests/dt=2024-05-02/hour=11/a.parquet").unwrap();
        object.write_all(b"PAR1").unwrap();
        object.write_all(&[7; 3 << 20]).unwrap(); // past the write buffer
        assert_eq!(files(&scratch.0), ["requests/dt=2024-05-02/hour=11/a.tmp"]);
        dir.commit("requests/dt=2024-05-02/hour=11/a.parquet", object).unwrap();
        assert_eq!(files(&scratch.0), ["requests/dt=2024-05-02/hour=11/a.parquet"]);
        let bytes = fs::read(scratch.0.join("requests/dt=2024-05-02/hour=11/a.parquet")).unwrap();
        assert_eq!(bytes.len(), 4 + (3 << 20));

        let mut abandoned = dir.create("requests/dt=2024-05-02/hour=12/b.parquet").unwrap();
        abandoned.write_all(b"partial").unwrap();
        drop(abandoned);
        dir.put("quarantine/q.jsonl", b"{}\n".to_vec()).unwrap();
        assert_eq!(
            files(&scratch.0),
            ["quarantine/q.jsonl", "requests/dt=2024-05-02/hour=11/a.parquet"]
        );
    }

    /// Keys that would leave the root (or name a directory) are refused before anything is
    /// written.
    #[test]
    fn local_dir_refuses_escaping_keys() {
        let scratch = Scratch::new("sink-escape");
        let mut dir = LocalDir::new(scratch.0.join("lake"));
        for key in ["../x.parquet", "a/../../x", "/abs", "a//b", "a/./b", "a/", ""] {
            match dir.create(key) {
                Err(Error::Sink { key: k, source }) => {
                    assert_eq!(k, key);
                    assert_eq!(source.kind(), io::ErrorKind::InvalidInput, "{key}");
                }
                other => panic!("{key}: {other:?}"),
            }
            assert!(dir.put(key, b"x".to_vec()).is_err(), "{key}");
        }
        assert!(!scratch.0.exists(), "nothing created");
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
