//! The ingest pipeline: lines → [`Request`]s → `requests` row groups per partition, `sessions`
//! per closed hour, quarantined lines — encoded by an [`Encoder`] and stored in a [`Sink`].
//!
//! Memory is bounded by the buffers, not by the input: each open partition holds at most one
//! row group of rows (`row_group_rows`), at most `max_open_partitions` partitions are open (the
//! least recently used one is closed first), and the session aggregator holds only the open
//! hours. A `requests` file (rolled at `file_bytes`) goes to its object as it is encoded
//! ([`Sink::create`], [`Sink::commit`]): a directory sink holds only a write buffer of it, an
//! in-memory sink the file so far.
//!
//! By default each object is named by the position of its first row. [`Pipeline::single_batch`]
//! switches to naming every object by one batch id (a stream range: shard and first sequence
//! number), with a `-N` suffix for the second and later objects of a table and partition, and
//! writes no `sessions` (see [`crate::range`]).

use std::collections::BTreeMap;

use crate::batch::Batch;
use crate::error::{Error, Reason};
use crate::field::FieldSet;
use crate::line::DecodeMemo;
use crate::partition::{BatchId, Partition};
use crate::request::Request;
use crate::schema::{self, Table};
use crate::session::{Aggregator, SessionBatch};
use crate::sink::{CountingWriter, EncodedFile, Encoder, LineBatch, Sink};

/// Most rows [`Pipeline::push_batch`] appends to the row buffers in one go, column by column.
pub const COLUMN_BLOCK_ROWS: usize = 256;

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Rows per row group (default 32,768).
    pub row_group_rows: usize,
    /// A file is finished once it holds this many bytes (default 128 MiB).
    pub file_bytes: u64,
    /// Partitions with open files at most (default 2: real-time logs are nearly in time order,
    /// so at most the current and the previous hour are being written).
    pub max_open_partitions: usize,
    /// Allowed lateness of rows for the session aggregator (default 10 minutes).
    pub lateness_ms: i64,
    /// A quarantine object is finished at this size (default 16 MiB).
    pub quarantine_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            row_group_rows: 32_768,
            file_bytes: 128 * 1024 * 1024,
            max_open_partitions: 2,
            lateness_ms: crate::session::DEFAULT_LATENESS_MS,
            quarantine_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Where a line came from.
#[derive(Debug, Clone, Copy)]
pub enum Position<'a> {
    /// Line `number` (1-based) of the input named `source`.
    Line {
        /// The source name.
        source: &'a str,
        /// The line number.
        number: u64,
    },
    /// A stream record: `shard` and its `sequence` number.
    Record {
        /// The shard id.
        shard: &'a str,
        /// The sequence number.
        sequence: &'a str,
    },
}

impl Position<'_> {
    /// The batch id of an object whose first row is this line.
    ///
    /// # Errors
    ///
    /// [`Error::BadName`] for names that cannot be object-name segments.
    pub fn batch_id(&self) -> Result<BatchId, Error> {
        match *self {
            Self::Line { source, number } => BatchId::line(source, number),
            Self::Record { shard, sequence } => BatchId::new(shard, sequence),
        }
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines read.
    pub lines: u64,
    /// Bytes of the lines read, without line ends (of a line longer than
    /// [`crate::line::MAX_LINE_LEN`], the bytes kept of it: see [`crate::sink::ReaderSource`]).
    pub bytes: u64,
    /// Rows written to `requests`.
    pub rows: u64,
    /// Quarantined lines by reason code.
    pub quarantined: BTreeMap<&'static str, u64>,
    /// Rows whose request carried CMCD.
    pub cmcd_rows: u64,
    /// Rows whose CMCD payload was rejected as a whole.
    pub cmcd_errors: u64,
    /// Rows whose `cs-headers` was truncated.
    pub headers_truncated: u64,
    /// Rows with an SMD session id.
    pub smd_rows: u64,
    /// Rows written to `sessions`.
    pub session_rows: u64,
    /// Rows too late for their hour's sessions.
    pub late_rows: u64,
    /// Objects written per table (`requests`, `sessions`, `quarantine`).
    pub objects: BTreeMap<&'static str, u64>,
    /// Bytes written per table.
    pub object_bytes: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// All quarantined lines.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }
}

