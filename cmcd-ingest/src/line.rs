//! One CloudFront real-time log line ⇄ a typed [`Record`]: the parser and, next to it, the
//! writer, so that writing a record and parsing the line gives the record back.
//!
//! # Line format (reference `cmcd.md` §4.1, §4.4)
//!
//! - One record per line, cells separated by TAB, in the canonical order of the configured
//!   [`FieldSet`]; a trailing LF or CRLF is ignored.
//! - `-` is null. An empty cell is the empty string.
//! - `timestamp` is epoch seconds with an optional fraction (`1714650000.123`), kept to the
//!   millisecond; the seconds fields (`time-taken`, `time-to-first-byte`, `origin-fbl`,
//!   `origin-lbl`) likewise. More than three fraction digits are rounded half up to the
//!   millisecond. The writer prints exactly three digits.
//! - BIGINT fields are non-negative decimal integers (≤ 18 digits).
//! - The header-derived text fields (`cs-user-agent`, `cs-referer`, `cs-cookie`, `cs-headers`,
//!   `cs-header-names`) are percent-encoded by CloudFront (`cs-headers` uses `%0A` between
//!   `name:value` pairs, §4.1) and are stored decoded; the writer encodes them again. Which
//!   fields CloudFront encodes beyond `cs-headers` is inferred from the standard-log encoding
//!   table (§4.5). `cs-uri-stem` and `cs-uri-query` are kept exactly as logged: they are
//!   URLs whose own percent-encoding the CMCD decoder undoes.
//!
//! # Quarantine
//!
//! A line is never trusted: its length is capped ([`MAX_LINE_LEN`]), its cell count must equal
//! the configuration's, and every typed cell must parse. Anything else is a [`Reason`].

use std::borrow::Cow;
use std::fmt::Write as _;

use wide::u8x32;

use crate::error::{Error, Reason};
use crate::field::{FIELD_COUNT, Field, FieldSet, Kind};

/// Longest accepted line, in bytes (CloudFront caps a record at about 1 KB of configured
/// fields plus three 800-byte header fields and long URLs; 64 KiB leaves room for all).
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// Latest accepted timestamp: 2100-01-01T00:00:00Z, in milliseconds.
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;

/// One typed cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cell<'a> {
    /// `-`, or a field the configuration does not log.
    #[default]
    Null,
    /// Text (decoded for [`Kind::EncodedText`]; raw for `cmcd-*` cells).
    Text(Cow<'a, str>),
    /// A BIGINT field.
    Int(i64),
    /// `timestamp` (epoch ms) or a seconds field (ms).
    Millis(i64),
}

impl Cell<'_> {
    /// The text, if any.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The integer, if any.
    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The milliseconds, if any.
    pub fn millis(&self) -> Option<i64> {
        match self {
            Self::Millis(n) => Some(*n),
            _ => None,
        }
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Self::Null => Cell::Null,
            Self::Text(t) => Cell::Text(Cow::Owned(t.into_owned())),
            Self::Int(n) => Cell::Int(n),
            Self::Millis(n) => Cell::Millis(n),
        }
    }
}

/// A typed log record: one [`Cell`] per field of the registry (null where not configured).
///
/// Two records are equal when their cells are: the logged length of `cs-headers` that a
/// parsed record also carries ([`Record::headers_logged_len`]) describes the line, not the
/// record.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    cells: [Cell<'a>; FIELD_COUNT],
    /// Bytes of the `cs-headers` cell as logged (percent-encoded), when the cell was parsed.
    headers_logged_len: Option<usize>,
}

impl PartialEq for Record<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cells == other.cells
    }
}

impl Eq for Record<'_> {}

impl Default for Record<'_> {
    fn default() -> Self {
        Self { cells: std::array::from_fn(|_| Cell::Null), headers_logged_len: None }
    }
}

impl<'a> Record<'a> {
    /// An all-null record with the given timestamp.
    pub fn new(timestamp_ms: i64) -> Self {
        let mut r = Self::default();
        r.set(Field::Timestamp, Cell::Millis(timestamp_ms));
        r
    }

