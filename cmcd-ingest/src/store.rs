//! The lake's object store (feature `s3`): one async interface over a local directory and S3,
//! and crash-safe replacement of a stream range's objects ([`ObjectStore::write_range`]).
//!
//! | module | job |
//! |---|---|
//! | [`location`] | `s3://bucket/prefix` or a directory; key checks |
//! | [`retry`] | bounded attempts with exponential backoff and jitter |
//! | [`dir`] | the directory backend (temporary file, fsync, rename, fsync of the directory) |
//! | [`s3`] | the S3 backend (`aws-sdk-s3`): single PUT or multipart, list, delete, get |
//! | [`manifest`] | the per-range manifest that makes a retried range replace, never add |
//!
//! **Durable** means: the directory backend has renamed an fsynced file into place and fsynced
//! the directory; the S3 backend has seen `PutObject` or `CompleteMultipartUpload` succeed.
//! Only then does [`ObjectStore::put`] return `Ok`.
//!
//! # What this does not do
//!
//! - It does not serialise writers. Two processes writing the *same* range at the same time
//!   (a stolen lease whose old owner is still running) can interleave their manifest updates;
//!   the stream consumer's lease table is what prevents that.
//! - It does not retry the directory backend (local I/O errors are not transient) and does not
//!   retry S3 errors that say the request itself is wrong (`NoSuchBucket`, `AccessDenied`):
//!   those fail at once with [`StoreError::Rejected`].
//! - It keeps no cache and no local state: every call goes to the backend.

pub mod dir;
pub mod location;
pub mod manifest;
pub mod retry;
pub mod s3;

use std::path::PathBuf;

pub use location::Location;
pub use manifest::RangeWrite;
pub use retry::RetryPolicy;
pub use s3::S3Options;

/// An error of the object store, naming the key it was about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The lake location is neither `s3://bucket[/prefix]` nor a directory path.
    #[error("bad lake location {0:?}: expected s3://bucket[/prefix] or a directory")]
    BadLocation(String),
    /// An object key that is empty, absolute, or has an empty, `.` or `..` segment.
    #[error("bad object key {0:?}")]
    BadKey(String),
    /// A retryable failure (throttling, 5xx, timeout, connection) persisted through every
    /// attempt.
    #[error("{operation} {key}: gave up after {attempts} attempts: {message}")]
    Exhausted {
        /// The operation (`put`, `get`, `list`, `delete`, `upload_part`, …).
        operation: &'static str,
        /// The object key (or list prefix), relative to the lake.
        key: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// A failure that retrying cannot fix (no such bucket, access denied, bad request).
    #[error("{operation} {key}: {message}")]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// The object key (or list prefix), relative to the lake.
        key: String,
        /// What the backend said.
        message: String,
    },
    /// A local file system operation failed.
    #[error("{operation} {key}: {source}")]
    Io {
        /// The operation.
        operation: &'static str,
        /// The object key, relative to the lake.
        key: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A range manifest that is not what [`manifest`] writes.
    #[error("manifest {key} cannot be read: {message}")]
    BadManifest {
        /// The manifest's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl StoreError {
    /// The stable code: `bad_location`, `bad_key`, `store_unavailable` (retries exhausted),
    /// `store_rejected`, `store_io`, `bad_manifest`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BadLocation(_) => "bad_location",
            Self::BadKey(_) => "bad_key",
            Self::Exhausted { .. } => "store_unavailable",
            Self::Rejected { .. } => "store_rejected",
            Self::Io { .. } => "store_io",
            Self::BadManifest { .. } => "bad_manifest",
        }
    }

    /// Whether the same call may succeed later (the backend was unavailable, not wrong).
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Exhausted { .. } | Self::Io { .. })
    }
}

/// The lake: a local directory or an S3 bucket and prefix. Keys are relative to it
/// (`requests/dt=…/hour=…/part-….parquet`).
#[derive(Debug, Clone)]
pub enum ObjectStore {
    /// A local directory.
    Dir(dir::DirStore),
    /// An S3 bucket and prefix.
    S3(s3::S3Store),
}

impl ObjectStore {
    /// Opens the lake at `location` (`s3://bucket[/prefix]` or a directory path); `options`
    /// configure the S3 client (ignored for a directory).
    ///
    /// # Errors
    ///
    /// [`StoreError::BadLocation`].
    pub async fn open(location: &str, options: &S3Options) -> Result<Self, StoreError> {
        Ok(match Location::parse(location)? {
            Location::Dir(path) => Self::Dir(dir::DirStore::new(path)),
            Location::S3 { bucket, prefix } => {
                Self::S3(s3::S3Store::connect(bucket, prefix, options).await)
            }
        })
    }

    /// A directory store (no I/O until used).
    pub fn dir(root: impl Into<PathBuf>) -> Self {
        Self::Dir(dir::DirStore::new(root.into()))
    }

    /// Stores `bytes` under `key`, replacing any object there; returns once it is durable.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadKey`], [`StoreError::Exhausted`], [`StoreError::Rejected`],
    /// [`StoreError::Io`].
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        location::check_key(key)?;
        match self {
            Self::Dir(d) => d.put(key, bytes).await,
            Self::S3(s) => s.put(key, bytes).await,
        }
    }

    /// The object under `key`, or `None` when there is none.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::put`].
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        location::check_key(key)?;
        match self {
            Self::Dir(d) => d.get(key).await,
            Self::S3(s) => s.get(key).await,
        }
    }

    /// Every key that starts with `prefix` (`""` for all), sorted.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::put`] (except `BadKey`).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = match self {
            Self::Dir(d) => d.list(prefix).await?,
            Self::S3(s) => s.list(prefix).await?,
        };
        keys.sort_unstable();
        Ok(keys)
    }

    /// Deletes the object under `key`; deleting a missing object succeeds.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::put`].
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        location::check_key(key)?;
        match self {
            Self::Dir(d) => d.delete(key).await,
            Self::S3(s) => s.delete(key).await,
        }
    }

    /// Writes the objects of one stream range (shard `shard`, first sequence number
    /// `first_sequence`) so that they replace those of every earlier attempt at the same range,
    /// through the range's manifest (see [`manifest`]). Returns once every object is durable and
    /// the leftovers of earlier attempts are gone.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::put`], and [`StoreError::BadManifest`]. After an error, some objects may
    /// exist; the manifest lists them all, so the next attempt at the range removes those it
    /// does not write again.
    pub async fn write_range(
        &self,
        shard: &str,
        first_sequence: &str,
        objects: Vec<(String, Vec<u8>)>,
    ) -> Result<RangeWrite, StoreError> {
        manifest::write_range(self, shard, first_sequence, objects).await
    }
}
