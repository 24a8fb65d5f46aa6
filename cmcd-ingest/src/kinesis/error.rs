//! Errors of the Kinesis consumer, each with a stable [`ConsumerError::code`].

/// An error of the consumer: bad arguments, a Kinesis, DynamoDB or checkpoint-file failure that
/// retries did not cure, or a lake write that failed for good.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// A `--checkpoints` value that is neither `dynamodb://TABLE` nor `file://PATH`.
    #[error("bad checkpoint store {0:?}: use dynamodb://TABLE or file://PATH")]
    BadCheckpointUri(String),
    /// A `--start` value that is not `trim-horizon`, `latest` or `at-timestamp=RFC3339`.
    #[error(
        "bad start position {0:?}: use trim-horizon, latest or at-timestamp=2024-05-02T11:00:00Z"
    )]
    BadStart(String),
    /// Another process holds the checkpoint file.
    #[error(
        "checkpoint file {0} is in use by another process (file:// checkpoints serve one process; use dynamodb:// to share a stream)"
    )]
    CheckpointLocked(String),
    /// The checkpoint file could not be read or written.
    #[error("checkpoint file {path}: {source}")]
    CheckpointFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The checkpoint file holds something else than checkpoints.
    #[error("checkpoint file {path} is not a checkpoint file: {reason}")]
    CheckpointFormat {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A Kinesis call failed for good (after retries where retrying makes sense).
    #[error("kinesis {operation}: {message}")]
    Kinesis {
        /// The API operation (`ListShards`, `GetRecords`, …).
        operation: &'static str,
        /// The service's error code and message.
        message: String,
    },
    /// A DynamoDB call on the lease table failed for good.
    #[error("dynamodb {operation}: {message}")]
    Dynamo {
        /// The API operation.
        operation: &'static str,
        /// The service's error code and message.
        message: String,
    },
    /// A lease item in the table lacks an attribute or has one of the wrong type.
    #[error("lease table item {shard:?}: {reason}")]
    BadLeaseItem {
        /// The shard id of the item.
        shard: String,
        /// What is wrong.
        reason: String,
    },
    /// Encoding a range into lake objects failed.
    #[error("encoding shard {shard} range from {first}: {source}")]
    Encode {
        /// The shard.
        shard: String,
        /// The first sequence number of the range.
        first: String,
        /// The cause.
        source: crate::Error,
    },
    /// A pending range could not be replayed: its records are no longer in the stream.
    #[error("shard {shard}: pending range {first}..={last} cannot be replayed: {reason}")]
    Replay {
        /// The shard.
        shard: String,
        /// First sequence number of the pending range.
        first: String,
        /// Last sequence number of the pending range.
        last: String,
        /// What happened.
        reason: String,
    },
    /// A task of the consumer ended abnormally.
    #[error("consumer task failed: {0}")]
    Task(String),
}

impl ConsumerError {
    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadCheckpointUri(_) => "bad_checkpoint_uri",
            Self::BadStart(_) => "bad_start",
            Self::CheckpointLocked(_) => "checkpoint_locked",
            Self::CheckpointFile { .. } => "checkpoint_io",
            Self::CheckpointFormat { .. } => "checkpoint_format",
            Self::Kinesis { .. } => "kinesis",
            Self::Dynamo { .. } => "dynamodb",
            Self::BadLeaseItem { .. } => "bad_lease_item",
            Self::Encode { .. } => "encode",
            Self::Replay { .. } => "replay",
            Self::Task(_) => "task",
        }
    }
}
