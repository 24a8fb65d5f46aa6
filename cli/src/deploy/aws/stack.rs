//! CloudFormation: create or update a stack through a change set, wait while printing resource
//! events as they happen, report failed events with their reasons; show a change set without
//! executing it; delete a stack and wait.
//!
//! It does not retry failed deployments or continue rollbacks: it reports and stops, and the
//! exit code says what happened.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, Stack, StackEvent,
};
use serde_json::{Value, json};

use super::{Target, describe};
use crate::support::rfc3339;

/// CloudFormation takes templates up to this size in the request; larger ones go through S3.
pub(crate) const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// How the template reaches CloudFormation.
#[derive(Debug, Clone)]
pub(crate) enum TemplateSource {
    /// Inline (`TemplateBody`).
    Body(String),
    /// Uploaded (`TemplateURL`).
    Url(String),
}

/// A parameter value.
#[derive(Debug, Clone)]
pub(crate) enum ParamValue {
    /// A new value.
    Value(String),
    /// Keep the stack's current value.
    Previous,
}

/// One row of a change set.
#[derive(Debug, Clone)]
pub(crate) struct ChangeRow {
    action: String,
    logical_id: String,
    resource_type: String,
    replacement: String,
}

/// A created change set.
#[derive(Debug, Clone)]
pub(crate) struct ChangeSet {
    name: String,
    /// `create` or `update`.
    pub(crate) kind: &'static str,
    /// Its changes.
    pub(crate) changes: Vec<ChangeRow>,
    /// CloudFormation refused the change set because the stack already matches (AWS reports
    /// that as a FAILED change set; an empty but complete change set is still executed).
    pub(crate) unchanged: bool,
}

/// One failed resource event.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    logical_id: String,
    resource_type: String,
    status: String,
    reason: String,
}

/// How an operation ended.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The final stack status (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, `DELETE_COMPLETE`…).
    pub(crate) status: String,
    /// Whether that is the status asked for.
    pub(crate) ok: bool,
    /// Failed resource events, oldest first.
    pub(crate) failures: Vec<Failure>,
    /// The stack outputs (after create or update).
    pub(crate) outputs: Vec<(String, String)>,
}

fn poll_interval(target: &Target) -> Duration {
    if target.endpoint.is_some() { Duration::from_millis(300) } else { Duration::from_secs(3) }
}

/// The stack named `name`, or `None` when it does not exist.
pub(crate) async fn find(cfn: &Client, name: &str) -> anyhow::Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(e) => {
            let text = describe(&e);
            if text.contains("does not exist") {
                Ok(None)
            } else {
                bail!("describing stack {name}: {text}")
            }
        }
    }
}

fn status_of(stack: &Stack) -> String {
    stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default()
}