    /// The cell of `field`.
    pub fn get(&self, field: Field) -> &Cell<'a> {
        // `Field` discriminants are < FIELD_COUNT by construction.
        self.cells.get(field.index()).unwrap_or(&Cell::Null)
    }

    /// Sets the cell of `field`.
    pub fn set(&mut self, field: Field, cell: Cell<'a>) {
        if let Some(slot) = self.cells.get_mut(field.index()) {
            *slot = cell;
        }
        if field == Field::CsHeaders {
            self.headers_logged_len = None;
        }
    }

    /// The length in bytes of the `cs-headers` cell as the line logged it (percent-encoded),
    /// for a record parsed from a line; `None` for a record built or changed otherwise. The
    /// 800-byte truncation of `cs-headers` applies to this length.
    pub fn headers_logged_len(&self) -> Option<usize> {
        self.headers_logged_len
    }

    /// The allocation of `field`'s decoded text, if it holds one (the cell becomes null):
    /// the next line's decoded text of the field is written into it.
    fn take_decoded(&mut self, field: Field) -> Option<String> {
        let slot = self.cells.get_mut(field.index())?;
        match std::mem::take(slot) {
            Cell::Text(Cow::Owned(text)) => Some(text),
            _ => None,
        }
    }

    /// Builder form of [`Record::set`].
    #[must_use]
    pub fn with(mut self, field: Field, cell: Cell<'a>) -> Self {
        self.set(field, cell);
        self
    }

    /// Text of `field`.
    pub fn text(&self, field: Field) -> Option<&str> {
        self.get(field).text()
    }

    /// Integer of `field`.
    pub fn int(&self, field: Field) -> Option<i64> {
        self.get(field).int()
    }

    /// Milliseconds of `field` (`timestamp` or a seconds field).
    pub fn millis(&self, field: Field) -> Option<i64> {
        self.get(field).millis()
    }

    /// The timestamp in epoch milliseconds (always present in a parsed record).
    pub fn timestamp_ms(&self) -> i64 {
        self.millis(Field::Timestamp).unwrap_or(0)
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            cells: self.cells.map(Cell::into_owned),
            headers_logged_len: self.headers_logged_len,
        }
    }
}

/// Parses one line (without or with its trailing LF/CRLF) against the configured fields.
///
/// # Errors
///
/// The [`Reason`] the line is quarantined for.
///
/// # Examples
///
/// ```
/// use cmcd_ingest::field::{Field, FieldSet};
/// use cmcd_ingest::line;
///
/// // Any order in the configuration; cells come in canonical order.
/// let fields = FieldSet::parse_names("timestamp,sc-status,cs-user-agent,time-taken")?;
/// let r = line::parse(&fields, b"1714650000.123\t200\t0.412\tcurl/8.0%20x\n").unwrap();
/// assert_eq!(r.timestamp_ms(), 1_714_650_000_123);
/// assert_eq!(r.int(Field::ScStatus), Some(200));
/// assert_eq!(r.text(Field::CsUserAgent), Some("curl/8.0 x"));
/// assert_eq!(r.millis(Field::TimeTaken), Some(412));
/// assert_eq!(line::parse(&fields, b"1714650000.123\t200").unwrap_err().code(), "field_count");
/// # Ok::<(), cmcd_ingest::Error>(())
/// ```
pub fn parse<'a>(fields: &FieldSet, line: &'a [u8]) -> Result<Record<'a>, Reason> {
    let mut record = Record::default();
    parse_into(fields, line, &mut record)?;
    Ok(record)
}

/// [`parse`] into an existing record, reusing its storage (a record is about 1.6 KB: moving
/// one per line costs more than filling it in place). Every cell is overwritten; cells of
/// fields `fields` does not configure become null. After an error the record's cells are
/// unspecified (but valid).
///
/// # Errors
///
/// The [`Reason`] the line is quarantined for.
pub fn parse_into<'a>(
    fields: &FieldSet,
    line: &'a [u8],
    record: &mut Record<'a>,
) -> Result<(), Reason> {
    parse_into_with(fields, line, record, &mut DecodeMemo::default())
}

/// [`parse_into`], reusing the decoded values of percent-encoded cells seen before (see
/// [`DecodeMemo`]). The record is the same as [`parse_into`]'s.
///
/// # Errors
///
/// The [`Reason`] the line is quarantined for.
pub fn parse_into_with<'a>(
    fields: &FieldSet,
    line: &'a [u8],
    record: &mut Record<'a>,
    memo: &mut DecodeMemo,
) -> Result<(), Reason> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE_LEN {
        return Err(Reason::TooLong);
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(Reason::Empty);
    }
    // Cell boundaries first (one pass over the line), so a wrong cell count is reported
    // before any cell is typed.
    let mut ends = [0usize; FIELD_COUNT];
    let n = find_tabs(line, &mut ends).ok_or(Reason::FieldCount)?;
    if n + 1 != fields.len() {
        return Err(Reason::FieldCount);
    }
    let line = simdutf8::basic::from_utf8(line).map_err(|_| Reason::BadUtf8)?;
    if fields.len() != FIELD_COUNT {
        for field in Field::ALL {
            if !fields.contains(field) {
                record.set(field, Cell::Null);
            }
        }
    }
    // The last cell ends at the end of the line (`n` < FIELD_COUNT: one more TAB than the
    // configuration's cells was refused above).
    if let Some(last) = ends.get_mut(n) {
        *last = line.len();
    }
    let mut start = 0;
    for (&field, &end) in fields.fields().iter().zip(&ends) {
        let cell = parse_cell(field, line, start..end, memo, record)?;
        record.set(field, cell);
        if field == Field::CsHeaders {
            record.headers_logged_len = Some(end - start);
        }
        start = end + 1;
    }
    if record.millis(Field::Timestamp).is_none() {
        return Err(Reason::BadTimestamp);
    }
    Ok(())
}

