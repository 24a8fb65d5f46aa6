//! Attach mode, the pure part: given the cache behaviours of an existing distribution, plan the
//! changes that attach the token check and the real-time log configuration, and print them as
//! a readable diff.
//!
//! Per behaviour the plan can:
//! - set the viewer-request Lambda@Edge association to the function **version** ARN (replacing
//!   any other viewer-request association; other event types are kept);
//! - set the real-time log configuration ARN;
//! - change the path pattern for path tokens: CloudFront matches a behaviour on the URI *before*
//!   the viewer-request function strips the `/<token>/` segment, so `/out/*` must become
//!   `*/out/*` (patterns that already start with `*` are left alone).
//!
//! The distribution is read either from `aws cloudfront get-distribution-config` JSON (offline
//! mode, and the committed test fixture) or through the SDK (`aws::cloudfront`), both reduced to
//! [`Behaviour`]s. This module makes no call and never edits anything itself.

use std::fmt::Write as _;

use serde_json::{Value, json};

/// A planning problem, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachError {
    /// `unqualified_function`, `unknown_behaviour`, `pattern_conflict`, `bad_config`,
    /// `nothing_to_attach`.
    pub(crate) code: &'static str,
    /// What is wrong.
    pub(crate) message: String,
}

impl std::fmt::Display for AttachError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for AttachError {}

fn err(code: &'static str, message: String) -> AttachError {
    AttachError { code, message }
}

/// What one cache behaviour has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Behaviour {
    /// `None` for the default cache behaviour.
    pub(crate) path_pattern: Option<String>,
    /// The current viewer-request Lambda@Edge function ARN.
    pub(crate) viewer_request: Option<String>,
    /// The current real-time log configuration ARN.
    pub(crate) realtime_log: Option<String>,
}

impl Behaviour {
    fn label(&self) -> String {
        match &self.path_pattern {
            Some(p) => format!("cache behaviour {p:?}"),
            None => "default cache behaviour".to_owned(),
        }
    }
}

/// What to attach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Target {
    /// Lambda@Edge function version ARN (`…:function:name:7`); `None` attaches no function.
    pub(crate) function_version_arn: Option<String>,
    /// Real-time log configuration ARN; `None` attaches no logs.
    pub(crate) realtime_log_config_arn: Option<String>,
    /// Path patterns (as they are now) of the behaviours to protect with the function; empty
    /// means every behaviour, the default one included (`default` names it).
    pub(crate) protect: Vec<String>,
}

/// The planned changes of one behaviour (`None` = unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// Index in the behaviour list (0 = default behaviour, then the cache behaviours in order).
    pub(crate) index: usize,
    /// The behaviour as it is now.
    pub(crate) before: Behaviour,
    /// New path pattern.
    pub(crate) path_pattern: Option<String>,
    /// New viewer-request function ARN.
    pub(crate) viewer_request: Option<String>,
    /// New real-time log configuration ARN.
    pub(crate) realtime_log: Option<String>,
}

/// The path pattern a behaviour needs once a path token precedes the path: `/out/*` →
/// `*/out/*`. Patterns starting with `*` already match any prefix.
pub(crate) fn path_token_pattern(pattern: &str) -> String {
    if pattern.starts_with('*') {
        pattern.to_owned()
    } else if pattern.starts_with('/') {
        format!("*{pattern}")
    } else {
        format!("*/{pattern}")
    }
}

