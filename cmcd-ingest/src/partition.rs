//! Partitions (`dt=YYYY-MM-DD/hour=HH`, UTC, from the log timestamp) and deterministic object
//! names.
//!
//! An object's name is fixed by the identity of its input, never by a clock or a random number:
//! `<table>/dt=<date>/hour=<HH>/part-<source>-<first>.<ext>`, where `source` names the input
//! (a file name, a Kinesis shard id) and `first` is the position in that input of the first row
//! the object holds (a line number, a sequence number). Ingesting the same input again
//! produces the same objects with the same names, so a retried upload overwrites instead of
//! duplicating.

use std::fmt;

use crate::error::Error;

/// One hour of UTC time: the Hive partition of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    /// Hours since the Unix epoch.
    hours: i64,
}

impl Partition {
    /// The partition of an epoch-millisecond timestamp.
    pub const fn of_millis(ms: i64) -> Self {
        Self { hours: ms.div_euclid(3_600_000) }
    }

    /// The first millisecond of the hour.
    pub const fn start_ms(self) -> i64 {
        self.hours * 3_600_000
    }

    /// The first millisecond of the next hour.
    pub const fn end_ms(self) -> i64 {
        (self.hours + 1) * 3_600_000
    }

    /// `(year, month, day, hour)` in UTC.
    pub fn ymdh(self) -> (i64, u32, u32, u32) {
        let days = self.hours.div_euclid(24);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0..24
        let hour = self.hours.rem_euclid(24) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, hour)
    }

    /// `YYYY-MM-DD`.
    pub fn date(self) -> String {
        let (y, m, d, _) = self.ymdh();
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// The hour, `0..=23`.
    pub fn hour(self) -> u32 {
        self.ymdh().3
    }

    /// `dt=YYYY-MM-DD/hour=HH`.
    pub fn path(self) -> String {
        format!("dt={}/hour={:02}", self.date(), self.hour())
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 1..=31, 1..=12
    (if m <= 2 { y + 1 } else { y }, m as u32, d as u32)
}

/// The identity of a run of input: which source, and the position of its first element.
/// Both parts become object-name segments, so they are restricted to `[A-Za-z0-9_-]`
/// (1–128 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId {
    source: String,
    first: String,
}

fn check_segment(s: &str) -> Result<(), Error> {
    if (1..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(Error::BadName(s.to_owned()))
    }
}

impl BatchId {
    /// A batch id from a source name and a position, both `[A-Za-z0-9_-]{1,128}` (a Kinesis
    /// shard id and sequence number qualify as they are).
    ///
    /// # Errors
    ///
    /// [`Error::BadName`].
    pub fn new(source: impl Into<String>, first: impl Into<String>) -> Result<Self, Error> {
        let (source, first) = (source.into(), first.into());
        check_segment(&source)?;
        check_segment(&first)?;
        Ok(Self { source, first })
    }

    /// A line-numbered input: the position is the 1-based line number, zero-padded to 12
    /// digits so names sort in input order.
    ///
    /// # Errors
    ///
    /// [`Error::BadName`] when `source` is not a valid segment (see [`source_name`]).
    pub fn line(source: &str, line: u64) -> Result<Self, Error> {
        Self::new(source, format!("{line:012}"))
    }

    /// The source name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The position of the first element.
    pub fn first(&self) -> &str {
        &self.first
    }

    /// The object key for `table` in `partition` (`ext` without the dot).
    pub fn object_key(&self, table: &str, partition: Option<Partition>, ext: &str) -> String {
        match partition {
            Some(p) => format!("{table}/{}/part-{}-{}.{ext}", p.path(), self.source, self.first),
            None => format!("{table}/part-{}-{}.{ext}", self.source, self.first),
        }
    }
}

/// A source name for an input file: its file name with every character outside
/// `[A-Za-z0-9_-]` replaced by `-` (`cf-2024-05-02.log` → `cf-2024-05-02-log`), truncated to 100
/// characters; `stdin` for `-`.
pub fn source_name(file_name: &str) -> String {
    if file_name == "-" {
        return "stdin".to_owned();
    }
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let mut s: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' })
        .take(100)
        .collect();
    if s.is_empty() {
        s.push_str("input");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_from_timestamps() {
        // 1714650000 = 2024-05-02T11:40:00Z (date -u -d @1714650000).
        let p = Partition::of_millis(1_714_650_000_123);
        assert_eq!(p.path(), "dt=2024-05-02/hour=11");
        assert_eq!(Partition::of_millis(0).path(), "dt=1970-01-01/hour=00");
        // 951868799 = 2000-02-29T23:59:59Z (leap day).
        assert_eq!(Partition::of_millis(951_868_799_000).path(), "dt=2000-02-29/hour=23");
        assert_eq!(p.end_ms() - p.start_ms(), 3_600_000);
    }

    #[test]
    fn names() {
        let id = BatchId::line(&source_name("logs/cf 2024.log"), 42).unwrap();
        assert_eq!(
            id.object_key("requests", Some(Partition::of_millis(0)), "parquet"),
            "requests/dt=1970-01-01/hour=00/part-cf-2024-log-000000000042.parquet"
        );
        assert!(
            BatchId::new(
                "shardId-000000000000",
                "49590338271490256608559692538361571095921575989136588898"
            )
            .is_ok()
        );
        assert!(BatchId::new("../x", "1").is_err());
        assert!(BatchId::new("a", "").is_err());
        assert_eq!(source_name("-"), "stdin");
    }
}
