//! `smd-cli deploy init | render | apply | diff | delete | attach`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::deploy::attach;
use crate::deploy::config::{Config, EXAMPLE};
use crate::support::{print_json, read_json, read_text, write_atomic};

/// Deploy the edge and the analytics pipeline with CloudFormation; attach them to a distribution.
#[derive(Debug, Subcommand)]
pub(crate) enum DeployCommand {
    /// Write the fully commented example deploy.toml (every key with its default).
    Init {
        /// Where to write it.
        #[arg(long, default_value = "deploy.toml")]
        out: PathBuf,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Render the CloudFormation template (JSON) of a deploy.toml. Pure: no AWS call.
    ///
    /// The same configuration always gives the same bytes. The template holds: the Lambda@Edge
    /// viewer-request function and version (us-east-1), the Parquet lake bucket, the Kinesis
    /// stream, the CloudFront real-time log configuration (every field the ingest stores, all
    /// cmcd-* fields), the ingest Lambda with its event source mapping and on-failure queue, the
    /// Glue database and tables (partition projection) and the Athena workgroup with the canned
    /// QoE queries, with least-privilege roles.
    ///
    /// Example:
    ///   smd-cli deploy init && smd-cli deploy render --config deploy.toml --out template.json
    #[command(verbatim_doc_comment)]
    Render(RenderArgs),
    /// Create or update the stack through a change set, printing resource events as they happen.
    ///
    /// Uploads --edge-zip and --ingest-zip to the artifacts bucket first (content-addressed
    /// keys; the bucket is created when missing). Without a zip, an existing stack keeps its
    /// current package. Exit status: 0 deployed (or nothing to change), 1 the deployment failed
    /// and was rolled back (the failed events and their reasons are printed), 2 usage or AWS
    /// error.
    ///
    /// Example:
    ///   smd-cli deploy apply --stack smd --config deploy.toml --edge-zip edge.zip \
    ///       --ingest-zip ingest-lambda.zip --region us-east-1
    #[command(verbatim_doc_comment)]
    Apply(StackArgs),
    /// Show what apply would change (a change set that is computed, printed and deleted).
    Diff(StackArgs),
    /// Delete the stack and wait until it is gone. The lake bucket is kept unless
    /// [lake] retain_on_delete = false; published Lambda@Edge versions are always kept.
    Delete(DeleteArgs),
    /// Attach the token check and the real-time logs to an existing distribution's cache
    /// behaviours: prints the changes as a diff; --apply performs them (UpdateDistribution with
    /// If-Match).
    ///
    /// Per protected behaviour: the viewer-request Lambda@Edge association becomes the function
    /// version, and the path pattern gains a leading wildcard (/out/* → */out/*) because
    /// CloudFront matches behaviours before the function strips the token segment. Every
    /// behaviour gets the real-time log configuration.
    ///
    /// Examples:
    ///   smd-cli deploy attach --distribution-id E123 --stack smd                  # diff only
    ///   smd-cli deploy attach --distribution-id E123 --stack smd --protect '/out/*' --apply
    ///   aws cloudfront get-distribution-config --id E123 > dist.json
    ///   smd-cli deploy attach --distribution-config dist.json --function-version-arn ARN \
    ///       --realtime-log-config-arn ARN --out updated.json                       # offline
    #[command(verbatim_doc_comment)]
    Attach(AttachArgs),
}

/// `deploy render` arguments.
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// The configuration (absent: every default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to write the template; `-` prints it.
    #[arg(long, value_name = "FILE", default_value = "template.json")]
    out: PathBuf,
}

/// Where the stack lives.
#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    /// The stack name.
    #[arg(long)]
    stack: String,
    /// AWS region (default: AWS_REGION / the profile's). Lambda@Edge needs us-east-1.
    #[arg(long)]
    region: Option<String>,
    /// Endpoint URL for every AWS service (a local server such as moto).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Give up waiting after this long (90s, 30m, 1h).
    #[arg(long, default_value = "1h")]
    timeout: String,
}

