//! Uploads the local code packages (and large templates) to the artifacts bucket, creating the
//! bucket when needed. Keys are content-addressed (`smd/<sha256 prefix>/<file name>`), so the
//! same zip always lands on the same key and a changed zip always gets a new one, which is what
//! makes CloudFormation publish a new Lambda@Edge version.
//!
//! It never deletes anything from the bucket.

use std::path::Path;

use anyhow::Context as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use sha2::{Digest as _, Sha256};

use super::{Target, describe};

/// The content-addressed key of `bytes` named `name`.
pub(crate) fn key_for(bytes: &[u8], name: &str) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("smd/{hex}/{name}")
}

/// The default artifacts bucket: `smd-artifacts-<account>-<region>`.
pub(crate) async fn default_bucket(target: &Target) -> anyhow::Result<String> {
    let who = target.sts().get_caller_identity().send().await.map_err(|e| {
        anyhow::anyhow!("finding the AWS account (sts get-caller-identity): {}", describe(&e))
    })?;
    let account = who.account().context("sts get-caller-identity returned no account")?;
    Ok(format!("smd-artifacts-{account}-{}", target.region()?))
}

/// Creates `bucket` in the target's region unless it exists.
pub(crate) async fn ensure_bucket(target: &Target, bucket: &str) -> anyhow::Result<()> {
    let s3 = target.s3();
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let region = target.region()?;
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    create
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("creating the artifacts bucket {bucket}: {}", describe(&e)))?;
    errln!("created artifacts bucket s3://{bucket}");
    Ok(())
}

/// Uploads `bytes` to `bucket/key`.
pub(crate) async fn put(
    target: &Target,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<()> {
    target
        .s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("uploading s3://{bucket}/{key}: {}", describe(&e)))?;
    Ok(())
}

/// Uploads the file at `path` under its content-addressed key; returns the key.
pub(crate) async fn upload_file(
    target: &Target,
    bucket: &str,
    path: &Path,
) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("{} is not a file", path.display()))?;
    let key = key_for(&bytes, &name);
    let size = bytes.len();
    put(target, bucket, &key, bytes).await?;
    errln!("uploaded {} ({size} bytes) to s3://{bucket}/{key}", path.display());
    Ok(key)
}

/// The URL CloudFormation reads an uploaded template from.
pub(crate) fn object_url(target: &Target, bucket: &str, key: &str) -> anyhow::Result<String> {
    Ok(match &target.endpoint {
        Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", target.region()?),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_content_addressed() {
        let a = super::key_for(b"one", "edge.zip");
        assert_eq!(a, super::key_for(b"one", "edge.zip"));
        assert_ne!(a, super::key_for(b"two", "edge.zip"));
        assert!(a.starts_with("smd/") && a.ends_with("/edge.zip") && a.len() == 4 + 20 + 9);
    }
}
