//! Errors of the pipeline ([`Error`]) and reasons a log line is quarantined ([`Reason`]).

use std::fmt;

/// Why a log line was not turned into a row. The codes are stable: they label the quarantine
/// output and the run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The line is empty (or only whitespace).
    Empty,
    /// The line is longer than [`crate::line::MAX_LINE_LEN`] bytes.
    TooLong,
    /// The line is not UTF-8.
    BadUtf8,
    /// The number of tab-separated cells differs from the configured field count.
    FieldCount,
    /// `timestamp` is missing, not `seconds[.fraction]`, or outside 1970–2100.
    BadTimestamp,
    /// A BIGINT or seconds field does not hold a non-negative decimal number.
    BadNumber,
    /// A stream record whose payload could not be decoded into lines at all (the Lambda
    /// event's `data` is not base64).
    BadPayload,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Self; 7] = [
        Self::BadNumber,
        Self::BadPayload,
        Self::BadTimestamp,
        Self::BadUtf8,
        Self::Empty,
        Self::FieldCount,
        Self::TooLong,
    ];

    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::BadUtf8 => "bad_utf8",
            Self::FieldCount => "field_count",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadNumber => "bad_number",
            Self::BadPayload => "bad_payload",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An error of the ingest pipeline: bad configuration, a sink or encoder failure. Bad *lines*
/// are not errors: they are quarantined with a [`Reason`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field name that is not one of the CloudFront real-time log fields.
    #[error("unknown CloudFront real-time log field {0:?}")]
    UnknownField(String),
    /// A field named twice in the configuration.
    #[error("field {0:?} is listed twice")]
    DuplicateField(String),
    /// The configuration lacks `timestamp`, which partitions every row.
    #[error("the field list must include timestamp")]
    MissingTimestamp,
    /// The real-time log configuration JSON could not be read.
    #[error("bad real-time log configuration: {0}")]
    Config(String),
    /// A value cannot be written as a log cell (for instance a tab in a field CloudFront does
    /// not encode).
    #[error("field {field} cannot hold the value {value:?} in a log line")]
    Unrepresentable {
        /// The field name.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// A batch or source identity contains characters not allowed in object names.
    #[error("invalid object name component {0:?}")]
    BadName(String),
    /// The sink failed to store an object.
    #[error("storing {key}: {source}")]
    Sink {
        /// The object key.
        key: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A line source (a file or standard input) could not be read.
    #[error("reading {input}")]
    Read {
        /// The input's name.
        input: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The encoder (Parquet writer) failed.
    #[error("encoding {table}: {message}")]
    Encode {
        /// The table name.
        table: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Reading the lake back (query, report) failed.
    #[error("query: {0}")]
    Query(String),
    /// A stream range without records (of the named shard): it has no first sequence number
    /// to name its objects by.
    #[error("empty record range of shard {0:?}")]
    EmptyRange(String),
}

impl Error {
    /// The stable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownField(_) => "unknown_field",
            Self::DuplicateField(_) => "duplicate_field",
            Self::MissingTimestamp => "missing_timestamp",
            Self::Config(_) => "config",
            Self::Unrepresentable { .. } => "unrepresentable",
            Self::BadName(_) => "bad_name",
            Self::Sink { .. } => "sink",
            Self::Read { .. } => "read",
            Self::Encode { .. } => "encode",
            Self::Query(_) => "query",
            Self::EmptyRange(_) => "empty_range",
        }
    }

    /// Whether retrying the same operation may succeed (sink I/O only).
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Sink { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_sorted_and_unique() {
        let codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }
}