/// Writes the positions of the TAB bytes of `line` to `ends`, in order, and returns how many
/// there are; `None` when there are more than `ends` holds.
///
/// Thirty-two bytes at a time (vector compares and a bit mask: SSE2 on x86-64), the last
/// bytes one by one: a log line has a TAB every ~17 bytes, so a search call per TAB
/// (`memchr_iter`) spends more on starting searches than on searching, and eight bytes at a
/// time in a `u64` cost 3 % more of the ingest's instructions.
fn find_tabs(line: &[u8], ends: &mut [usize]) -> Option<usize> {
    let tab = u8x32::splat(b'\t');
    let mut n = 0;
    let mut found = |at: usize| -> Option<()> {
        *ends.get_mut(n)? = at;
        n += 1;
        Some(())
    };
    let mut blocks = line.chunks_exact(32);
    let mut base = 0;
    for block in &mut blocks {
        let bytes: [u8; 32] = block.try_into().ok()?;
        let mut tabs = u8x32::new(bytes).simd_eq(tab).to_bitmask();
        while tabs != 0 {
            found(base + tabs.trailing_zeros() as usize)?;
            tabs &= tabs - 1;
        }
        base += 32;
    }
    for (i, &b) in blocks.remainder().iter().enumerate() {
        if b == b'\t' {
            found(base + i)?;
        }
    }
    Some(n)
}

/// The cell of `field` at `at` in `line`. Null cells and numbers are read from the bytes;
/// only text cells are sliced as `str` (a `str` slice checks both ends for a char boundary,
/// which for every cell of a line was 2 % of an ingest's instructions).
fn parse_cell<'a>(
    field: Field,
    line: &'a str,
    at: std::ops::Range<usize>,
    memo: &mut DecodeMemo,
    record: &mut Record<'a>,
) -> Result<Cell<'a>, Reason> {
    let bytes = line.as_bytes().get(at.clone()).ok_or(Reason::FieldCount)?;
    if let [b'-'] = bytes {
        return Ok(Cell::Null);
    }
    // TAB is ASCII, so every cell boundary is a char boundary.
    let text = || line.get(at.clone()).ok_or(Reason::FieldCount);
    Ok(match field.kind() {
        Kind::Timestamp => Cell::Millis(
            parse_millis(bytes).filter(|&ms| ms <= MAX_TIMESTAMP_MS).ok_or(Reason::BadTimestamp)?,
        ),
        Kind::Seconds => Cell::Millis(parse_millis(bytes).ok_or(Reason::BadNumber)?),
        Kind::Integer => Cell::Int(parse_int(bytes).ok_or(Reason::BadNumber)?),
        Kind::Text | Kind::Cmcd => Cell::Text(Cow::Borrowed(text()?)),
        Kind::EncodedText => {
            Cell::Text(memo.decode_into(field, text()?, record.take_decoded(field)))
        }
    })
}

/// Decoded values of percent-encoded cells, by field and logged text, so that a value logged
/// again is copied instead of decoded again: a client sends the same user agent, and mostly
/// the same headers, with every request (on generated traffic the user-agent, header-name and
/// header cells with escapes repeat an earlier value in about 60–100 % of lines).
///
/// A direct-mapped table of [`DecodeMemo::SLOTS`] slots: a cell's slot is chosen from its field,
/// its length and three of its words; the slot keeps the last text that mapped to it, and is
/// reused only when the logged text is equal in full. A collision costs a decode, never a
/// wrong value. Texts longer than [`DecodeMemo::MAX_TEXT`] are not kept (memory stays under
/// about 4 MiB). The default memo has no slots and decodes every cell.
///
/// A field whose text changes on every line (`cs-headers` with CMCD headers, a query with a
/// CMCD payload) would only pay for the memo: the comparison, and two copies into the slot.
/// After [`DecodeMemo::MISSES_BEFORE_SKIP`] misses in a row of one field, its next
/// [`DecodeMemo::SKIP_CELLS`] cells are decoded without the memo; the cell after them tries
/// the memo again (a miss skips again at once, a hit starts the count over).
#[derive(Debug, Clone, Default)]
pub struct DecodeMemo {
    slots: Vec<MemoSlot>,
    /// Per field (by [`Field::index`]): its misses in a row, and its cells left to skip.
    streaks: Vec<Streak>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Streak {
    misses: u16,
    skip: u16,
}

#[derive(Debug, Clone, Default)]
struct MemoSlot {
    field: Option<Field>,
    raw: String,
    decoded: String,
}

impl DecodeMemo {
    /// Slots in the table.
    pub const SLOTS: usize = 1024;
    /// Longest logged text kept, in bytes.
    pub const MAX_TEXT: usize = 2048;
    /// Misses in a row after which a field's cells skip the memo.
    pub const MISSES_BEFORE_SKIP: u16 = 16;
    /// Cells of a field decoded without the memo after its misses.
    pub const SKIP_CELLS: u16 = 256;

