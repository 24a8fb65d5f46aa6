//! CloudFront real-time log lines with CMCD into a partitioned Parquet lake for Athena.
//!
//! The pipeline is pure inside and does its I/O at the rim:
//!
//! | module | job |
//! |---|---|
//! | [`field`] | the 69 real-time log fields in CloudFront's canonical order; [`field::FieldSet`] |
//! | [`mod@line`] | one log line ⇄ a typed [`line::Record`] (parser and writer) |
//! | [`extract`] | the CMCD of a record (cells, query, headers) and the SMD token session id |
//! | [`request`] | a `requests` row: record + CMCD |
//! | [`schema`] | the one definition of both tables, and the Athena DDL generated from it |
//! | [`batch`] | column buffers of one table (a row group) |
//! | [`session`] | the session aggregator (state machine) and the QoE definitions |
//! | [`partition`] | `dt=…/hour=…` partitions and deterministic object names |
//! | [`sink`] | the [`sink::Sink`], [`sink::Encoder`] and [`sink::Source`] traits; local directory |
//! | [`pipeline`] | lines → row groups → objects, with bounded memory |
//! | [`queries`] | the canned QoE queries (Athena SQL text) |
//! | [`range`] | one contiguous range of a stream shard's records → its lake objects (pure) |
//! | `parquet` (feature `parquet`) | the Parquet encoder: the only pipeline module naming polars |
//! | `lake` (feature `parquet`) | reading the lake back: canned queries and polars SQL |
//! | `report` (feature `parquet`) | the self-contained HTML QoE report |
//! | `lambda` (feature `lambda`) | the Lambda ingest mode: Kinesis event batches → S3 lake, partial batch failures |
//! | `store` (feature `s3`) | the lake's object store (directory or S3) and crash-safe range writes |
//! | [`generate`] | the synthetic traffic generator |
//! | `kinesis` (feature `kinesis`) | the Kinesis consumer: shards, leases, checkpoints, ranges |
//!
//! Bad lines never stop a run: they are quarantined with a stable [`Reason`] code.
//!
//! # Features
//!
//! | feature | adds | pulls in |
//! |---|---|---|
//! | `parquet` (default) | `parquet`, `lake`, `report` | polars |
//! | `s3` | `store`: the object store (directory or S3) | aws-config, aws-sdk-s3, tokio |
//! | `lambda` | `lambda` and the `smd-ingest-lambda` binary | `s3`, `parquet`, lambda_runtime, serde |
//!
//! Without features the crate is the pure pipeline: no polars, no AWS SDK, no async runtime.
//! Nothing here polls a stream: the Lambda mode receives its records from the event-source
//! mapping, and a stream consumer hands its ranges to `range::encode_range` the same way.

pub mod batch;
#[cfg(feature = "parquet")]
mod compress;
#[cfg(feature = "parquet")]
mod dictionary_pages;
mod direct_file;
pub mod error;
pub mod extract;
pub mod field;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
#[cfg(feature = "kinesis")]
pub mod kinesis;
#[cfg(feature = "parquet")]
pub mod lake;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod line;
#[cfg(feature = "parquet")]
mod number_dictionary;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod partition;
pub mod pipeline;
pub mod queries;
pub mod range;
#[cfg(feature = "parquet")]
pub mod report;
pub mod request;
pub mod schema;
#[cfg(test)]
mod scratch;
pub mod session;
pub mod sink;
#[cfg(feature = "s3")]
pub mod store;
mod text;
#[cfg(feature = "parquet")]
mod text_pages;

pub use error::{Error, Reason};

/// The version of `token-core` this crate builds on.
pub fn core_version() -> &'static str {
    token_core::VERSION
}
