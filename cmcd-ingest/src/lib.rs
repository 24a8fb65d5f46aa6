//! CloudFront real-time log lines with CMCD into a partitioned Parquet lake for Athena.
//!
//! The pipeline is pure inside and does its I/O at the rim:
//!
//! | module | job |
//! |---|---|
//! | [`field`] | the 69 real-time log fields in CloudFront's canonical order; [`field::FieldSet`] |
//! | [`line`] | one log line ⇄ a typed [`line::Record`] (parser and writer) |
//!
//! Bad lines never stop a run: they are quarantined with a stable [`Reason`] code.

pub mod error;
pub mod field;
pub mod line;

pub use error::{Error, Reason};

/// The version of `token-core` this crate builds on.
pub fn core_version() -> &'static str {
    token_core::VERSION
}
