//! The checkpoint and lease store named by `--checkpoints`: `file://PATH` ([`FileLeases`], one
//! process) or `dynamodb://TABLE` ([`DynamoLeases`], shared by many).

use super::error::ConsumerError;
use super::lease::{Checkpoint, Held, Lease, PendingRange};
use super::lease_dynamo::DynamoLeases;
use super::lease_file::FileLeases;

/// Where checkpoints and leases live.
#[derive(Debug)]
pub enum LeaseStore {
    /// A local JSON file (one process).
    File(FileLeases),
    /// A DynamoDB table (many processes).
    Dynamo(DynamoLeases),
}

/// A parsed `--checkpoints` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUri {
    /// `file://PATH`.
    File(String),
    /// `dynamodb://TABLE`.
    Dynamo(String),
}

impl StoreUri {
    /// Parses `file://PATH` or `dynamodb://TABLE` (a DynamoDB table name: 3–255 of
    /// `[A-Za-z0-9_.-]`).
    ///
    /// # Errors
    ///
    /// `bad_checkpoint_uri`.
    pub fn parse(text: &str) -> Result<Self, ConsumerError> {
        let bad = || ConsumerError::BadCheckpointUri(text.to_owned());
        if let Some(path) = text.strip_prefix("file://") {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Self::File(path.to_owned()));
        }
        if let Some(table) = text.strip_prefix("dynamodb://") {
            let ok = (3..=255).contains(&table.len())
                && table.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            return if ok { Ok(Self::Dynamo(table.to_owned())) } else { Err(bad()) };
        }
        Err(bad())
    }
}

impl LeaseStore {
    /// Every item.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn list(&self) -> Result<Vec<Lease>, ConsumerError> {
        match self {
            Self::File(f) => f.list(),
            Self::Dynamo(d) => d.list().await,
        }
    }

    /// Creates the item of `shard` unless it exists.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn ensure(&self, shard: &str, parents: &[String]) -> Result<(), ConsumerError> {
        match self {
            Self::File(f) => f.ensure(shard, parents),
            Self::Dynamo(d) => d.ensure(shard, parents).await,
        }
    }

    /// Takes a lease if it is still as observed; `None` when someone else moved it first.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn take(
        &self,
        observed: &Lease,
        me: &str,
        expires_ms: i64,
    ) -> Result<Option<Lease>, ConsumerError> {
        match self {
            Self::File(f) => f.take(observed, me, expires_ms),
            Self::Dynamo(d) => d.take(observed, me, expires_ms).await,
        }
    }

    /// Extends a held lease; `false` when it was lost.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn renew(&self, held: &Held, expires_ms: i64) -> Result<bool, ConsumerError> {
        match self {
            Self::File(f) => f.renew(held, expires_ms),
            Self::Dynamo(d) => d.renew(held, expires_ms).await,
        }
    }

    /// Records the intent to write a range; `false` when the lease was lost.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn set_pending(
        &self,
        held: &Held,
        range: &PendingRange,
    ) -> Result<bool, ConsumerError> {
        match self {
            Self::File(f) => f.set_pending(held, range),
            Self::Dynamo(d) => d.set_pending(held, range).await,
        }
    }

    /// Sets the checkpoint and clears the pending range; `false` when the lease was lost.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn checkpoint(
        &self,
        held: &Held,
        checkpoint: &Checkpoint,
    ) -> Result<bool, ConsumerError> {
        match self {
            Self::File(f) => f.checkpoint(held, checkpoint),
            Self::Dynamo(d) => d.checkpoint(held, checkpoint).await,
        }
    }

    /// Gives a lease up; `false` when it was already lost.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn release(&self, held: &Held) -> Result<bool, ConsumerError> {
        match self {
            Self::File(f) => f.release(held),
            Self::Dynamo(d) => d.release(held).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(StoreUri::parse("file://cp.json").unwrap(), StoreUri::File("cp.json".into()));
        assert_eq!(
            StoreUri::parse("dynamodb://smd-leases").unwrap(),
            StoreUri::Dynamo("smd-leases".into())
        );
        for bad in ["cp.json", "file://", "dynamodb://a", "dynamodb://a b c", "s3://x"] {
            assert_eq!(StoreUri::parse(bad).unwrap_err().code(), "bad_checkpoint_uri", "{bad}");
        }
    }
}