    /// An empty memo with [`DecodeMemo::SLOTS`] slots.
    pub fn new() -> Self {
        Self::with_slots(Self::SLOTS)
    }

    fn with_slots(slots: usize) -> Self {
        Self {
            slots: vec![MemoSlot::default(); slots],
            streaks: vec![Streak::default(); FIELD_COUNT],
        }
    }

    /// `raw` percent-decoded ([`percent_decode`]), from the memo when it decoded the same
    /// text of `field` last in its slot.
    pub fn decode<'a>(&mut self, field: Field, raw: &'a str) -> Cow<'a, str> {
        self.decode_into(field, raw, None)
    }

    /// [`DecodeMemo::decode`]; a text from the memo is written into `spare` when given (the
    /// previous line's decoded cell: no allocation per line).
    fn decode_into<'a>(
        &mut self,
        field: Field,
        raw: &'a str,
        spare: Option<String>,
    ) -> Cow<'a, str> {
        if memchr::memchr(b'%', raw.as_bytes()).is_none() {
            return Cow::Borrowed(raw);
        }
        if self.slots.is_empty() || raw.len() > Self::MAX_TEXT {
            return Cow::Owned(decode_escaped(raw, spare));
        }
        let mut no_streak = Streak::default();
        let streak = self.streaks.get_mut(field.index()).unwrap_or(&mut no_streak);
        if streak.skip > 0 {
            streak.skip -= 1;
            return Cow::Owned(decode_escaped(raw, spare));
        }
        let at = slot_of(field, raw.as_bytes()) % self.slots.len();
        let Some(slot) = self.slots.get_mut(at) else {
            return Cow::Owned(decode_escaped(raw, spare));
        };
        if slot.field == Some(field) && slot.raw == raw {
            streak.misses = 0;
            let mut text = spare.unwrap_or_default();
            text.clear();
            text.push_str(&slot.decoded);
            return Cow::Owned(text);
        }
        streak.misses += 1;
        if streak.misses >= Self::MISSES_BEFORE_SKIP {
            // One more miss after the skip skips again.
            streak.misses = Self::MISSES_BEFORE_SKIP - 1;
            streak.skip = Self::SKIP_CELLS;
        }
        let decoded = decode_escaped(raw, spare);
        slot.field = Some(field);
        slot.raw.clear();
        slot.raw.push_str(raw);
        slot.decoded.clear();
        slot.decoded.push_str(&decoded);
        Cow::Owned(decoded)
    }
}

/// [`percent_decode`] of a text with escapes, written into `spare`'s allocation when given
/// (the previous line's decoded cell) instead of a new one.
fn decode_escaped(raw: &str, spare: Option<String>) -> String {
    let mut bytes = spare.map(String::into_bytes).unwrap_or_default();
    bytes.clear();
    token_core::cmcd::transport::percent_decode_append(raw.as_bytes(), false, &mut bytes);
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// A slot number for a cell: its field, length, and first, middle and last eight bytes, mixed.
fn slot_of(field: Field, raw: &[u8]) -> usize {
    let word = |at: usize| {
        raw.get(at..).and_then(|r| r.first_chunk::<8>()).map_or(0, |w| u64::from_le_bytes(*w))
    };
    let n = raw.len();
    let mut h = (n as u64) << 8 | field.index() as u64;
    for w in [word(0), word(n / 2), word(n.saturating_sub(8))] {
        h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
    }
    // The high bits mix the most input.
    (h >> 32) as usize
}

/// A non-negative decimal integer of at most 18 digits.
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    // At most 18 digits: no overflow.
    s.iter().try_fold(0i64, |n, &b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))
}

