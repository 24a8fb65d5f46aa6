//! The S3 backend (`aws-sdk-s3`).
//!
//! - `put`: one `PutObject` up to [`S3Options::multipart_threshold`], above it a multipart
//!   upload in parts of [`S3Options::part_size`] (at least 5 MiB, S3's minimum), each part with
//!   a CRC32 checksum that `CompleteMultipartUpload` repeats; on failure the upload is aborted,
//!   so no parts are left billed.
//! - Every call is retried by [`RetryPolicy`] (the SDK's own retries are turned off, so the
//!   attempts are bounded and counted in one place) when the failure is throttling (HTTP 429,
//!   `SlowDown`, `Throttling…`), a 5xx, a timeout, a connection failure or a broken response.
//!   Other errors (`NoSuchBucket`, `AccessDenied`, …) fail at once.
//! - The client uses the default AWS credential chain and region chain unless
//!   [`S3Options`] names an endpoint (local servers), a region or path-style addressing.

use std::future::Future;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};

use super::{RetryPolicy, StoreError};

/// S3 client settings.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Endpoint URL (a local server such as `http://127.0.0.1:5000`); `None`: AWS (or the
    /// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` environment variables).
    pub endpoint: Option<String>,
    /// Region; `None`: the default region chain (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), for local servers (default false).
    pub path_style: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// Objects larger than this go up as multipart uploads (default 16 MiB).
    pub multipart_threshold: usize,
    /// Multipart part size (default 8 MiB; raised to 5 MiB if smaller).
    pub part_size: usize,
    /// Time allowed for one attempt of one call (default 120 s).
    pub attempt_timeout: Duration,
    /// Time allowed to connect (default 5 s).
    pub connect_timeout: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            path_style: false,
            retry: RetryPolicy::default(),
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            attempt_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;

/// A lake in an S3 bucket under a prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    retry: RetryPolicy,
    multipart_threshold: usize,
    part_size: usize,
}

/// One failed attempt, classified.
struct Failure {
    retryable: bool,
    message: String,
}

fn classify<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            status >= 500
                || status == 429
                || matches!(
                    ctx.err().code(),
                    Some(
                        "SlowDown"
                            | "Throttling"
                            | "ThrottlingException"
                            | "RequestTimeout"
                            | "RequestTimeoutException"
                            | "InternalError"
                            | "ServiceUnavailable"
                    )
                )
        }
        _ => false,
    };
    Failure { retryable, message: DisplayErrorContext(err).to_string() }
}

impl S3Store {
    /// A store for `bucket` under `prefix`, with a client built from `options` and the default
    /// credential chain.
    pub async fn connect(bucket: String, prefix: String, options: &S3Options) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = &options.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = &options.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(options.path_style)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(options.connect_timeout)
                    .operation_attempt_timeout(options.attempt_timeout)
                    .build(),
            )
            .build();
        Self::from_client(Client::from_conf(config), bucket, prefix, options)
    }

    /// A store over an existing client (its own retry settings add to [`S3Options::retry`]).
    pub fn from_client(
        client: Client,
        bucket: String,
        prefix: String,
        options: &S3Options,
    ) -> Self {
        Self {
            client,
            bucket,
            prefix: prefix.trim_matches('/').to_owned(),
            retry: options.retry,
            multipart_threshold: options.multipart_threshold,
            part_size: options.part_size.max(MIN_PART_SIZE),
        }
    }

    /// The SDK client (for what the store does not do, such as creating buckets in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The S3 key of a lake key.
    fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts are used up.
    async fn retrying<T, F, Fut>(
        &self,
        operation: &'static str,
        key: &str,
        mut attempt: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let max = self.retry.max_attempts.max(1);
        let mut n = 1;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(f) if !f.retryable => {
                    return Err(StoreError::Rejected {
                        operation,
                        key: key.to_owned(),
                        message: f.message,
                    });
                }
                Err(f) if n >= max => {
                    return Err(StoreError::Exhausted {
                        operation,
                        key: key.to_owned(),
                        attempts: n,
                        message: f.message,
                    });
                }
                Err(_) => {
                    tokio::time::sleep(self.retry.pause(n)).await;
                    n += 1;
                }
            }
        }
    }

    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        if bytes.len() > self.multipart_threshold {
            return self.put_multipart(key, bytes).await;
        }
        let full = &self.full(key);
        let body = &bytes::Bytes::from(bytes);
        self.retrying("put", key, || async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(full)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&e))
        })
        .await
    }

    async fn put_multipart(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let full = &self.full(key);
        let upload_id = &self
            .retrying("create_multipart_upload", key, || async move {
                let out = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(full)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                out.upload_id
                    .ok_or_else(|| Failure { retryable: true, message: "no UploadId".into() })
            })
            .await?;
        let result = self.upload_parts(key, full, upload_id, bytes::Bytes::from(bytes)).await;
        if result.is_err() {
            // Best effort: a failed abort leaves parts that a bucket lifecycle rule
            // (AbortIncompleteMultipartUpload) removes; the upload error is what counts.
            let _ = self
                .retrying("abort_multipart_upload", key, || async move {
                    self.client
                        .abort_multipart_upload()
                        .bucket(&self.bucket)
                        .key(full)
                        .upload_id(upload_id)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| classify(&e))
                })
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        full: &str,
        upload_id: &str,
        bytes: bytes::Bytes,
    ) -> Result<(), StoreError> {
        let mut parts = Vec::new();
        let mut start = 0;
        let mut number = 1i32;
        while start < bytes.len() {
            let end = (start + self.part_size).min(bytes.len());
            let body = &bytes.slice(start..end);
            let part = self
                .retrying("upload_part", key, || async move {
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&self.bucket)
                        .key(full)
                        .upload_id(upload_id)
                        .part_number(number)
                        .checksum_algorithm(ChecksumAlgorithm::Crc32)
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await
                        .map_err(|e| classify(&e))?;
                    Ok(CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag)
                        .set_checksum_crc32(out.checksum_crc32)
                        .build())
                })
                .await?;
            parts.push(part);
            start = end;
            number += 1;
        }
        let upload = &CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        self.retrying("complete_multipart_upload", key, || async move {
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(upload_id)
                .multipart_upload(upload.clone())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&e))
        })
        .await
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let full = &self.full(key);
        self.retrying("get", key, || async move {
            let out = match self.client.get_object().bucket(&self.bucket).key(full).send().await {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                    return Ok(None);
                }
                Err(e) => return Err(classify(&e)),
            };
            let body = out.body.collect().await.map_err(|e| Failure {
                retryable: true,
                message: format!("reading the body: {}", DisplayErrorContext(&e)),
            })?;
            Ok(Some(body.into_bytes().to_vec()))
        })
        .await
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let full = &self.full(key);
        self.retrying("delete", key, || async move {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(full)
                .send()
                .await
                .map(drop)
                .map_err(|e| classify(&e))
        })
        .await
    }

    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let full = &self.full(prefix);
        let strip = if self.prefix.is_empty() { 0 } else { self.prefix.len() + 1 };
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let continuation = &token;
            let page = self
                .retrying("list", prefix, || async move {
                    self.client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(full)
                        .set_continuation_token(continuation.clone())
                        .send()
                        .await
                        .map_err(|e| classify(&e))
                })
                .await?;
            for object in page.contents() {
                if let Some(k) = object.key().and_then(|k| k.get(strip..)) {
                    keys.push(k.to_owned());
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(keys),
            }
        }
    }
}