struct OpenPartition<F> {
    rows: Batch,
    /// The file being written and its object key.
    file: Option<(String, F)>,
    /// Batch id of the first row of the file being filled (or of the buffered rows).
    first: Option<BatchId>,
    last_use: u64,
}

/// One input of [`Pipeline::push_inputs`].
#[derive(Debug, Clone, Copy)]
pub enum Input<'l> {
    /// A log line, without its line end.
    Line(&'l [u8]),
    /// Something a transport delivered that is not a line at all, quarantined whole for the
    /// reason given (see [`Pipeline::reject`]).
    Reject(&'l [u8], Reason),
}

/// A `requests` file of encoder `E`, written to an object of sink `S` through a byte count.
type RequestsFile<E, S> = <E as Encoder>::File<CountingWriter<<S as Sink>::Object>>;

/// The pipeline (see the module docs).
pub struct Pipeline<E: Encoder, S: Sink> {
    fields: FieldSet,
    config: Config,
    encoder: E,
    sink: S,
    open: BTreeMap<Partition, OpenPartition<RequestsFile<E, S>>>,
    aggregator: Aggregator,
    /// Decoded values of percent-encoded cells seen before.
    memo: DecodeMemo,
    /// First line of each hour with sessions, naming its `sessions` object.
    session_ids: BTreeMap<Partition, BatchId>,
    quarantine: String,
    quarantine_first: Option<BatchId>,
    tick: u64,
    stats: Stats,
    written: Vec<String>,
    /// `Some` in single-batch mode: the id naming every object.
    single: Option<BatchId>,
    /// Single-batch mode: objects already named per (table, partition), for the `-N` suffix.
    names_used: BTreeMap<(&'static str, Option<Partition>), u32>,
}

impl<E: Encoder, S: Sink> std::fmt::Debug for Pipeline<E, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl<E: Encoder, S: Sink> Pipeline<E, S> {
    /// A pipeline for lines of `fields`.
    pub fn new(fields: FieldSet, config: Config, encoder: E, sink: S) -> Self {
        let aggregator = Aggregator::new(config.lateness_ms);
        Self {
            fields,
            config,
            encoder,
            sink,
            open: BTreeMap::new(),
            aggregator,
            memo: DecodeMemo::new(),
            session_ids: BTreeMap::new(),
            quarantine: String::new(),
            quarantine_first: None,
            tick: 0,
            stats: Stats::default(),
            written: Vec::new(),
            single: None,
            names_used: BTreeMap::new(),
        }
    }

    /// Single-batch mode: every object is named by `id` (the first one of a table and partition
    /// `part-<source>-<first>.<ext>`, later ones `part-<source>-<first>-<N>.<ext>`, N = 1, 2, …
    /// in write order), and no `sessions` are written, since sessions need state beyond one
    /// batch. The same lines in the same order give the same names.
    #[must_use]
    pub fn single_batch(mut self, id: BatchId) -> Self {
        self.single = Some(id);
        self
    }

    /// The key of a new object of `table` in `partition` whose first row came from `first`.
    fn object_key(
        &mut self,
        table: &'static str,
        partition: Option<Partition>,
        first: &BatchId,
        ext: &str,
    ) -> String {
        let Some(id) = &self.single else { return first.object_key(table, partition, ext) };
        let n = self.names_used.entry((table, partition)).or_default();
        let key = id.object_key(table, partition, ext);
        let key = match *n {
            0 => key,
            n => {
                let stem = key.strip_suffix(ext).and_then(|k| k.strip_suffix('.')).unwrap_or(&key);
                format!("{stem}-{n}.{ext}")
            }
        };
        *n += 1;
        key
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Keys of the objects written so far, in write order.
    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// Pushes every line of a batch.
    ///
    /// Same result as [`Pipeline::push`] line by line; faster: the rows of consecutive lines of
    /// one partition are appended to the row buffers column by column, up to
    /// [`COLUMN_BLOCK_ROWS`] at a time.
    ///
    /// # Errors
    ///
    /// Encoder and sink errors (bad lines are quarantined, not errors).
    pub fn push_batch(&mut self, batch: &LineBatch) -> Result<(), Error> {
        let source = batch.source.as_str();
        self.push_inputs(
            batch
                .lines()
                .map(|(number, line)| (Input::Line(line), Position::Line { source, number })),
        )
    }

    /// Pushes inputs, each with its position, in order: the same result as [`Pipeline::push`]
    /// and [`Pipeline::reject`] one by one, with the block appending of
    /// [`Pipeline::push_batch`].
    ///
    /// # Errors
    ///
    /// Encoder and sink errors (bad lines are quarantined, not errors).
    pub fn push_inputs<'l, 'p>(
        &mut self,
        inputs: impl IntoIterator<Item = (Input<'l>, Position<'p>)>,
    ) -> Result<(), Error> {
        // Lines are parsed in place into the block's slots, which are reused line after line:
        // `block[..used]` holds the accepted requests not yet appended, all of one partition.
        let mut block: Vec<Request<'l>> = Vec::with_capacity(COLUMN_BLOCK_ROWS);
        let mut used = 0;
        let mut block_partition = None;
        for (input, at) in inputs {
            let line = match input {
                Input::Line(line) => line,
                Input::Reject(raw, reason) => {
                    // Quarantine only: the rows waiting in the block are not affected.
                    self.reject(raw, reason, at)?;
                    continue;
                }
            };
            if used == block.len() {
                block.push(Request::default());
            }
            let Some(slot) = block.get_mut(used) else { continue };
            if !self.accept(line, at, slot)? {
                continue;
            }
            let p = slot.partition();
            if block_partition != Some(p) {
                if let Some(q) = block_partition {
                    self.append_rows(q, block.get(..used).unwrap_or_default())?;
                    block.swap(0, used);
                    used = 0;
                }
                block_partition = Some(p);
            }
            let buffered = self.open_partition(p, at)?;
            used += 1;
            if used >= COLUMN_BLOCK_ROWS || buffered + used >= self.row_group_rows() {
                self.append_rows(p, block.get(..used).unwrap_or_default())?;
                used = 0;
            }
            self.write_closed_sessions()?;
        }
        if let Some(p) = block_partition {
            self.append_rows(p, block.get(..used).unwrap_or_default())?;
        }
        Ok(())
    }

    /// Pushes one line.
    ///
    /// # Errors
    ///
    /// Encoder and sink errors (bad lines are quarantined, not errors).
    pub fn push(&mut self, line: &[u8], at: Position<'_>) -> Result<(), Error> {
        let mut request = Request::default();
        if !self.accept(line, at, &mut request)? {
            return Ok(());
        }
        let p = request.partition();
        self.open_partition(p, at)?;
        self.append_rows(p, std::slice::from_ref(&request))?;
        self.write_closed_sessions()
    }

    fn row_group_rows(&self) -> usize {
        self.config.row_group_rows.max(1)
    }

    /// Parses a line into `slot`, counts it and feeds the session aggregator; `false` when it
    /// was quarantined.
    fn accept<'l>(
        &mut self,
        line: &'l [u8],
        at: Position<'_>,
        slot: &mut Request<'l>,
    ) -> Result<bool, Error> {
        self.stats.lines += 1;
        self.stats.bytes += line.len() as u64;
        if let Err(reason) = slot.parse_into_with(&self.fields, line, &mut self.memo) {
            self.quarantine(line, reason, at)?;
            return Ok(false);
        }
        let request = &*slot;
        self.stats.rows += 1;
        let c = &request.cmcd;
        self.stats.cmcd_rows += u64::from(c.origin.is_some());
        self.stats.cmcd_errors += u64::from(c.error.is_some());
        self.stats.headers_truncated += u64::from(c.headers_truncated);
        self.stats.smd_rows += u64::from(request.smd_session_id.is_some());
        if self.single.is_none() {
            let p = request.partition();
            if request.cmcd.sid.is_some() && !self.session_ids.contains_key(&p) {
                self.session_ids.insert(p, at.batch_id()?);
            }
            self.aggregator.push(request);
        }
        Ok(true)
    }

    /// Makes `p` an open partition whose next row is the line at `at` (naming its file when
    /// it starts one); returns the rows it has buffered.
    fn open_partition(&mut self, p: Partition, at: Position<'_>) -> Result<usize, Error> {
        self.tick += 1;
        if !self.open.contains_key(&p) {
            self.make_room()?;
        }
        let rows = self.row_group_rows();
        let part = self.open.entry(p).or_insert_with(|| OpenPartition {
            // Buffers grow to a row group as rows arrive (and keep their size after a
            // flush); a short range never pays for a full row group.
            rows: Batch::new(schema::requests(), rows.min(1024)),
            file: None,
            first: None,
            last_use: 0,
        });
        part.last_use = self.tick;
        if part.first.is_none() {
            part.first = Some(at.batch_id()?);
        }
        Ok(part.rows.len())
    }

    /// Appends the requests of `block` (all of partition `p`, opened by
    /// [`Pipeline::open_partition`]) to its row buffers, writing a row group when they hold
    /// `row_group_rows` rows.
    fn append_rows(&mut self, p: Partition, block: &[Request<'_>]) -> Result<(), Error> {
        if block.is_empty() {
            return Ok(());
        }
        let rows = self.row_group_rows();
        if let Some(part) = self.open.get_mut(&p) {
            part.rows.push_rows(block);
            if part.rows.len() >= rows {
                self.flush_rows(p, false)?;
            }
        }
        Ok(())
    }

    fn write_closed_sessions(&mut self) -> Result<(), Error> {
        if self.aggregator.has_closable() {
            for batch in self.aggregator.drain_closed() {
                self.write_sessions(batch)?;
            }
        }
        Ok(())
    }

    /// Quarantines one input that is not a line at all (for instance a stream record whose
    /// payload could not be decoded) with `reason`; it counts as a line read.
    ///
    /// # Errors
    ///
    /// Sink errors.
    pub fn reject(&mut self, raw: &[u8], reason: Reason, at: Position<'_>) -> Result<(), Error> {
        self.stats.lines += 1;
        self.stats.bytes += raw.len() as u64;
        self.quarantine(raw, reason, at)
    }

    fn quarantine(&mut self, line: &[u8], reason: Reason, at: Position<'_>) -> Result<(), Error> {
        *self.stats.quarantined.entry(reason.code()).or_default() += 1;
        if self.quarantine_first.is_none() {
            self.quarantine_first = Some(at.batch_id()?);
        }
        let (source, position) = match at {
            Position::Line { source, number } => (source.to_owned(), number.to_string()),
            Position::Record { shard, sequence } => (shard.to_owned(), sequence.to_owned()),
        };
        let record = serde_json::json!({
            "reason": reason.code(),
            "source": source,
            "position": position,
            "line": String::from_utf8_lossy(line),
        });
        self.quarantine.push_str(&record.to_string());
        self.quarantine.push('\n');
        if self.quarantine.len() >= self.config.quarantine_bytes {
            self.flush_quarantine()?;
        }
        Ok(())
    }

    fn flush_quarantine(&mut self) -> Result<(), Error> {
        let Some(id) = self.quarantine_first.take() else { return Ok(()) };
        let key = self.object_key("quarantine", None, &id, "jsonl");
        let bytes = std::mem::take(&mut self.quarantine).into_bytes();
        self.put("quarantine", key, bytes)
    }

    fn put(&mut self, table: &'static str, key: String, bytes: Vec<u8>) -> Result<(), Error> {
        let len = bytes.len() as u64;
        self.sink.put(&key, bytes)?;
        self.count_object(table, len);
        self.written.push(key);
        Ok(())
    }

    fn count_object(&mut self, table: &'static str, bytes: u64) {
        *self.stats.objects.entry(table).or_default() += 1;
        *self.stats.object_bytes.entry(table).or_default() += bytes;
    }

    /// Closes least recently used partitions until one more may open.
    fn make_room(&mut self) -> Result<(), Error> {
        while self.open.len() >= self.config.max_open_partitions.max(1) {
            let Some(oldest) = self.open.iter().min_by_key(|(_, o)| o.last_use).map(|(p, _)| *p)
            else {
                break;
            };
            self.flush_rows(oldest, true)?;
            self.open.remove(&oldest);
        }
        Ok(())
    }

    /// Writes the buffered rows of `p` as a row group; finishes the file when it is full or
    /// when `close`. The file goes to its object as it is encoded (not held in memory).
    fn flush_rows(&mut self, p: Partition, close: bool) -> Result<(), Error> {
        let ext = self.encoder.extension();
        let Some(part) = self.open.get(&p) else { return Ok(()) };
        if !part.rows.is_empty() && part.file.is_none() {
            let Some(id) = part.first.clone() else { return Ok(()) };
            let key = self.object_key("requests", Some(p), &id, ext);
            // Counted here as well: the object's size includes what `finish` writes.
            let object = CountingWriter::new(self.sink.create(&key)?);
            let file =
                self.encoder.create(schema::requests(), object).map_err(|e| keyed(e, &key))?;
            if let Some(part) = self.open.get_mut(&p) {
                part.file = Some((key, file));
            }
        }
        let Some(part) = self.open.get_mut(&p) else { return Ok(()) };
        if !part.rows.is_empty() {
            if let Some((key, file)) = part.file.as_mut() {
                file.write(&mut part.rows).map_err(|e| keyed(e, key))?;
            }
            part.rows.clear();
        }
        let full = part.file.as_ref().is_some_and(|(_, f)| f.bytes() >= self.config.file_bytes);
        if (full || close)
            && let Some((key, file)) = part.file.take()
        {
            part.first = None;
            let object = file.finish().map_err(|e| keyed(e, &key))?;
            let bytes = object.tally().written();
            self.sink.commit(&key, object.into_inner())?;
            self.count_object("requests", bytes);
            self.written.push(key);
        }
        Ok(())
    }

    fn write_sessions(&mut self, batch: SessionBatch) -> Result<(), Error> {
        let p = batch.partition;
        let Some(id) = self.session_ids.remove(&p) else { return Ok(()) };
        if batch.rows.is_empty() {
            return Ok(());
        }
        let table: &'static Table = schema::sessions();
        let mut file = self.encoder.create(table, Vec::new())?;
        for chunk in batch.rows.chunks(self.config.row_group_rows.max(1)) {
            let mut b = Batch::new(table, chunk.len());
            for row in chunk {
                b.push_row(|col| row.datum(col.source));
            }
            file.write(&mut b)?;
        }
        self.stats.session_rows += batch.rows.len() as u64;
        let key = self.object_key("sessions", Some(p), &id, self.encoder.extension());
        self.put("sessions", key, file.finish()?)
    }

    /// Flushes everything and returns the counters and the sink.
    ///
    /// # Errors
    ///
    /// Encoder and sink errors.
    pub fn finish(mut self) -> Result<(Stats, S), Error> {
        let parts: Vec<Partition> = self.open.keys().copied().collect();
        for p in parts {
            self.flush_rows(p, true)?;
        }
        self.open.clear();
        for batch in self.aggregator.finish() {
            self.write_sessions(batch)?;
        }
        self.flush_quarantine()?;
        self.stats.late_rows = self.aggregator.late_rows();
        Ok((self.stats, self.sink))
    }
}

/// An encoder's output error (a sink error without a key) with the object's key filled in.
fn keyed(e: Error, key: &str) -> Error {
    match e {
        Error::Sink { key: k, source } if k.is_empty() => {
            Error::Sink { key: key.to_owned(), source }
        }
        e => e,
    }
}