/// `seconds[.fraction]` → milliseconds, the fraction rounded half up to three digits: 1–12
/// digits of seconds, and after a `.` 1–9 digits of fraction. One pass over the bytes (five
/// cells of every line are parsed here).
pub(crate) fn parse_millis(s: &[u8]) -> Option<i64> {
    // A byte loop: these cells are a few bytes long, shorter than a `memchr` call's set-up.
    let (whole, frac) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (s.get(..dot)?, Some(s.get(dot + 1..)?)),
        None => (s, None),
    };
    if whole.is_empty() || whole.len() > 12 {
        return None;
    }
    let digit = |b: &u8| b.is_ascii_digit().then(|| i64::from(b - b'0'));
    // At most 12 digits: no overflow.
    let secs = whole.iter().try_fold(0i64, |n, b| Some(n * 10 + digit(b)?))?;
    let mut ms = 0i64;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        for (i, b) in frac.iter().enumerate() {
            let d = digit(b)?;
            match i {
                0..=2 => ms = ms * 10 + d,
                3 if d >= 5 => ms += 1,
                _ => {}
            }
        }
        // Fewer than three digits: scale up (`.5` is 500 ms).
        for _ in frac.len()..3 {
            ms *= 10;
        }
    }
    secs.checked_mul(1000)?.checked_add(ms)
}

/// Percent-decodes `%XX` sequences (a `%` without two hex digits stays as is; `+` stays `+`).
/// Invalid UTF-8 after decoding is replaced with U+FFFD.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    // `+` stays `+`: log fields are not form data.
    match token_core::cmcd::transport::percent_decode(s.as_bytes(), false) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(bytes) => Cow::Owned(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }),
    }
}

/// Bytes CloudFront percent-encodes in log fields: 0–32, 127 and above, and
/// `< > " # % { } | \ ^ ~ [ ] ` ' -` (`-` so that a value `-` is not read as null; the other
/// characters are the reference's §4.5 table). A table: this is asked for every byte of
/// `cs-headers`.
static ENCODED_BY_CLOUDFRONT: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b <= 32 || b >= 127;
        b += 1;
    }
    let special = b"<>\"#%{}|\\^~[]`'-";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

/// Whether CloudFront percent-encodes byte `b` in a log field (see [`percent_encode`]).
pub fn encoded_by_cloudfront(b: u8) -> bool {
    ENCODED_BY_CLOUDFRONT[usize::from(b)]
}

/// Percent-encodes what CloudFront encodes in log fields: bytes 0–32, 127 and above, and
/// `< > " # % { } | \ ^ ~ [ ] ` ' -` (`-` so that a value `-` is not read as null; the other
/// characters are the reference's §4.5 table).
pub fn percent_encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if encoded_by_cloudfront(b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
}

/// Writes `record` as one line (without the trailing LF) for `fields`: the inverse of
/// [`parse`].
///
/// # Errors
///
/// [`Error::Unrepresentable`] when a value cannot be logged so that it parses back: a cell of
/// the wrong kind for its field, a negative number, a missing timestamp, or text in a field
/// CloudFront does not encode that contains TAB, CR or LF, or equals `-`.
///
/// # Examples
///
/// ```
/// use std::borrow::Cow;
/// use cmcd_ingest::field::{Field, FieldSet};
/// use cmcd_ingest::line::{self, Cell, Record};
///
/// let fields = FieldSet::parse_names("timestamp,sc-status,cs-user-agent")?;
/// let record = Record::new(1_714_650_000_123)
///     .with(Field::ScStatus, Cell::Int(206))
///     .with(Field::CsUserAgent, Cell::Text(Cow::Borrowed("Player 1.0")));
/// let text = line::write(&fields, &record)?;
/// assert_eq!(text, "1714650000.123\t206\tPlayer%201.0");
/// assert_eq!(line::parse(&fields, text.as_bytes()).unwrap(), record);
/// # Ok::<(), cmcd_ingest::Error>(())
/// ```
pub fn write(fields: &FieldSet, record: &Record<'_>) -> Result<String, Error> {
    let mut out = String::with_capacity(256);
    write_into(fields, record, &mut out)?;
    Ok(out)
}

