//! `smd-cli deploy init | render | attach` as a user runs them (no AWS: render is pure, attach
//! reads a committed `get-distribution-config` fixture). The AWS parts run against moto in
//! `cli/tests/py/test_deploy_moto.py` (scripts/test.sh).
//!
//! Golden templates: `SMD_UPDATE_GOLDEN=1 cargo test -p smd-cli --test deploy_cli` rewrites
//! them; review the diff (cli/testdata/deploy/README.md).

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Scratch;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smd-cli"))
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/deploy").join(name)
}

fn scratch() -> Scratch {
    Scratch::new("smd-deploy-test")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn render(config: &Path) -> String {
    let out = run(&["deploy", "render", "--config", config.to_str().unwrap(), "--out", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

const CONFIGS: [&str; 4] = ["defaults", "provisioned", "edge-only", "analytics-only"];

#[test]
fn rendered_templates_match_the_golden_files() {
    let update = std::env::var_os("SMD_UPDATE_GOLDEN").is_some();
    for name in CONFIGS {
        let got = render(&testdata(&format!("{name}.toml")));
        let golden = testdata(&format!("{name}.template.json"));
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!("{}: {e} (SMD_UPDATE_GOLDEN=1 creates it)", golden.display())
        });
        assert!(
            got == want,
            "{name}: the rendered template differs from {}; if the change is deliberate, regenerate with SMD_UPDATE_GOLDEN=1 and review the diff",
            golden.display()
        );
    }
}

#[test]
fn rendering_is_deterministic() {
    let a = render(&testdata("defaults.toml"));
    let b = render(&testdata("defaults.toml"));
    assert_eq!(a, b);
}

fn resources(template: &Value) -> Vec<(String, String)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["Type"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn parts_follow_the_configuration() {
    let types = |name: &str| -> Vec<String> {
        let t: Value = serde_json::from_str(&render(&testdata(&format!("{name}.toml")))).unwrap();
        resources(&t).into_iter().map(|(_, ty)| ty).collect()
    };
    let all = types("defaults");
    for ty in [
        "AWS::Lambda::Function",
        "AWS::Lambda::Version",
        "AWS::S3::Bucket",
        "AWS::Kinesis::Stream",
        "AWS::CloudFront::RealtimeLogConfig",
        "AWS::Lambda::EventSourceMapping",
        "AWS::SQS::Queue",
        "AWS::Glue::Database",
        "AWS::Glue::Table",
        "AWS::Athena::WorkGroup",
        "AWS::Athena::NamedQuery",
    ] {
        assert!(all.iter().any(|t| t == ty), "defaults lack {ty}");
    }
    assert_eq!(all.iter().filter(|t| *t == "AWS::Athena::NamedQuery").count(), 6);
    let edge = types("edge-only");
    assert_eq!(edge, ["AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Lambda::Version"]);
    let analytics = types("analytics-only");
    assert!(!analytics.iter().any(|t| t == "AWS::Lambda::Version" || t.starts_with("AWS::Athena")));
    assert!(analytics.iter().any(|t| t == "AWS::Glue::Table"));
}

#[test]
fn the_realtime_log_config_and_the_ingest_agree_on_fields() {
    for name in ["defaults", "provisioned"] {
        let t: Value = serde_json::from_str(&render(&testdata(&format!("{name}.toml")))).unwrap();
        let fields: Vec<&str> = t["Resources"]["RealtimeLogConfig"]["Properties"]["Fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let env =
            t["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]["FIELDS"]
                .as_str()
                .unwrap();
        assert_eq!(env, fields.join(","), "{name}");
        assert_eq!(fields.iter().filter(|f| f.starts_with("cmcd-")).count(), 18, "{name}");
        assert_eq!(fields.first(), Some(&"timestamp"));
    }
}

#[test]
fn init_writes_the_commented_example_and_it_renders_like_the_defaults() {
    let dir = scratch();
    let path = dir.join("deploy.toml");
    let out = run(&["deploy", "init", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() > 40,
        "the example documents its keys"
    );
    assert_eq!(render(&path), render(&testdata("defaults.toml")));
    let again = run(&["deploy", "init", "--out", path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "init never overwrites without --force");
}

#[test]
fn bad_configurations_exit_2_with_the_key_and_a_code() {
    let dir = scratch();
    let cases = [
        ("[stream]\nmode = \"FAST\"\n", "stream.mode", "[bad_value]"),
        (
            "[realtime_log]\nexclude_fields = [\"cmcd-buffer-length\"]\n",
            "cmcd-buffer-length",
            "[required_field]",
        ),
        ("[lake]\nbukcet_name = \"x\"\n", "bukcet_name", "[syntax]"),
        ("[ingest]\nbatch_size = 20000\n", "ingest.batch_size", "[out_of_range]"),
    ];
    for (i, (text, key, code)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = run(&["deploy", "render", "--config", path.to_str().unwrap(), "--out", "-"]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        assert!(err.contains(key) && err.contains(code), "{text}: {err}");
        assert!(out.stdout.is_empty());
    }
}

const FN3: &str = "arn:aws:lambda:us-east-1:123456789012:function:smd-edge:3";
const RT: &str = "arn:aws:cloudfront::123456789012:realtime-log-config/smd-cmcd";

#[test]
fn attach_prints_the_cache_behaviour_diff_of_a_distribution_config() {
    let fixture = testdata("distribution-config.json");
    let out = run(&[
        "deploy",
        "attach",
        "--distribution-config",
        fixture.to_str().unwrap(),
        "--function-version-arn",
        FN3,
        "--realtime-log-config-arn",
        RT,
        "--protect",
        "/out/*",
        "--protect",
        "/v1/master/*",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Hand-derived from the fixture: the default and /ads/* behaviours only get the logs; the
    // two protected ones get the function, replacing /out/*'s old viewer-request function, and
    // the leading wildcard.
    let want = format!(
        "distribution (from file): 4 cache behaviour(s) change

default cache behaviour
  real-time log configuration
  - (none)
  + {RT}

cache behaviour \"/out/*\"
  path pattern (path tokens precede the path)
  - /out/*
  + */out/*
  viewer-request Lambda@Edge function
  - arn:aws:lambda:us-east-1:123456789012:function:old-token-check:4
  + {FN3}
  real-time log configuration
  - (none)
  + {RT}

cache behaviour \"/v1/master/*\"
  path pattern (path tokens precede the path)
  - /v1/master/*
  + */v1/master/*
  viewer-request Lambda@Edge function
  - (none)
  + {FN3}
  real-time log configuration
  - (none)
  + {RT}

cache behaviour \"/ads/*\"
  real-time log configuration
  - (none)
  + {RT}
"
    );
    assert_eq!(stdout(&out), want);
}

#[test]
fn attach_offline_writes_the_updated_config_keeping_everything_else() {
    let dir = scratch();
    let updated = dir.join("updated.json");
    let fixture = testdata("distribution-config.json");
    let out = run(&[
        "--json",
        "deploy",
        "attach",
        "--distribution-config",
        fixture.to_str().unwrap(),
        "--function-version-arn",
        FN3,
        "--no-logs",
        "--protect",
        "/out/*",
        "--out",
        updated.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["etag"], "E2QWRUHAPOMQZL");
    assert_eq!(report["changes"].as_array().unwrap().len(), 1);
    assert_eq!(report["changes"][0]["path_pattern"]["to"], "*/out/*");
    let before: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&updated).unwrap()).unwrap();
    let out_b = &after["CacheBehaviors"]["Items"][0];
    assert_eq!(out_b["PathPattern"], "*/out/*");
    let assoc = &out_b["LambdaFunctionAssociations"];
    assert_eq!(assoc["Quantity"], 2);
    assert_eq!(assoc["Items"][0]["LambdaFunctionARN"], FN3);
    assert_eq!(assoc["Items"][0]["EventType"], "viewer-request");
    assert_eq!(assoc["Items"][1]["EventType"], "origin-response", "other triggers are kept");
    // Everything else is untouched.
    let mut expected = before["DistributionConfig"].clone();
    expected["CacheBehaviors"]["Items"][0] = out_b.clone();
    assert_eq!(after, expected);
    // Applying again changes nothing.
    let again = run(&[
        "deploy",
        "attach",
        "--distribution-config",
        updated.to_str().unwrap(),
        "--function-version-arn",
        FN3,
        "--no-logs",
        "--protect",
        "*/out/*",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("already attached, nothing to change"));
}

#[test]
fn attach_refuses_an_unversioned_function() {
    let fixture = testdata("distribution-config.json");
    let out = run(&[
        "deploy",
        "attach",
        "--distribution-config",
        fixture.to_str().unwrap(),
        "--function-version-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:smd-edge",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[unqualified_function]"), "{}", stderr(&out));
}
