//! The Kinesis Data Stream, the CloudFront real-time log configuration that writes into it, and
//! the role CloudFront assumes to do so.
//!
//! The field list comes from `cmcd_ingest::field` through the configuration (every field the
//! ingest stores, canonical order); it is not attached to any distribution here (see
//! `smd-cli deploy attach`).

use serde_json::json;

use crate::deploy::config::Config;
use crate::deploy::iam;
use crate::deploy::template::{Template, att, r, sub};

/// Adds the stream parameters, the stream, the real-time log role and configuration.
///
/// # Errors
///
/// The configuration's field errors (see `Config::realtime_log_fields`).
pub(crate) fn add(
    t: &mut Template,
    config: &Config,
) -> Result<(), crate::deploy::config::ConfigError> {
    let s = &config.stream;
    t.parameter(
        "StreamMode",
        json!({
            "Type": "String",
            "Description": "Kinesis capacity mode of the real-time log stream",
            "AllowedValues": ["ON_DEMAND", "PROVISIONED"],
            "Default": s.mode
        }),
    );
    t.parameter(
        "ShardCount",
        json!({
            "Type": "Number",
            "Description": "Shards when StreamMode is PROVISIONED (about 2,000 log lines/s per shard)",
            "MinValue": 1,
            "Default": s.shard_count
        }),
    );
    t.parameter(
        "SamplingRate",
        json!({
            "Type": "Number",
            "Description": "Percentage of viewer requests CloudFront logs in real time",
            "MinValue": 1,
            "MaxValue": 100,
            "Default": config.realtime_log.sampling_rate
        }),
    );
    t.condition("StreamIsProvisioned", json!({"Fn::Equals": [r("StreamMode"), "PROVISIONED"]}));
    let mut stream = json!({
        "Type": "AWS::Kinesis::Stream",
        "Properties": {
            "StreamModeDetails": {"StreamMode": r("StreamMode")},
            "ShardCount": {"Fn::If": ["StreamIsProvisioned", r("ShardCount"), r("AWS::NoValue")]},
            "RetentionPeriodHours": s.retention_hours
        }
    });
    if s.encrypted {
        stream["Properties"]["StreamEncryption"] =
            json!({"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"});
    }
    t.resource("LogStream", stream);
    t.resource(
        "RealtimeLogRole",
        iam::role(
            "CloudFront real-time logs: put records into the log stream",
            &["cloudfront.amazonaws.com"],
            vec![iam::allow(
                "PutLogRecords",
                &[
                    "kinesis:DescribeStreamSummary",
                    "kinesis:DescribeStream",
                    "kinesis:PutRecord",
                    "kinesis:PutRecords",
                ],
                vec![att("LogStream", "Arn")],
            )],
        ),
    );
    let fields: Vec<&str> = config.realtime_log_fields()?.into_iter().map(|f| f.name()).collect();
    t.resource(
        "RealtimeLogConfig",
        json!({
            "Type": "AWS::CloudFront::RealtimeLogConfig",
            "Properties": {
                "Name": sub("${AWS::StackName}-cmcd"),
                "SamplingRate": r("SamplingRate"),
                "Fields": fields,
                "EndPoints": [{
                    "StreamType": "Kinesis",
                    "KinesisStreamConfig": {
                        "RoleArn": att("RealtimeLogRole", "Arn"),
                        "StreamArn": att("LogStream", "Arn")
                    }
                }]
            }
        }),
    );
    t.output("LogStreamArn", "Kinesis stream of the real-time logs", att("LogStream", "Arn"));
    t.output(
        "RealtimeLogConfigArn",
        "Real-time log configuration to attach to cache behaviours",
        att("RealtimeLogConfig", "Arn"),
    );
    Ok(())
}
