//! The Lambda@Edge viewer-request function (the `edge.zip` of `smd-cli edge package`), its role
//! and its published version.
//!
//! Lambda@Edge needs us-east-1 (a template rule refuses other regions), a numbered version, no
//! environment variables, and a role that both `lambda.amazonaws.com` and
//! `edgelambda.amazonaws.com` may assume. It does not attach the function to a distribution:
//! that is `smd-cli deploy attach`.

use serde_json::json;

use crate::deploy::config::Config;
use crate::deploy::iam;
use crate::deploy::template::{Template, att, r, sub};

/// Adds the edge parameters, rule, resources and outputs.
pub(crate) fn add(t: &mut Template, config: &Config) {
    let e = &config.edge;
    super::code_parameters(
        t,
        config,
        "Edge",
        "S3 bucket (in this region) holding the Lambda@Edge package",
        "S3 key of edge.zip (smd-cli edge package); a new key publishes a new version",
        "edge.zip",
    );
    t.rule(
        "EdgeFunctionInUsEast1",
        json!({
            "Assertions": [{
                "Assert": {"Fn::Equals": [r("AWS::Region"), "us-east-1"]},
                "AssertDescription": "Lambda@Edge functions must be created in us-east-1 (or set [edge] enabled = false)"
            }]
        }),
    );
    t.resource(
        "EdgeFunctionRole",
        iam::role(
            "Lambda@Edge viewer-request token check: writes its own logs, nothing else",
            &["lambda.amazonaws.com", "edgelambda.amazonaws.com"],
            vec![iam::allow(
                "OwnLogsInEveryRegion",
                &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                vec![sub(
                    "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/aws/lambda/us-east-1.${AWS::StackName}-edge:*",
                )],
            )],
        ),
    );
    t.resource(
        "EdgeFunction",
        json!({
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": sub("${AWS::StackName}-edge"),
                "Description": "SMD path-token check (viewer request), token-core as WebAssembly",
                "Runtime": e.runtime,
                "Handler": "index.handler",
                "Code": {"S3Bucket": r("EdgeCodeBucket"), "S3Key": r("EdgeCodeKey")},
                "MemorySize": e.memory_mb,
                "Timeout": e.timeout_seconds,
                "Role": att("EdgeFunctionRole", "Arn")
            }
        }),
    );
    // A new code key replaces the version (a new number). Old versions are retained: CloudFront
    // may still run them, and Lambda@Edge replicas cannot be deleted while associated.
    t.resource(
        "EdgeFunctionVersion",
        json!({
            "Type": "AWS::Lambda::Version",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "FunctionName": r("EdgeFunction"),
                "Description": sub("package s3://${EdgeCodeBucket}/${EdgeCodeKey}")
            }
        }),
    );
    t.output("EdgeFunctionArn", "Lambda@Edge function (unqualified)", att("EdgeFunction", "Arn"));
    t.output(
        "EdgeFunctionVersionArn",
        "Lambda@Edge function version to associate with cache behaviours (viewer request)",
        r("EdgeFunctionVersion"),
    );
}
