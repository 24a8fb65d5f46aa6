//! `smd-cli deploy`: one CloudFormation stack for the token edge and the CMCD analytics
//! pipeline, and the cache-behaviour changes that attach both to an existing distribution.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | `deploy.toml`: every key with its documented default, checked with stable codes |
//! | [`template`] | template sections and intrinsic-function helpers; deterministic key order |
//! | [`resources`] | one module per part: edge, lake bucket, stream and real-time logs, ingest, Glue/Athena |
//! | [`glue`] | Glue tables generated from `cmcd_ingest::schema` (never a hand-written column) |
//! | [`iam`] | roles with one least-privilege inline policy each |
//! | `package` (feature `deploy`) | checks of the local code packages (the ingest `bootstrap`'s architecture) |
//! | [`attach`] | the cache-behaviour plan for an existing distribution, and its readable diff |
//! | `aws` (feature `deploy`) | the AWS SDK rim: artifacts upload, change sets, events, CloudFront |
//!
//! Design: rendering is pure (configuration in, JSON out; no clock, no environment, no network),
//! so the same `deploy.toml` always gives the same template bytes, and golden files pin them.
//! This module does not create or modify a CloudFront distribution in the template: stacks own
//! their resources, and a distribution usually belongs to the media workflow's own stack, so
//! attaching is a separate, explicit step (`deploy attach`).

pub(crate) mod attach;
#[cfg(feature = "deploy")]
pub(crate) mod aws;
pub(crate) mod config;
pub(crate) mod glue;
pub(crate) mod iam;
#[cfg(feature = "deploy")]
pub(crate) mod package;
pub(crate) mod resources;
pub(crate) mod template;

use serde_json::Value;

use config::{Config, ConfigError};
use template::Template;

/// Renders the template of `config`.
///
/// # Errors
///
/// Configuration errors that only show while rendering (field lists).
pub(crate) fn render(config: &Config) -> Result<Value, ConfigError> {
    let mut t = Template::default();
    let mut parts = Vec::new();
    if config.edge.enabled {
        resources::edge::add(&mut t, config);
        parts.push("Lambda@Edge SMD token check");
    }
    if config.analytics.enabled {
        resources::lake::add(&mut t, config);
        resources::stream::add(&mut t, config)?;
        resources::ingest::add(&mut t, config)?;
        resources::athena::add_glue(&mut t, config);
        parts.push("CMCD real-time logs to a Parquet lake");
        if config.athena.enabled {
            resources::athena::add_athena(&mut t, config);
            parts.push("Athena QoE queries");
        }
    }
    let description =
        format!("SMD toolkit: {} (rendered by smd-cli deploy render)", parts.join(", "));
    Ok(t.into_json(&description))
}

/// The template as the bytes `deploy render` writes: pretty JSON and a final newline.
pub(crate) fn to_pretty(template: &Value) -> String {
    let mut text = serde_json::to_string_pretty(template).unwrap_or_default();
    text.push('\n');
    text
}
