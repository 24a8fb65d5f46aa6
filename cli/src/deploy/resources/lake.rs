//! The S3 bucket of the Parquet lake: encryption, public access block, TLS-only policy, and
//! lifecycle rules for quarantined lines, Athena results and abandoned multipart uploads.
//!
//! It does not expire the lake data itself: retention of `requests` and `sessions` is the
//! owner's decision, made outside this template.

use serde_json::{Value, json};

use crate::deploy::config::Config;
use crate::deploy::template::{Template, att, r, sub};

/// Where Athena writes query results inside the lake bucket.
pub(crate) const ATHENA_RESULTS_PREFIX: &str = "athena-results/";

/// Adds the lake bucket, its policy and outputs.
pub(crate) fn add(t: &mut Template, config: &Config) {
    let l = &config.lake;
    let mut rules = Vec::new();
    if l.quarantine_expiration_days > 0 {
        rules.push(json!({
            "Id": "expire-quarantine",
            "Status": "Enabled",
            "Prefix": format!("{}/quarantine/", l.prefix),
            "ExpirationInDays": l.quarantine_expiration_days
        }));
    }
    if config.athena.enabled {
        rules.push(json!({
            "Id": "expire-athena-results",
            "Status": "Enabled",
            "Prefix": ATHENA_RESULTS_PREFIX,
            "ExpirationInDays": l.athena_results_expiration_days
        }));
    }
    rules.push(json!({
        "Id": "abort-incomplete-multipart-uploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}
    }));
    let mut properties = serde_json::Map::new();
    if !l.bucket_name.is_empty() {
        properties.insert("BucketName".into(), json!(l.bucket_name));
    }
    properties.insert(
        "BucketEncryption".into(),
        json!({"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]}),
    );
    properties.insert(
        "PublicAccessBlockConfiguration".into(),
        json!({
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true
        }),
    );
    properties.insert(
        "OwnershipControls".into(),
        json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
    );
    properties.insert("LifecycleConfiguration".into(), json!({"Rules": rules}));
    let policy = if l.retain_on_delete { "Retain" } else { "Delete" };
    t.resource(
        "LakeBucket",
        json!({
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": policy,
            "UpdateReplacePolicy": policy,
            "Properties": Value::Object(properties)
        }),
    );
    t.resource(
        "LakeBucketPolicy",
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": r("LakeBucket"),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [att("LakeBucket", "Arn"), sub("${LakeBucket.Arn}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                    }]
                }
            }
        }),
    );
    t.output("LakeBucketName", "S3 bucket of the Parquet lake", r("LakeBucket"));
    t.output(
        "LakeLocation",
        "The lake (LAKE of the ingest Lambda; smd-cli athena ddl --location)",
        sub(&location_sub(config)),
    );
}

/// The lake location in `Fn::Sub` syntax: `s3://${LakeBucket}/<prefix>`.
pub(crate) fn location_sub(config: &Config) -> String {
    format!("s3://${{LakeBucket}}/{}", config.lake.prefix)
}