/// Creates a change set for `stack` (a CREATE change set when the stack does not exist) and
/// waits until CloudFormation has computed it.
pub(crate) async fn create_change_set(
    target: &Target,
    stack: &str,
    template: &TemplateSource,
    parameters: &[(String, ParamValue)],
) -> anyhow::Result<ChangeSet> {
    let cfn = target.cloudformation();
    let existing = find(&cfn, stack).await?;
    let kind = match existing.as_ref().map(status_of).as_deref() {
        None | Some("REVIEW_IN_PROGRESS") => ChangeSetType::Create,
        Some("ROLLBACK_COMPLETE") => bail!(
            "stack {stack} is ROLLBACK_COMPLETE (its creation failed) and cannot be updated: run `smd-cli deploy delete --stack {stack}` first"
        ),
        Some(s) if s.ends_with("_IN_PROGRESS") => {
            bail!("stack {stack} is busy ({s}); wait for it to finish")
        }
        Some(_) => ChangeSetType::Update,
    };
    // Unique per call: two commands within one second (an apply, then a diff) must not reuse
    // a name, which CloudFormation refuses (and the local test server confuses).
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut salt = [0u8; 4];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let name =
        format!("smd-{}-{:09}-{:08x}", now.as_secs(), now.subsec_nanos(), u32::from_le_bytes(salt));
    let params: Vec<Parameter> = parameters
        .iter()
        .map(|(key, value)| {
            let p = Parameter::builder().parameter_key(key);
            match value {
                ParamValue::Value(v) => p.parameter_value(v).build(),
                ParamValue::Previous => p.use_previous_value(true).build(),
            }
        })
        .collect();
    let mut request = cfn
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&name)
        .change_set_type(kind.clone())
        .capabilities(Capability::CapabilityIam)
        .set_parameters(Some(params));
    request = match template {
        TemplateSource::Body(body) => request.template_body(body),
        TemplateSource::Url(url) => request.template_url(url),
    };
    request.send().await.map_err(|e| anyhow::anyhow!("creating change set: {}", describe(&e)))?;
    errln!("change set {name} created; waiting for CloudFormation to compute it");
    let started = Instant::now();
    loop {
        let out = cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(&name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("describing change set {name}: {}", describe(&e)))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                let changes = out
                    .changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(|rc| ChangeRow {
                        action: rc.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                        logical_id: rc.logical_resource_id().unwrap_or_default().to_owned(),
                        resource_type: rc.resource_type().unwrap_or_default().to_owned(),
                        replacement: rc
                            .replacement()
                            .map(|r| r.as_str().to_owned())
                            .unwrap_or_default(),
                    })
                    .collect();
                return Ok(ChangeSet { name, kind: kind_name(&kind), changes, unchanged: false });
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or_default();
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    return Ok(ChangeSet {
                        name,
                        kind: kind_name(&kind),
                        changes: Vec::new(),
                        unchanged: true,
                    });
                }
                bail!("change set {name} failed: {reason}");
            }
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("change set {name} still not computed after 10 minutes");
        }
        tokio::time::sleep(poll_interval(target)).await;
    }
}

fn kind_name(kind: &ChangeSetType) -> &'static str {
    if *kind == ChangeSetType::Create { "create" } else { "update" }
}

/// Deletes a change set that will not be executed (and the empty stack a CREATE change set
/// leaves behind in REVIEW_IN_PROGRESS).
pub(crate) async fn discard(target: &Target, stack: &str, set: &ChangeSet) -> anyhow::Result<()> {
    let cfn = target.cloudformation();
    cfn.delete_change_set()
        .stack_name(stack)
        .change_set_name(&set.name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("deleting change set {}: {}", set.name, describe(&e)))?;
    if set.kind == "create"
        && let Some(s) = find(&cfn, stack).await?
        && status_of(&s) == "REVIEW_IN_PROGRESS"
    {
        cfn.delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("deleting the empty stack {stack}: {}", describe(&e)))?;
    }
    Ok(())
}

/// Prints a change set as a table (stderr is for progress; this is the answer, on stdout).
pub(crate) fn print_changes(set: &ChangeSet) -> std::io::Result<()> {
    if set.unchanged {
        return outln!("no changes: the stack already matches the template and parameters");
    }
    if set.changes.is_empty() {
        return outln!("the change set ({}) lists no resource changes", set.kind);
    }
    outln!("{} change(s) ({}):", set.changes.len(), set.kind)?;
    for c in &set.changes {
        let replacement = match c.replacement.as_str() {
            "True" => "  (replacement)",
            "Conditional" => "  (may replace)",
            _ => "",
        };
        outln!("  {:<7} {:<32} {}{replacement}", c.action, c.logical_id, c.resource_type)?;
    }
    Ok(())
}

/// The change set as JSON.
pub(crate) fn changes_json(set: &ChangeSet) -> Value {
    Value::Array(
        set.changes
            .iter()
            .map(|c| {
                json!({"action": c.action, "logical_id": c.logical_id, "type": c.resource_type, "replacement": c.replacement})
            })
            .collect(),
    )
}

async fn events(cfn: &Client, stack: &str) -> anyhow::Result<Vec<StackEvent>> {
    let out = cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading stack events: {}", describe(&e)))?;
    Ok(out.stack_events().to_vec())
}

fn print_event(e: &StackEvent) {
    let when = e.timestamp().map_or_else(String::new, |t| rfc3339(t.secs()));
    let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
    let reason = e.resource_status_reason().map(|r| format!("  {r}")).unwrap_or_default();
    errln!(
        "{when}  {status:<28} {:<34} {}{reason}",
        e.resource_type().unwrap_or_default(),
        e.logical_resource_id().unwrap_or_default()
    );
}