/// Plans the changes for `behaviours` (index 0 = the default behaviour).
///
/// # Errors
///
/// `unqualified_function` (the ARN has no version number), `unknown_behaviour` (a `protect`
/// pattern matches no behaviour), `pattern_conflict` (a new pattern equals another behaviour's),
/// `nothing_to_attach`.
pub(crate) fn plan(behaviours: &[Behaviour], target: &Target) -> Result<Vec<Change>, AttachError> {
    if target.function_version_arn.is_none() && target.realtime_log_config_arn.is_none() {
        return Err(err(
            "nothing_to_attach",
            "give a function version ARN, a real-time log configuration ARN, or both".into(),
        ));
    }
    if let Some(arn) = &target.function_version_arn {
        let version = arn.rsplit(':').next().unwrap_or("");
        let qualified = arn.split(':').count() == 8
            && !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit());
        if !qualified {
            return Err(err(
                "unqualified_function",
                format!(
                    "{arn:?} is not a Lambda function version ARN (arn:aws:lambda:us-east-1:ACCOUNT:function:NAME:VERSION); Lambda@Edge needs a numbered version"
                ),
            ));
        }
    }
    for p in &target.protect {
        let found = behaviours.iter().any(|b| match &b.path_pattern {
            Some(bp) => bp == p,
            None => p == "default",
        });
        if !found {
            return Err(err(
                "unknown_behaviour",
                format!("--protect {p:?} names no cache behaviour of this distribution"),
            ));
        }
    }
    let mut changes = Vec::new();
    for (index, b) in behaviours.iter().enumerate() {
        let protected = target.function_version_arn.is_some()
            && (target.protect.is_empty()
                || target.protect.iter().any(|p| match &b.path_pattern {
                    Some(bp) => bp == p,
                    None => p == "default",
                }));
        let mut change = Change {
            index,
            before: b.clone(),
            path_pattern: None,
            viewer_request: None,
            realtime_log: None,
        };
        if protected {
            if let Some(p) = &b.path_pattern {
                let new = path_token_pattern(p);
                if &new != p {
                    change.path_pattern = Some(new);
                }
            }
            if b.viewer_request != target.function_version_arn {
                change.viewer_request.clone_from(&target.function_version_arn);
            }
        }
        if target.realtime_log_config_arn.is_some()
            && b.realtime_log != target.realtime_log_config_arn
        {
            change.realtime_log.clone_from(&target.realtime_log_config_arn);
        }
        if change.path_pattern.is_some()
            || change.viewer_request.is_some()
            || change.realtime_log.is_some()
        {
            changes.push(change);
        }
    }
    // The patterns after the change must stay unique.
    let after: Vec<String> = behaviours
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let new = changes.iter().find(|c| c.index == i).and_then(|c| c.path_pattern.clone());
            new.or_else(|| b.path_pattern.clone())
        })
        .collect();
    for (i, p) in after.iter().enumerate() {
        if after.iter().skip(i + 1).any(|q| q == p) {
            return Err(err(
                "pattern_conflict",
                format!(
                    "after the path-token change two cache behaviours would have the pattern {p:?}; remove or rename one first"
                ),
            ));
        }
    }
    Ok(changes)
}

fn or_none(v: Option<&String>) -> &str {
    v.map_or("(none)", String::as_str)
}

/// The plan as a readable diff (`-` old, `+` new), or a line saying nothing changes.
pub(crate) fn render_diff(distribution_id: &str, changes: &[Change]) -> String {
    let mut out = String::new();
    if changes.is_empty() {
        let _ =
            writeln!(out, "distribution {distribution_id}: already attached, nothing to change");
        return out;
    }
    let _ = writeln!(
        out,
        "distribution {distribution_id}: {} cache behaviour(s) change",
        changes.len()
    );
    for c in changes {
        let _ = writeln!(out, "\n{}", c.before.label());
        if let Some(p) = &c.path_pattern {
            let _ = writeln!(out, "  path pattern (path tokens precede the path)");
            let _ = writeln!(out, "  - {}", or_none(c.before.path_pattern.as_ref()));
            let _ = writeln!(out, "  + {p}");
        }
        if let Some(arn) = &c.viewer_request {
            let _ = writeln!(out, "  viewer-request Lambda@Edge function");
            let _ = writeln!(out, "  - {}", or_none(c.before.viewer_request.as_ref()));
            let _ = writeln!(out, "  + {arn}");
        }
        if let Some(arn) = &c.realtime_log {
            let _ = writeln!(out, "  real-time log configuration");
            let _ = writeln!(out, "  - {}", or_none(c.before.realtime_log.as_ref()));
            let _ = writeln!(out, "  + {arn}");
        }
    }
    out
}

/// The plan as JSON (`--json`).
pub(crate) fn changes_json(changes: &[Change]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|c| {
                json!({
                    "behaviour": c.before.path_pattern.as_deref().unwrap_or("default"),
                    "path_pattern": c.path_pattern.as_ref().map(|p| json!({"from": c.before.path_pattern, "to": p})),
                    "viewer_request": c.viewer_request.as_ref().map(|a| json!({"from": c.before.viewer_request, "to": a})),
                    "realtime_log_config": c.realtime_log.as_ref().map(|a| json!({"from": c.before.realtime_log, "to": a})),
                })
            })
            .collect(),
    )
}

// ---- `aws cloudfront get-distribution-config` JSON -------------------------------------------

