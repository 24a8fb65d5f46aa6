//! CloudFront real-time log lines into a partitioned Parquet lake.
//!
//! Not built yet beyond this placeholder: the log-line parser, the tables and the Parquet writer
//! live here once the ingest work lands. The crate exists so the workspace layout is complete and
//! the dependency direction (`cmcd-ingest` → `token-core`) is enforced from day one.

/// The version of `token-core` this crate builds on.
pub fn core_version() -> &'static str {
    token_core::VERSION
}
