//! Attach mode against the CloudFront API: read a distribution's configuration and ETag, reduce
//! it to the behaviours the pure planner (`deploy::attach`) works on, and apply a plan with
//! `UpdateDistribution` guarded by `If-Match`, so a configuration changed by someone else in
//! between is refused rather than overwritten.

use anyhow::Context as _;
use aws_sdk_cloudfront::types::{
    DistributionConfig, EventType, LambdaFunctionAssociation, LambdaFunctionAssociations,
};

use super::{Target, describe};
use crate::deploy::attach::{Behaviour, Change};

/// A distribution's configuration and its ETag.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The configuration as read.
    pub(crate) config: DistributionConfig,
    /// The ETag to send back as `If-Match`.
    pub(crate) etag: String,
}

/// Reads the configuration of distribution `id`.
pub(crate) async fn read(target: &Target, id: &str) -> anyhow::Result<Current> {
    let out = target
        .cloudfront()
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading distribution {id}: {}", describe(&e)))?;
    let config = out
        .distribution_config()
        .cloned()
        .context("GetDistributionConfig returned no configuration")?;
    let etag = out.e_tag().context("GetDistributionConfig returned no ETag")?.to_owned();
    Ok(Current { config, etag })
}

fn viewer_request(list: Option<&LambdaFunctionAssociations>) -> Option<String> {
    list?
        .items()
        .iter()
        .find(|a| a.event_type == EventType::ViewerRequest)
        .map(|a| a.lambda_function_arn.clone())
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.filter(|s| !s.is_empty()).cloned()
}

/// The behaviours of a configuration: default first, then the cache behaviours in order.
pub(crate) fn behaviours(config: &DistributionConfig) -> Vec<Behaviour> {
    let mut out = Vec::new();
    if let Some(d) = &config.default_cache_behavior {
        out.push(Behaviour {
            path_pattern: None,
            viewer_request: viewer_request(d.lambda_function_associations.as_ref()),
            realtime_log: non_empty(d.realtime_log_config_arn.as_ref()),
        });
    }
    for b in config.cache_behaviors.as_ref().map(|c| c.items()).unwrap_or_default() {
        out.push(Behaviour {
            path_pattern: Some(b.path_pattern.clone()),
            viewer_request: viewer_request(b.lambda_function_associations.as_ref()),
            realtime_log: non_empty(b.realtime_log_config_arn.as_ref()),
        });
    }
    out
}

fn with_viewer_request(
    list: Option<LambdaFunctionAssociations>,
    arn: &str,
) -> anyhow::Result<LambdaFunctionAssociations> {
    let mut items: Vec<LambdaFunctionAssociation> = list
        .and_then(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.event_type != EventType::ViewerRequest)
        .collect();
    items.insert(
        0,
        LambdaFunctionAssociation::builder()
            .lambda_function_arn(arn)
            .event_type(EventType::ViewerRequest)
            .include_body(false)
            .build()?,
    );
    Ok(LambdaFunctionAssociations::builder()
        .quantity(i32::try_from(items.len())?)
        .set_items(Some(items))
        .build()?)
}

/// Applies the plan to the configuration.
pub(crate) fn apply(config: &mut DistributionConfig, changes: &[Change]) -> anyhow::Result<()> {
    for c in changes {
        if c.index == 0 {
            let d = config.default_cache_behavior.as_mut().context("no default cache behaviour")?;
            if let Some(arn) = &c.viewer_request {
                d.lambda_function_associations =
                    Some(with_viewer_request(d.lambda_function_associations.take(), arn)?);
            }
            if let Some(arn) = &c.realtime_log {
                d.realtime_log_config_arn = Some(arn.clone());
            }
        } else {
            let b = config
                .cache_behaviors
                .as_mut()
                .and_then(|l| l.items.as_mut())
                .and_then(|i| i.get_mut(c.index - 1))
                .context("cache behaviour vanished")?;
            if let Some(p) = &c.path_pattern {
                b.path_pattern.clone_from(p);
            }
            if let Some(arn) = &c.viewer_request {
                b.lambda_function_associations =
                    Some(with_viewer_request(b.lambda_function_associations.take(), arn)?);
            }
            if let Some(arn) = &c.realtime_log {
                b.realtime_log_config_arn = Some(arn.clone());
            }
        }
    }
    Ok(())
}

/// Sends the updated configuration with `If-Match: etag`; returns the new ETag.
pub(crate) async fn update(target: &Target, id: &str, current: Current) -> anyhow::Result<String> {
    let out = target
        .cloudfront()
        .update_distribution()
        .id(id)
        .if_match(&current.etag)
        .distribution_config(current.config)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("updating distribution {id}: {}", describe(&e)))?;
    Ok(out.e_tag().unwrap_or_default().to_owned())
}
