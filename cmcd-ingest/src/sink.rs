//! Where objects go ([`Sink`]), how files are encoded ([`Encoder`]), and where lines come from
//! ([`Source`]). The local directory and in-memory implementations live here; an object-store
//! sink and a stream source plug in through the same traits.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, Write as _};
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
    fn write(&mut self, batch: &Batch) -> Result<(), Error>;
    /// Bytes written so far.
    fn bytes(&self) -> u64;
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
    fn write(&mut self, batch: &Batch) -> Result<(), Error> {
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
        Ok(())
    }
    fn bytes(&self) -> u64 {
        self.0.len() as u64
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
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl LineBatch {
    /// The lines (without their LF) with their line numbers.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        let mut start = 0;
        self.ends.iter().enumerate().map(move |(i, &end)| {
            let line = self.data.get(start..end).unwrap_or_default();
            start = end;
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

    /// Bytes of line data.
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
    /// [`Error::Sink`]-style I/O errors of the source.
    fn next_batch(&mut self) -> Result<Option<LineBatch>, Error>;
}

/// Lines read from a buffered reader (a file or standard input), in batches of at most
/// `batch_bytes` (one line may exceed it).
#[derive(Debug)]
pub struct ReaderSource<R> {
    reader: R,
    source: String,
    next_line: u64,
    batch_bytes: usize,
}

impl<R: BufRead> ReaderSource<R> {
    /// Reads `reader`, naming the input `source`.
    pub fn new(reader: R, source: impl Into<String>) -> Self {
        Self { reader, source: source.into(), next_line: 1, batch_bytes: 1 << 20 }
    }
}

impl<R: BufRead> Source for ReaderSource<R> {
    fn next_batch(&mut self) -> Result<Option<LineBatch>, Error> {
        let mut batch = LineBatch {
            source: self.source.clone(),
            first_line: self.next_line,
            data: Vec::with_capacity(self.batch_bytes + 4096),
            ends: Vec::new(),
        };
        while batch.data.len() < self.batch_bytes {
            let before = batch.data.len();
            let n = self
                .reader
                .read_until(b'\n', &mut batch.data)
                .map_err(|source| Error::Sink { key: self.source.clone(), source })?;
            if n == 0 {
                break;
            }
            if batch.data.last() == Some(&b'\n') {
                batch.data.pop();
            }
            debug_assert!(batch.data.len() >= before);
            batch.ends.push(batch.data.len());
        }
        self.next_line += batch.ends.len() as u64;
        Ok((!batch.ends.is_empty()).then_some(batch))
    }
}