fn items(list: &Value) -> &[Value] {
    list.get("Items").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn behaviour_of(b: &Value, path_pattern: Option<String>) -> Behaviour {
    let viewer_request = b
        .get("LambdaFunctionAssociations")
        .map(items)
        .unwrap_or_default()
        .iter()
        .find(|a| a.get("EventType").and_then(Value::as_str) == Some("viewer-request"))
        .and_then(|a| a.get("LambdaFunctionARN").and_then(Value::as_str))
        .map(str::to_owned);
    let realtime_log = b
        .get("RealtimeLogConfigArn")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Behaviour { path_pattern, viewer_request, realtime_log }
}

/// The `DistributionConfig` object of `aws cloudfront get-distribution-config` output (or the
/// object itself), and the ETag when present.
pub(crate) fn distribution_config(doc: &Value) -> Result<(&Value, Option<&str>), AttachError> {
    let config = doc.get("DistributionConfig").unwrap_or(doc);
    if config.get("DefaultCacheBehavior").is_none() {
        return Err(err(
            "bad_config",
            "not a distribution configuration: no DefaultCacheBehavior (expected the output of aws cloudfront get-distribution-config)".into(),
        ));
    }
    Ok((config, doc.get("ETag").and_then(Value::as_str)))
}

/// The behaviours of a `DistributionConfig` JSON object: default first, then the cache
/// behaviours in order.
pub(crate) fn behaviours_from_json(config: &Value) -> Vec<Behaviour> {
    let mut out = vec![behaviour_of(&config["DefaultCacheBehavior"], None)];
    for b in config.get("CacheBehaviors").map(items).unwrap_or_default() {
        let pattern = b.get("PathPattern").and_then(Value::as_str).unwrap_or("").to_owned();
        out.push(behaviour_of(b, Some(pattern)));
    }
    out
}

fn apply_to_behaviour_json(b: &mut Value, c: &Change) {
    if let Some(p) = &c.path_pattern {
        b["PathPattern"] = json!(p);
    }
    if let Some(arn) = &c.viewer_request {
        let mut kept: Vec<Value> = b
            .get("LambdaFunctionAssociations")
            .map(items)
            .unwrap_or_default()
            .iter()
            .filter(|a| a.get("EventType").and_then(Value::as_str) != Some("viewer-request"))
            .cloned()
            .collect();
        kept.insert(
            0,
            json!({"LambdaFunctionARN": arn, "EventType": "viewer-request", "IncludeBody": false}),
        );
        b["LambdaFunctionAssociations"] = json!({"Quantity": kept.len(), "Items": kept});
    }
    if let Some(arn) = &c.realtime_log {
        b["RealtimeLogConfigArn"] = json!(arn);
    }
}

/// Applies the plan to a `DistributionConfig` JSON object (the input of
/// `aws cloudfront update-distribution --distribution-config`).
pub(crate) fn apply_to_json(config: &mut Value, changes: &[Change]) {
    for c in changes {
        if c.index == 0 {
            apply_to_behaviour_json(&mut config["DefaultCacheBehavior"], c);
        } else if let Some(b) = config
            .get_mut("CacheBehaviors")
            .and_then(|l| l.get_mut("Items"))
            .and_then(|i| i.get_mut(c.index - 1))
        {
            apply_to_behaviour_json(b, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_gain_a_leading_wildcard() {
        assert_eq!(path_token_pattern("/out/*"), "*/out/*");
        assert_eq!(path_token_pattern("out/*"), "*/out/*");
        assert_eq!(path_token_pattern("*/out/*"), "*/out/*");
        assert_eq!(path_token_pattern("*.m3u8"), "*.m3u8");
    }

    fn b(p: Option<&str>) -> Behaviour {
        Behaviour { path_pattern: p.map(str::to_owned), viewer_request: None, realtime_log: None }
    }

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:smd-edge:3";

    #[test]
    fn errors_have_stable_codes() {
        let t = |f: &str| Target { function_version_arn: Some(f.into()), ..Target::default() };
        let bs = [b(None), b(Some("/out/*")), b(Some("*/out/*"))];
        assert_eq!(plan(&bs, &Target::default()).unwrap_err().code, "nothing_to_attach");
        assert_eq!(
            plan(&bs, &t("arn:aws:lambda:us-east-1:1:function:smd-edge")).unwrap_err().code,
            "unqualified_function"
        );
        assert_eq!(plan(&bs, &t(FN)).unwrap_err().code, "pattern_conflict");
        let mut only = t(FN);
        only.protect = vec!["/nope/*".into()];
        assert_eq!(plan(&bs, &only).unwrap_err().code, "unknown_behaviour");
    }

    #[test]
    fn only_protected_behaviours_get_the_function_but_all_get_logs() {
        let bs = [b(None), b(Some("/out/*")), b(Some("/ads/*"))];
        let target = Target {
            function_version_arn: Some(FN.into()),
            realtime_log_config_arn: Some("arn:aws:cloudfront::1:realtime-log-config/x".into()),
            protect: vec!["/out/*".into()],
        };
        let changes = plan(&bs, &target).unwrap();
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[1].path_pattern.as_deref(), Some("*/out/*"));
        assert_eq!(changes[1].viewer_request.as_deref(), Some(FN));
        assert_eq!(changes[0].viewer_request, None);
        assert_eq!(changes[2].path_pattern, None);
        assert!(changes.iter().all(|c| c.realtime_log.is_some()));
    }
}