fn failure_of(e: &StackEvent) -> Option<Failure> {
    let status = e.resource_status().map(|s| s.as_str().to_owned()).unwrap_or_default();
    status.ends_with("_FAILED").then(|| Failure {
        logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
        resource_type: e.resource_type().unwrap_or_default().to_owned(),
        status,
        reason: e.resource_status_reason().unwrap_or("(no reason given)").to_owned(),
    })
}

/// Polls the stack until its status is no longer `*_IN_PROGRESS`, printing new events.
async fn wait(
    target: &Target,
    stack_id: &str,
    seen: &mut HashSet<String>,
    timeout: Duration,
) -> anyhow::Result<(Option<Stack>, Vec<Failure>)> {
    let cfn = target.cloudformation();
    let started = Instant::now();
    let mut failures = Vec::new();
    loop {
        let current = find(&cfn, stack_id).await?;
        // Events may be unreadable once a stack is gone on some servers; that ends the wait.
        let mut fresh: Vec<StackEvent> = events(&cfn, stack_id)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.event_id().is_some_and(|id| seen.insert(id.to_owned())))
            .collect();
        fresh.reverse(); // the API lists newest first
        for e in &fresh {
            print_event(e);
            failures.extend(failure_of(e));
        }
        let done = current.as_ref().is_none_or(|s| !status_of(s).ends_with("_IN_PROGRESS"));
        if done {
            return Ok((current, failures));
        }
        if started.elapsed() > timeout {
            bail!(
                "gave up waiting after {} s; the stack is still {}",
                timeout.as_secs(),
                current.as_ref().map(status_of).unwrap_or_default()
            );
        }
        tokio::time::sleep(poll_interval(target)).await;
    }
}

/// Executes a change set and waits for the stack to settle.
pub(crate) async fn execute(
    target: &Target,
    stack: &str,
    set: &ChangeSet,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let cfn = target.cloudformation();
    let mut seen: HashSet<String> = events(&cfn, stack)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.event_id().map(str::to_owned))
        .collect();
    cfn.execute_change_set()
        .stack_name(stack)
        .change_set_name(&set.name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("executing change set {}: {}", set.name, describe(&e)))?;
    errln!("executing change set {} on stack {stack}", set.name);
    let (current, failures) = wait(target, stack, &mut seen, timeout).await?;
    let current = current.with_context(|| format!("stack {stack} disappeared while deploying"))?;
    let status = status_of(&current);
    let ok = status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE";
    let outputs = current
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok(Outcome { status, ok, failures, outputs })
}

/// Deletes the stack and waits until it is gone.
pub(crate) async fn delete(
    target: &Target,
    stack: &str,
    timeout: Duration,
) -> anyhow::Result<Option<Outcome>> {
    let cfn = target.cloudformation();
    let Some(existing) = find(&cfn, stack).await? else {
        return Ok(None);
    };
    let id = existing.stack_id().unwrap_or(stack).to_owned();
    let mut seen: HashSet<String> = events(&cfn, &id)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.event_id().map(str::to_owned))
        .collect();
    cfn.delete_stack()
        .stack_name(&id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("deleting stack {stack}: {}", describe(&e)))?;
    errln!("deleting stack {stack}");
    let (current, failures) = wait(target, &id, &mut seen, timeout).await?;
    let status = current.as_ref().map_or_else(|| "DELETE_COMPLETE".to_owned(), status_of);
    let ok = status == "DELETE_COMPLETE";
    Ok(Some(Outcome { status, ok, failures, outputs: Vec::new() }))
}

/// Prints the failed events clearly (stderr).
pub(crate) fn print_failures(failures: &[Failure]) {
    if failures.is_empty() {
        return;
    }
    errln!("\nfailed resources:");
    for f in failures {
        errln!("  {} ({}) {}: {}", f.logical_id, f.resource_type, f.status, f.reason);
    }
}

/// An outcome as JSON.
pub(crate) fn outcome_json(o: &Outcome) -> Value {
    let outputs: serde_json::Map<String, Value> =
        o.outputs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "status": o.status,
        "ok": o.ok,
        "failed": o.failures.iter().map(|f| json!({
            "logical_id": f.logical_id, "type": f.resource_type, "status": f.status, "reason": f.reason
        })).collect::<Vec<_>>(),
        "outputs": outputs,
    })
}