/// `deploy apply | diff` arguments.
#[derive(Debug, Args)]
pub(crate) struct StackArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The configuration (absent: every default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The Lambda@Edge package (smd-cli edge package).
    #[arg(long, value_name = "FILE")]
    edge_zip: Option<PathBuf>,
    /// The ingest Lambda package (bootstrap for provided.al2023 arm64).
    #[arg(long, value_name = "FILE")]
    ingest_zip: Option<PathBuf>,
    /// Artifacts bucket (default: [artifacts] bucket, else smd-artifacts-<account>-<region>).
    #[arg(long)]
    artifacts_bucket: Option<String>,
    /// Template parameter override, KEY=VALUE (repeatable), e.g. SamplingRate=10.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    parameters: Vec<String>,
}

/// `deploy delete` arguments.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    aws: AwsArgs,
}

/// `deploy attach` arguments.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// The distribution to attach to (read through the CloudFront API).
    #[arg(long, value_name = "ID", required_unless_present = "distribution_config")]
    distribution_id: Option<String>,
    /// Offline: the output of `aws cloudfront get-distribution-config` instead of the API.
    #[arg(long, value_name = "FILE", conflicts_with = "apply")]
    distribution_config: Option<PathBuf>,
    /// Offline: write the updated DistributionConfig here (input of aws cloudfront
    /// update-distribution --distribution-config file://… --if-match ETAG).
    #[arg(long, value_name = "FILE", requires = "distribution_config")]
    out: Option<PathBuf>,
    /// Take the function version and the real-time log configuration from this stack's outputs.
    #[arg(long)]
    stack: Option<String>,
    /// Lambda@Edge function version ARN (overrides the stack output).
    #[arg(long, value_name = "ARN")]
    function_version_arn: Option<String>,
    /// Real-time log configuration ARN (overrides the stack output).
    #[arg(long, value_name = "ARN")]
    realtime_log_config_arn: Option<String>,
    /// Path pattern (as it is now) of a behaviour to protect; repeatable; `default` names the
    /// default behaviour. Absent: every behaviour.
    #[arg(long, value_name = "PATTERN")]
    protect: Vec<String>,
    /// Do not attach the real-time log configuration.
    #[arg(long)]
    no_logs: bool,
    /// Do not attach the function (logs only).
    #[arg(long)]
    no_function: bool,
    /// Perform the changes (UpdateDistribution with If-Match); without it only the diff prints.
    #[arg(long)]
    apply: bool,
    /// AWS region of the stack (CloudFront itself is global).
    #[arg(long)]
    region: Option<String>,
    /// Endpoint URL for every AWS service (a local server such as moto).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

/// Runs a `deploy` subcommand.
pub(crate) fn run(cmd: DeployCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        DeployCommand::Init { out, force } => init(&out, force, json),
        DeployCommand::Render(args) => render(&args, json),
        DeployCommand::Attach(args) => attach_cmd(args, json),
        #[cfg(feature = "deploy")]
        DeployCommand::Apply(args) => remote::apply(args, json, false),
        #[cfg(feature = "deploy")]
        DeployCommand::Diff(args) => remote::apply(args, json, true),
        #[cfg(feature = "deploy")]
        DeployCommand::Delete(args) => remote::delete(args, json),
        #[cfg(not(feature = "deploy"))]
        DeployCommand::Apply(_) | DeployCommand::Diff(_) | DeployCommand::Delete(_) => {
            bail!("this smd-cli was built without the `deploy` feature (the AWS SDK parts)")
        }
    }
}

fn init(out: &Path, force: bool, json: bool) -> anyhow::Result<ExitCode> {
    if out.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", out.display());
    }
    write_atomic(out, EXAMPLE.as_bytes(), false)?;
    if json {
        print_json(&json!({"path": out.display().to_string()}))?;
    } else {
        errln!("wrote {} (every key commented, with its default)", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads `--config` (absent: the defaults).
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => {
            let text = read_text(path)?;
            Ok(Config::parse(&text).with_context(|| format!("in {}", path.display()))?)
        }
        None => Ok(Config::default()),
    }
}

