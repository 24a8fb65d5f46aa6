//! The ingest Lambda (`provided.al2023`, arm64 or x86_64, `bootstrap` from `ingest-lambda.zip`), its
//! Kinesis event source mapping (batch size and window, bisect on error, partial batch
//! responses, on-failure queue), its log group and its role.
//!
//! The function gets `LAKE` (the lake location) and `FIELDS` (the real-time log configuration's
//! fields, so the two are always the same list). It reads no other configuration.

use serde_json::json;

use crate::deploy::config::{Config, ConfigError};
use crate::deploy::iam;
use crate::deploy::resources::lake::location_sub;
use crate::deploy::template::{Template, att, r, sub};

/// Adds the ingest parameters, resources and outputs.
///
/// # Errors
///
/// The configuration's field errors.
pub(crate) fn add(t: &mut Template, config: &Config) -> Result<(), ConfigError> {
    let i = &config.ingest;
    super::code_parameters(
        t,
        config,
        "Ingest",
        "S3 bucket (in this region) holding the ingest Lambda package",
        &format!("S3 key of ingest-lambda.zip (bootstrap, provided.al2023, {})", i.architecture),
        "ingest-lambda.zip",
    );
    t.parameter(
        "IngestBatchSize",
        json!({
            "Type": "Number",
            "Description": "Kinesis records per ingest invocation",
            "MinValue": 1,
            "MaxValue": 10000,
            "Default": i.batch_size
        }),
    );
    t.parameter(
        "IngestBatchingWindow",
        json!({
            "Type": "Number",
            "Description": "Seconds the event source mapping gathers records before invoking",
            "MinValue": 0,
            "MaxValue": 300,
            "Default": i.batching_window_seconds
        }),
    );
    t.resource(
        "IngestFailureQueue",
        json!({
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": i.failure_retention_days * 86_400,
                "SqsManagedSseEnabled": true
            }
        }),
    );
    t.resource(
        "IngestLogGroup",
        json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": sub("/aws/lambda/${AWS::StackName}-ingest"),
                "RetentionInDays": i.log_retention_days
            }
        }),
    );
    t.resource(
        "IngestFunctionRole",
        iam::role(
            "CMCD ingest: read the log stream, write the lake prefix, report failed batches",
            &["lambda.amazonaws.com"],
            vec![
                iam::allow(
                    "ReadLogStream",
                    &[
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:ListShards",
                    ],
                    vec![att("LogStream", "Arn")],
                ),
                // Ranges are replaced crash-safely through a manifest per range: the function reads
                // the manifest (GetObject), deletes objects an earlier, longer attempt left
                // (DeleteObject) and writes the new ones.
                iam::allow(
                    "WriteLake",
                    &["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    vec![sub(&format!("${{LakeBucket.Arn}}/{}/*", config.lake.prefix))],
                ),
                // Without ListBucket, S3 answers a read of a missing object (a range's first
                // manifest) with 403 AccessDenied instead of 404, and the range could never be
                // written.
                iam::allow("FindManifests", &["s3:ListBucket"], vec![att("LakeBucket", "Arn")]),
                iam::allow(
                    "ReportFailedBatches",
                    &["sqs:SendMessage"],
                    vec![att("IngestFailureQueue", "Arn")],
                ),
                iam::allow(
                    "OwnLogs",
                    &["logs:CreateLogStream", "logs:PutLogEvents"],
                    vec![att("IngestLogGroup", "Arn")],
                ),
            ],
        ),
    );
    let fields: Vec<&str> = config.realtime_log_fields()?.into_iter().map(|f| f.name()).collect();
    t.resource(
        "IngestFunction",
        json!({
            "Type": "AWS::Lambda::Function",
            "DependsOn": ["IngestLogGroup"],
            "Properties": {
                "FunctionName": sub("${AWS::StackName}-ingest"),
                "Description": "CloudFront real-time log records with CMCD into the Parquet lake",
                "Runtime": "provided.al2023",
                "Architectures": [i.architecture],
                "Handler": "bootstrap",
                "Code": {"S3Bucket": r("IngestCodeBucket"), "S3Key": r("IngestCodeKey")},
                "MemorySize": i.memory_mb,
                "Timeout": i.timeout_seconds,
                "Role": att("IngestFunctionRole", "Arn"),
                "Environment": {"Variables": {
                    "LAKE": sub(&location_sub(config)),
                    "FIELDS": fields.join(",")
                }}
            }
        }),
    );
    t.resource(
        "IngestEventSourceMapping",
        json!({
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": att("LogStream", "Arn"),
                "FunctionName": r("IngestFunction"),
                "StartingPosition": i.starting_position,
                "BatchSize": r("IngestBatchSize"),
                "MaximumBatchingWindowInSeconds": r("IngestBatchingWindow"),
                "ParallelizationFactor": i.parallelization_factor,
                "BisectBatchOnFunctionError": true,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "MaximumRetryAttempts": i.maximum_retry_attempts,
                "MaximumRecordAgeInSeconds": i.maximum_record_age_seconds,
                "DestinationConfig": {"OnFailure": {"Destination": att("IngestFailureQueue", "Arn")}}
            }
        }),
    );
    t.output("IngestFunctionName", "Ingest Lambda", r("IngestFunction"));
    t.output(
        "IngestFailureQueueUrl",
        "Batches the ingest gave up on (shard, sequence range)",
        r("IngestFailureQueue"),
    );
    Ok(())
}
