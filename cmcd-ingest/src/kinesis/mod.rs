//! The long-running Kinesis consumer (feature `kinesis`): shards → ranges of records → lake
//! objects, exactly once, with checkpoints and leases in a file or a DynamoDB table.
//!
//! | module | job |
//! |---|---|
//! | [`aws`] | SDK clients with endpoint overrides |
//! | [`discovery`] | `ListShards` with paging |
//! | [`reader`] | one shard's `GetRecords` loop: rate limit, backoff, expired iterators |
//! | [`lease`] | lease/checkpoint items and the pure balancing decision ([`lease::plan`]) |
//! | [`lease_file`], [`lease_dynamo`], [`lease_store`] | the stores: `file://PATH`, `dynamodb://TABLE` |
//! | [`output`] | the encoder and sink traits a range goes through |
//! | [`lake`] | those traits over [`crate::range::encode_range`] and [`crate::store::ObjectStore`] |
//! | [`worker`] | one held shard: replay the pending range, read, write ranges, checkpoint |
//! | [`consumer`] | the process: discovery, leases, workers, progress, graceful stop |
//! | [`sequence`], [`backoff`], [`error`] | helpers |
//!
//! Exactly once: before a range's objects are written its `{first, last}` is recorded as
//! `pending` in the shard's item (conditional on holding the lease); after they are durable the
//! checkpoint moves to `last` and `pending` is cleared (same condition). The next owner replays
//! exactly the pending range first, producing the same objects. ARCHITECTURE.md has the full
//! argument.
//!
//! What it does not do: enhanced fan-out (`SubscribeToShard`), KPL de-aggregation, the
//! `sessions` table (session rows need state across ranges and shards; stream ranges write
//! `requests` and `quarantine` only), deleting lease items of shards that left the stream.

pub mod aws;
pub mod backoff;
pub mod consumer;
pub mod discovery;
pub mod error;
pub mod lake;
pub mod lease;
pub mod lease_dynamo;
pub mod lease_file;
pub mod lease_store;
pub mod output;
pub mod reader;
pub mod sequence;
pub mod worker;

pub use consumer::{Consumer, ConsumerConfig, Event, Outcome, Report, Snapshot, StopHandle};
pub use error::ConsumerError;
