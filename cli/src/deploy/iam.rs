//! IAM building blocks: trust policies and least-privilege statements as CloudFormation JSON.
//!
//! Each role gets one inline policy naming exactly the actions it needs on exactly its resources.
//! No managed policies, no `*` resources, no wildcard actions. This module knows nothing about
//! which role needs what; the resource modules decide.

use serde_json::{Value, json};

/// A role that `services` (for example `lambda.amazonaws.com`) may assume, with one inline
/// policy holding `statements`.
pub(crate) fn role(description: &str, services: &[&str], statements: Vec<Value>) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": services},
                    "Action": "sts:AssumeRole"
                }]
            },
            "Policies": [{
                "PolicyName": "least-privilege",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}
            }]
        }
    })
}

/// One `Allow` statement: `actions` on `resources` (each a string or an intrinsic function).
pub(crate) fn allow(sid: &str, actions: &[&str], resources: Vec<Value>) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
}