/// [`write()`] appending to `out` (no trailing LF); on error `out` may hold part of the line.
///
/// # Errors
///
/// As [`write()`].
pub fn write_into(fields: &FieldSet, record: &Record<'_>, out: &mut String) -> Result<(), Error> {
    for (i, &field) in fields.fields().iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        let bad = |value: String| Error::Unrepresentable { field: field.name(), value };
        match (field.kind(), record.get(field)) {
            (Kind::Timestamp, Cell::Null) => return Err(bad("null timestamp".into())),
            (_, Cell::Null) => out.push('-'),
            (Kind::Timestamp | Kind::Seconds, Cell::Millis(ms)) if *ms >= 0 => {
                if field == Field::Timestamp && *ms > MAX_TIMESTAMP_MS {
                    return Err(bad(ms.to_string()));
                }
                let _ = write!(out, "{}.{:03}", ms / 1000, ms % 1000);
            }
            (Kind::Integer, Cell::Int(n)) if *n >= 0 => {
                let _ = write!(out, "{n}");
            }
            (Kind::EncodedText, Cell::Text(t)) => percent_encode(t, out),
            (Kind::Text | Kind::Cmcd, Cell::Text(t)) => {
                if t.as_ref() == "-" || t.contains(['\t', '\r', '\n']) {
                    return Err(bad(t.to_string()));
                }
                out.push_str(t);
            }
            (_, other) => return Err(bad(format!("{other:?}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis() {
        assert_eq!(parse_millis(b"1714650000.123"), Some(1_714_650_000_123));
        assert_eq!(parse_millis(b"0.002"), Some(2));
        assert_eq!(parse_millis(b"1.5"), Some(1500));
        assert_eq!(parse_millis(b"7"), Some(7000));
        assert_eq!(parse_millis(b"0.0015"), Some(2));
        assert_eq!(parse_millis(b"0.0014"), Some(1));
        for bad in ["", ".5", "1.", "-1", "1e3", "1.2.3", " 1", "0x1", "1.1234567890"] {
            assert_eq!(parse_millis(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn encoding_round_trips() {
        for s in ["a b", "-", "100%", "x\ny", "é", "host:a\nuser-agent:b c"] {
            let mut enc = String::new();
            percent_encode(s, &mut enc);
            assert!(!enc.contains(['\t', '\n', ' ']));
            assert_eq!(percent_decode(&enc), s);
        }
    }

    #[test]
    fn writer_refuses_what_cannot_round_trip() {
        let fields = FieldSet::parse_names("timestamp,c-ip,sc-status").unwrap();
        let r = Record::new(1000).with(Field::CIp, Cell::Text("a\tb".into()));
        assert_eq!(write(&fields, &r).unwrap_err().code(), "unrepresentable");
        let r = Record::new(1000).with(Field::ScStatus, Cell::Text("x".into()));
        assert!(write(&fields, &r).is_err());
        let r = Record::new(1000).with(Field::ScStatus, Cell::Int(-1));
        assert!(write(&fields, &r).is_err());
        assert!(write(&fields, &Record::default()).is_err());
    }

    #[test]
    fn quarantine_reasons() {
        let fields = FieldSet::parse_names("timestamp,sc-status,time-taken").unwrap();
        let cases: &[(&[u8], Reason)] = &[
            (b"", Reason::Empty),
            (b"  \r\n", Reason::Empty),
            (b"1.0\t200", Reason::FieldCount),
            (b"1.0\t200\t0.1\t-", Reason::FieldCount),
            (b"-\t200\t0.1", Reason::BadTimestamp),
            (b"abc\t200\t0.1", Reason::BadTimestamp),
            (b"9999999999.0\t200\t0.1", Reason::BadTimestamp),
            (b"1.0\t2x0\t0.1", Reason::BadNumber),
            (b"1.0\t200\t-0.1", Reason::BadNumber),
            (b"1.0\t\xff\t0.1", Reason::BadUtf8),
        ];
        for (line, reason) in cases {
            assert_eq!(parse(&fields, line), Err(*reason), "{}", String::from_utf8_lossy(line));
        }
        let long = format!("1.0\t200\t{}", "1".repeat(MAX_LINE_LEN));
        assert_eq!(parse(&fields, long.as_bytes()), Err(Reason::TooLong));
        // More tabs than the registry has fields: still a count error, not a panic.
        let many = "1.0\t".repeat(FIELD_COUNT + 5);
        assert_eq!(parse(&fields, many.as_bytes()), Err(Reason::FieldCount));
    }

    /// Byte-at-a-time decoding: the definition the fast decoder must match.
    fn naive_percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
            if b[i] == b'%'
                && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
            {
                out.push(u8::try_from(h * 16 + l).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The definition the one-pass parser must match, written with std's parsers.
    fn naive_millis(s: &str) -> Option<i64> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if s.contains('.') && (frac.is_empty() || frac.len() > 9) {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: i64 = whole.parse().ok()?;
        let padded = format!("{frac:0<3}");
        let mut ms: i64 = padded[..3].parse().ok()?;
        if frac.as_bytes().get(3).is_some_and(|d| *d >= b'5') {
            ms += 1;
        }
        secs.checked_mul(1000)?.checked_add(ms)
    }

    /// A memo of two slots, so that the tests collide often.
    fn tiny_memo() -> DecodeMemo {
        DecodeMemo::with_slots(2)
    }

    #[test]
    fn the_memo_reuses_only_an_equal_text_of_the_same_field() {
        let mut memo = DecodeMemo::new();
        let ua = "Mozilla/5.0%20(X11)%20dash.js/4.7";
        assert_eq!(memo.decode(Field::CsUserAgent, ua), "Mozilla/5.0 (X11) dash.js/4.7");
        assert!(memo.slots.iter().any(|s| s.raw == ua), "kept");
        assert_eq!(memo.decode(Field::CsUserAgent, ua), "Mozilla/5.0 (X11) dash.js/4.7");
        // The same text in another field, and texts equal in length, first, middle and last
        // eight bytes (the same slot) but not in full: decoded, never taken from the memo.
        assert_eq!(memo.decode(Field::CsReferer, ua), "Mozilla/5.0 (X11) dash.js/4.7");
        let a = "%41%42%43%44XYZW1234abcd5678%45%46%47%48";
        let b = "%41%42%43%44XYZW4321abcd5678%45%46%47%48";
        assert_eq!(
            slot_of(Field::CsHeaders, a.as_bytes()),
            slot_of(Field::CsHeaders, b.as_bytes())
        );
        assert_eq!(memo.decode(Field::CsHeaders, a), "ABCDXYZW1234abcd5678EFGH");
        assert_eq!(memo.decode(Field::CsHeaders, b), "ABCDXYZW4321abcd5678EFGH");
        assert_eq!(memo.decode(Field::CsHeaders, a), "ABCDXYZW1234abcd5678EFGH");
        // Text without escapes is borrowed; text longer than the cap is decoded, not kept.
        assert!(matches!(memo.decode(Field::CsHeaders, "plain"), Cow::Borrowed("plain")));
        let long = "%20".repeat(DecodeMemo::MAX_TEXT);
        assert_eq!(memo.decode(Field::CsCookie, &long), " ".repeat(DecodeMemo::MAX_TEXT));
        assert!(memo.slots.iter().all(|s| s.raw.len() <= DecodeMemo::MAX_TEXT));
    }

    /// A field that misses on every cell stops using the memo after
    /// [`DecodeMemo::MISSES_BEFORE_SKIP`] misses, tries it again after
    /// [`DecodeMemo::SKIP_CELLS`] cells, and other fields keep using it; every text is decoded
    /// right whichever way it went.
    #[test]
    fn a_field_that_always_misses_skips_the_memo() {
        let mut memo = DecodeMemo::new();
        let kept = |memo: &DecodeMemo, raw: &str| memo.slots.iter().any(|s| s.raw == raw);
        let headers = |i: usize| format!("host:a%0Acmcd-request:bl={i}");
        let misses = usize::from(DecodeMemo::MISSES_BEFORE_SKIP);
        for i in 0..misses {
            assert_eq!(
                memo.decode(Field::CsHeaders, &headers(i)),
                format!("host:a\ncmcd-request:bl={i}")
            );
            assert!(kept(&memo, &headers(i)), "cell {i} is kept");
        }
        let skipped = usize::from(DecodeMemo::SKIP_CELLS);
        for i in misses..misses + skipped {
            assert_eq!(
                memo.decode(Field::CsHeaders, &headers(i)),
                format!("host:a\ncmcd-request:bl={i}")
            );
            assert!(!kept(&memo, &headers(i)), "cell {i} skips the memo");
        }
        // Another field is not affected.
        let ua = "Mozilla/5.0%20(X11)";
        assert_eq!(memo.decode(Field::CsUserAgent, ua), "Mozilla/5.0 (X11)");
        assert!(kept(&memo, ua));
        // After the skip the memo is tried again: a miss skips again at once.
        let next = misses + skipped;
        assert_eq!(
            memo.decode(Field::CsHeaders, &headers(next)),
            format!("host:a\ncmcd-request:bl={next}")
        );
        assert!(kept(&memo, &headers(next)), "tried again");
        assert_eq!(
            memo.decode(Field::CsHeaders, &headers(next + 1)),
            format!("host:a\ncmcd-request:bl={}", next + 1)
        );
        assert!(!kept(&memo, &headers(next + 1)), "skipping again");
        // A field whose text repeats keeps hitting.
        let mut memo = DecodeMemo::new();
        for _ in 0..1000 {
            assert_eq!(memo.decode(Field::CsUserAgent, ua), "Mozilla/5.0 (X11)");
        }
        assert_eq!(memo.streaks.get(Field::CsUserAgent.index()).map(|s| s.skip), Some(0));
    }

    #[test]
    fn a_record_is_the_same_with_and_without_a_memo() {
        let fields = FieldSet::parse_names("timestamp,cs-user-agent,cs-headers").unwrap();
        let lines = [
            "1714650000.5\tcurl/8%20x\thost:a%0Aaccept:*/*",
            "1714650001.5\tcurl/8%20x\thost:a%0Aaccept:*/*",
            "1714650002.5\tcurl/8%20y\t-",
            "1714650003.5\tcurl/8%20x\thost:a%0Aaccept:*/*",
        ];
        let mut memo = tiny_memo();
        let mut record = Record::default();
        for line in lines {
            parse_into_with(&fields, line.as_bytes(), &mut record, &mut memo).unwrap();
            assert_eq!(record, parse(&fields, line.as_bytes()).unwrap(), "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn millis_match_the_definition(s in "[0-9]{0,14}(\\.[0-9]{0,11})?[.0-9a ]{0,2}") {
            proptest::prop_assert_eq!(parse_millis(s.as_bytes()), naive_millis(&s));
        }

        #[test]
        fn tabs_found_like_memchr(line in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b'\t'),
                proptest::strategy::Just(0x89u8),
                proptest::strategy::Just(0x08u8),
                proptest::arbitrary::any::<u8>(),
            ],
            0..400,
        )) {
            let expected: Vec<usize> = memchr::memchr_iter(b'\t', &line).collect();
            let mut ends = [0usize; FIELD_COUNT];
            match find_tabs(&line, &mut ends) {
                Some(n) => proptest::prop_assert_eq!(ends.get(..n).unwrap(), expected.as_slice()),
                None => proptest::prop_assert!(expected.len() > FIELD_COUNT),
            }
        }

        /// Whatever the order of repeats and collisions, a memo decodes like `percent_decode`.
        #[test]
        fn the_memo_decodes_like_percent_decode(
            picks in proptest::collection::vec((0usize..3, 0usize..6), 1..200),
            pool in proptest::collection::vec("([a-z%]|%[0-9A-F]{2}){0,12}", 6),
        ) {
            let fields = [Field::CsUserAgent, Field::CsHeaders, Field::CsCookie];
            let mut memo = tiny_memo();
            for (f, p) in picks {
                let raw = &pool[p];
                proptest::prop_assert_eq!(memo.decode(fields[f], raw), percent_decode(raw));
            }
        }

        /// A spare buffer handed in (the previous line's text) never leaks into the result.
        #[test]
        fn the_memo_ignores_what_the_spare_held(
            picks in proptest::collection::vec((0usize..3, 0usize..6, "[a-z%é]{0,20}"), 1..200),
            pool in proptest::collection::vec("([a-z%é]|%[0-9A-F]{2}){0,12}", 6),
        ) {
            let fields = [Field::CsUserAgent, Field::CsHeaders, Field::CsCookie];
            let mut memo = tiny_memo();
            for (f, p, spare) in picks {
                let raw = &pool[p];
                let got = memo.decode_into(fields[f], raw, Some(spare));
                proptest::prop_assert_eq!(got, percent_decode(raw));
            }
        }

        #[test]
        fn percent_decode_matches_the_definition(s in "([%0-9a-fA-FgG+ é]|%[0-9a-fA-F]{0,2}){0,40}") {
            proptest::prop_assert_eq!(percent_decode(&s).into_owned(), naive_percent_decode(&s));
        }

        /// Cells are split exactly like `str::split('\t')` would, and a wrong count of cells
        /// is always a count error.
        #[test]
        fn cells_split_like_str_split(cells in proptest::collection::vec("[a-z%0-9-]{0,6}", 1..6)) {
            let fields = FieldSet::parse_names("timestamp,c-ip,cs-method,x-edge-location").unwrap();
            let mut cells = cells;
            cells.insert(0, "1714650000.5".to_owned());
            let line = cells.join("\t");
            let got = parse(&fields, line.as_bytes());
            if cells.len() == fields.len() {
                let r = got.unwrap();
                fn cell(f: Field, raw: &str) -> Cell<'_> {
                    let mut scratch = Record::default();
                    parse_cell(f, raw, 0..raw.len(), &mut DecodeMemo::default(), &mut scratch)
                        .unwrap()
                }
                proptest::prop_assert_eq!(r.get(Field::CIp), &cell(Field::CIp, &cells[1]));
                proptest::prop_assert_eq!(r.get(Field::CsMethod), &cell(Field::CsMethod, &cells[2]));
                proptest::prop_assert_eq!(
                    r.get(Field::XEdgeLocation),
                    &cell(Field::XEdgeLocation, &cells[3])
                );
            } else {
                proptest::prop_assert_eq!(got, Err(Reason::FieldCount));
            }
        }
    }
}