fn render(args: &RenderArgs, json: bool) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let template = crate::deploy::render(&config)?;
    let text = crate::deploy::to_pretty(&template);
    let resources = template["Resources"].as_object().map_or(0, serde_json::Map::len);
    if args.out == Path::new("-") {
        out!("{text}")?;
        return Ok(ExitCode::SUCCESS);
    }
    write_atomic(&args.out, text.as_bytes(), false)?;
    if json {
        print_json(
            &json!({"path": args.out.display().to_string(), "bytes": text.len(), "resources": resources}),
        )?;
    } else {
        errln!("wrote {} ({} bytes, {resources} resources)", args.out.display(), text.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn attach_cmd(args: AttachArgs, json: bool) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.distribution_config {
        let doc = read_json(path)?;
        let (config, etag) = attach::distribution_config(&doc)?;
        let target = attach_target(&args, None)?;
        let changes = attach::plan(&attach::behaviours_from_json(config), &target)?;
        let id = args.distribution_id.as_deref().unwrap_or("(from file)");
        if let Some(out) = &args.out {
            let mut updated = config.clone();
            attach::apply_to_json(&mut updated, &changes);
            write_atomic(out, crate::deploy::to_pretty(&updated).as_bytes(), false)?;
        }
        if json {
            print_json(
                &json!({"distribution": id, "etag": etag, "changes": attach::changes_json(&changes), "applied": false}),
            )?;
        } else {
            out!("{}", attach::render_diff(id, &changes))?;
            if let (Some(out), Some(etag)) = (&args.out, etag) {
                errln!(
                    "\nwrote {}; apply with: aws cloudfront update-distribution --id ID --distribution-config file://{} --if-match {etag}",
                    out.display(),
                    out.display()
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    #[cfg(feature = "deploy")]
    {
        remote::attach(args, json)
    }
    #[cfg(not(feature = "deploy"))]
    {
        let _ = json;
        bail!("reading a distribution needs the `deploy` feature; pass --distribution-config FILE")
    }
}

/// The attach target from the flags, falling back to the stack outputs.
fn attach_target(
    args: &AttachArgs,
    outputs: Option<&[(String, String)]>,
) -> anyhow::Result<attach::Target> {
    let output =
        |key: &str| outputs.and_then(|o| o.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    let function = if args.no_function {
        None
    } else {
        args.function_version_arn.clone().or_else(|| output("EdgeFunctionVersionArn"))
    };
    let logs = if args.no_logs {
        None
    } else {
        args.realtime_log_config_arn.clone().or_else(|| output("RealtimeLogConfigArn"))
    };
    Ok(attach::Target {
        function_version_arn: function,
        realtime_log_config_arn: logs,
        protect: args.protect.clone(),
    })
}

#[cfg(feature = "deploy")]
fn parse_parameters(list: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    list.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .with_context(|| format!("--parameter {p:?} is not KEY=VALUE"))
        })
        .collect()
}

#[cfg(feature = "deploy")]
mod remote {
    //! The subcommands that talk to AWS.

    use std::process::ExitCode;
    use std::time::Duration;

    use anyhow::{Context as _, bail};
    use serde_json::json;

    use super::{AttachArgs, DeleteArgs, StackArgs, attach_target, load_config, parse_parameters};
    use crate::deploy::attach;
    use crate::deploy::aws::stack::{self, ParamValue, TemplateSource};
    use crate::deploy::aws::{self, Target, artifacts, cloudfront};
    use crate::support::{parse_duration_secs, print_json};

    fn timeout(text: &str) -> anyhow::Result<Duration> {
        Ok(Duration::from_secs(u64::try_from(parse_duration_secs(text)?)?))
    }

    pub(super) fn apply(args: StackArgs, json: bool, dry_run: bool) -> anyhow::Result<ExitCode> {
        let config = load_config(args.config.as_deref())?;
        let template = crate::deploy::render(&config)?;
        let overrides = parse_parameters(&args.parameters)?;
        let declared: Vec<String> = template["Parameters"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for (k, _) in &overrides {
            if !declared.contains(k) {
                bail!(
                    "--parameter {k}: the template has no such parameter (it has {})",
                    declared.join(", ")
                );
            }
        }
        let wait = timeout(&args.aws.timeout)?;
        if config.analytics.enabled
            && let Some(path) = &args.ingest_zip
        {
            let bytes =
                std::fs::read(path).with_context(|| format!("--ingest-zip {}", path.display()))?;
            crate::deploy::package::check_ingest_zip(&bytes, &config.ingest.architecture)
                .map_err(|e| anyhow::anyhow!("--ingest-zip {}: {e}", path.display()))?;
        }
        aws::runtime()?.block_on(async {
            let target = Target::load(args.aws.region.clone(), args.aws.endpoint.clone()).await;
            let cfn = target.cloudformation();
            let existing = stack::find(&cfn, &args.aws.stack).await?;
            let exists = existing.as_ref().is_some_and(|s| {
                s.stack_status().is_some_and(|st| st.as_str() != "REVIEW_IN_PROGRESS")
            });
            let body = serde_json::to_string(&template)?;
            let needs_upload = args.edge_zip.is_some() || args.ingest_zip.is_some() || body.len() > stack::TEMPLATE_BODY_LIMIT;
            let bucket = match (&args.artifacts_bucket, config.artifacts.bucket.as_str()) {
                (Some(b), _) => Some(b.clone()),
                (None, b) if !b.is_empty() => Some(b.to_owned()),
                _ if needs_upload => Some(artifacts::default_bucket(&target).await?),
                _ => None,
            };
            if needs_upload && let Some(b) = &bucket {
                artifacts::ensure_bucket(&target, b).await?;
            }
            let mut params: Vec<(String, ParamValue)> = Vec::new();
            for (enabled, zip, bucket_param, key_param, what) in [
                (config.edge.enabled, &args.edge_zip, "EdgeCodeBucket", "EdgeCodeKey", "--edge-zip (smd-cli edge package)"),
                (config.analytics.enabled, &args.ingest_zip, "IngestCodeBucket", "IngestCodeKey", "--ingest-zip (scripts/build-ingest-lambda.sh)"),
            ] {
                if !enabled {
                    continue;
                }
                match (zip, &bucket) {
                    (Some(path), Some(b)) => {
                        let key = artifacts::upload_file(&target, b, path).await?;
                        params.push((bucket_param.to_owned(), ParamValue::Value(b.clone())));
                        params.push((key_param.to_owned(), ParamValue::Value(key)));
                    }
                    _ if exists => {
                        params.push((bucket_param.to_owned(), ParamValue::Previous));
                        params.push((key_param.to_owned(), ParamValue::Previous));
                    }
                    _ => bail!("stack {} does not exist yet: pass {what}", args.aws.stack),
                }
            }
            for (k, v) in overrides {
                params.retain(|(p, _)| *p != k);
                params.push((k, ParamValue::Value(v)));
            }
            if exists {
                // Parameters not given keep their current values rather than reverting to defaults.
                for name in &declared {
                    let known = existing.as_ref().is_some_and(|s| {
                        s.parameters().iter().any(|p| p.parameter_key() == Some(name.as_str()))
                    });
                    if known && !params.iter().any(|(p, _)| p == name) {
                        params.push((name.clone(), ParamValue::Previous));
                    }
                }
            }
            let source = if body.len() > stack::TEMPLATE_BODY_LIMIT {
                let b = bucket.as_deref().context("no artifacts bucket for the template")?;
                let key = artifacts::key_for(body.as_bytes(), "template.json");
                artifacts::put(&target, b, &key, body.clone().into_bytes()).await?;
                errln!("template ({} bytes) uploaded to s3://{b}/{key}", body.len());
                TemplateSource::Url(artifacts::object_url(&target, b, &key)?)
            } else {
                TemplateSource::Body(body)
            };
            let set = stack::create_change_set(&target, &args.aws.stack, &source, &params).await?;
            if dry_run || set.unchanged {
                stack::discard(&target, &args.aws.stack, &set).await?;
                if json {
                    print_json(&json!({"stack": args.aws.stack, "action": if set.unchanged { "none" } else { set.kind }, "changes": stack::changes_json(&set), "executed": false}))?;
                } else {
                    stack::print_changes(&set)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            if !json {
                stack::print_changes(&set)?;
            }
            let outcome = stack::execute(&target, &args.aws.stack, &set, wait).await?;
            stack::print_failures(&outcome.failures);
            if json {
                let mut v = stack::outcome_json(&outcome);
                v["stack"] = json!(args.aws.stack);
                v["action"] = json!(set.kind);
                v["changes"] = stack::changes_json(&set);
                v["executed"] = json!(true);
                print_json(&v)?;
            } else {
                outln!("stack {}: {}", args.aws.stack, outcome.status)?;
                for (k, v) in &outcome.outputs {
                    outln!("  {k:<24} {v}")?;
                }
            }
            Ok(if outcome.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        })
    }

    pub(super) fn delete(args: DeleteArgs, json: bool) -> anyhow::Result<ExitCode> {
        let wait = timeout(&args.aws.timeout)?;
        aws::runtime()?.block_on(async {
            let target = Target::load(args.aws.region.clone(), args.aws.endpoint.clone()).await;
            let outcome = stack::delete(&target, &args.aws.stack, wait).await?;
            let Some(outcome) = outcome else {
                if json {
                    print_json(
                        &json!({"stack": args.aws.stack, "status": "DOES_NOT_EXIST", "ok": true}),
                    )?;
                } else {
                    outln!("stack {} does not exist; nothing to delete", args.aws.stack)?;
                }
                return Ok(ExitCode::SUCCESS);
            };
            stack::print_failures(&outcome.failures);
            if json {
                let mut v = stack::outcome_json(&outcome);
                v["stack"] = json!(args.aws.stack);
                print_json(&v)?;
            } else {
                outln!("stack {}: {}", args.aws.stack, outcome.status)?;
            }
            Ok(if outcome.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        })
    }

    pub(super) fn attach(args: AttachArgs, json: bool) -> anyhow::Result<ExitCode> {
        let id = args.distribution_id.clone().context("--distribution-id is required")?;
        aws::runtime()?.block_on(async {
            let target = Target::load(args.region.clone(), args.endpoint.clone()).await;
            let outputs = match &args.stack {
                Some(name) => {
                    let s = stack::find(&target.cloudformation(), name)
                        .await?
                        .with_context(|| format!("stack {name} does not exist"))?;
                    Some(
                        s.outputs()
                            .iter()
                            .map(|o| (o.output_key().unwrap_or_default().to_owned(), o.output_value().unwrap_or_default().to_owned()))
                            .collect::<Vec<_>>(),
                    )
                }
                None => None,
            };
            let goal = attach_target(&args, outputs.as_deref())?;
            if let Some(name) = &args.stack {
                if !args.no_function && goal.function_version_arn.is_none() {
                    bail!("stack {name} has no EdgeFunctionVersionArn output ([edge] enabled = false?); pass --function-version-arn or --no-function");
                }
                if !args.no_logs && goal.realtime_log_config_arn.is_none() {
                    bail!("stack {name} has no RealtimeLogConfigArn output ([analytics] enabled = false?); pass --realtime-log-config-arn or --no-logs");
                }
            }
            let mut current = cloudfront::read(&target, &id).await?;
            let changes = attach::plan(&cloudfront::behaviours(&current.config), &goal)?;
            if !json {
                out!("{}", attach::render_diff(&id, &changes))?;
            }
            let mut etag = None;
            if args.apply && !changes.is_empty() {
                cloudfront::apply(&mut current.config, &changes)?;
                etag = Some(cloudfront::update(&target, &id, current).await?);
                if !json {
                    outln!("\napplied; CloudFront is deploying the change (aws cloudfront wait distribution-deployed --id {id})")?;
                }
            } else if !args.apply && !changes.is_empty() && !json {
                outln!("\n(diff only: pass --apply to perform it)")?;
            }
            if json {
                print_json(&json!({"distribution": id, "changes": attach::changes_json(&changes), "applied": etag.is_some(), "etag": etag}))?;
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
