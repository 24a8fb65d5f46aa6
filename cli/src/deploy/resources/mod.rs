//! The template's resources, one module per part of the stack.

pub(crate) mod athena;
pub(crate) mod edge;
pub(crate) mod ingest;
pub(crate) mod lake;
pub(crate) mod stream;

use serde_json::json;

use crate::deploy::config::Config;
use crate::deploy::template::Template;

/// Declares the `<prefix>CodeBucket` / `<prefix>CodeKey` parameters of a function's package:
/// the bucket defaults to `[artifacts] bucket` when one is configured.
pub(crate) fn code_parameters(
    t: &mut Template,
    config: &Config,
    prefix: &str,
    bucket_description: &str,
    key_description: &str,
    default_key: &str,
) {
    let mut bucket = json!({"Type": "String", "Description": bucket_description, "MinLength": 3});
    if !config.artifacts.bucket.is_empty() {
        bucket["Default"] = json!(config.artifacts.bucket);
    }
    t.parameter(&format!("{prefix}CodeBucket"), bucket);
    t.parameter(
        &format!("{prefix}CodeKey"),
        json!({"Type": "String", "Description": key_description, "Default": default_key}),
    );
}
