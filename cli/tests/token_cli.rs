//! End-to-end tests of `smd-cli keys | sign | verify | inspect | revoke` through the built binary,
//! with a fixed `--now`, against the SMD interoperability vectors.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Scratch;
use serde_json::{Value, json};

const VECTORS: &str = include_str!("../../token-core/testdata/smd/smd_vectors.json");

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smd-cli"));
    cmd.env_remove("SMD_KEYS");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run smd-cli")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn scratch() -> Scratch {
    Scratch::new("smd-cli-test")
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

/// The vectors' signing key and the edge's two-key set, in our key-file layout.
fn vector_key_files(dir: &Path) -> (PathBuf, PathBuf) {
    let v = vectors();
    let signing =
        write(dir, "sign-keys.json", &json!({"primary": {v["kid"].as_str().unwrap(): v["key"]}}));
    let secrets = v["edge_secrets"].as_object().unwrap();
    let mut it = secrets.iter();
    let (k1, v1) = it.next().unwrap();
    let (k2, v2) = it.next().unwrap();
    let edge = write(dir, "edge-keys.json", &json!({"primary": {k1: v1}, "secondary": {k2: v2}}));
    (signing, edge)
}

#[test]
fn sign_reproduces_every_generated_vector_with_a_playback_url() {
    let dir = scratch();
    let v = vectors();
    let (signing, _) = vector_key_files(&dir);
    let mut checked = 0;
    for case in v["cases"].as_array().unwrap() {
        let Some(url) = case["sdk_playback_url"].as_str() else { continue };
        let policy = write(&dir, "policy.json", &case["token_policy"]);
        let viewer = write(&dir, "viewer.json", &case["sdk_viewer_attributes"]);
        let out = run(bin()
            .args(["sign", "--url", url, "--now", &v["gen_time"].to_string()])
            .arg("--keys")
            .arg(&signing)
            .arg("--policy")
            .arg(&policy)
            .arg("--viewer")
            .arg(&viewer));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            stdout(&out).trim_end(),
            case["generated"].as_str().unwrap(),
            "case {}",
            case["name"]
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn verify_json_contract_and_exit_codes_over_the_vectors() {
    let dir = scratch();
    let v = vectors();
    let (_, edge) = vector_key_files(&dir);
    let case = &v["cases"][0];
    let url = case["generated"].as_str().unwrap();
    for req in case["requests"].as_array().unwrap() {
        let input = &req["input"];
        if input["uri_from_url"].as_bool() != Some(true) {
            continue;
        }
        let mut cmd = bin();
        cmd.args([
            "verify",
            "--json",
            "--profile",
            "smd-compat",
            "--url",
            url,
            "--now",
            &input["now"].to_string(),
        ]);
        cmd.arg("--keys").arg(&edge).args(["--ip", input["ip"].as_str().unwrap()]);
        for (name, value) in input["headers"].as_object().unwrap() {
            cmd.args(["-H", &format!("{name}: {}", value["value"].as_str().unwrap())]);
        }
        let out = run(&mut cmd);
        let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let accepted = req["expect_status"] == 200;
        assert_eq!(got["accepted"], json!(accepted), "{}", req["name"]);
        assert_eq!(got["forwarded_uri"], req["expect_forwarded_uri"], "{}", req["name"]);
        assert_eq!(got.as_object().unwrap().len(), 3, "exactly accepted, forwarded_uri, code");
        assert_eq!(got["code"].is_null(), accepted);
        assert_eq!(out.status.code(), Some(if accepted { 0 } else { 1 }), "{}", req["name"]);
    }
}

#[test]
fn verify_plain_output_and_event_input() {
    let dir = scratch();
    let v = vectors();
    let (_, edge) = vector_key_files(&dir);
    let case = &v["cases"][0];
    let path =
        case["generated"].as_str().unwrap().trim_start_matches("https://d111.cloudfront.net");
    let event = |ua: &str| {
        json!({
            "version": "1.0",
            "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "198.51.100.7"},
            "request": {
                "method": "GET",
                "uri": path,
                "querystring": {},
                "headers": {"user-agent": {"value": ua}, "referer": {"value": "https://player.example/"}},
                "cookies": {}
            }
        })
    };
    let ok = write(&dir, "ok.json", &event("UA-1"));
    let out = run(bin()
        .args(["verify", "--now", "1700000000"])
        .arg("--keys")
        .arg(&edge)
        .arg("--event")
        .arg(&ok));
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "/out/v1/abc/index.m3u8\n"));
    let bad = write(&dir, "bad.json", &event("UA-2"));
    let out = run(bin()
        .args(["verify", "--now", "1700000000"])
        .arg("--keys")
        .arg(&edge)
        .arg("--event")
        .arg(&bad));
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(1), "binding_mismatch\n"));
    let out = run(bin()
        .args(["verify", "--now", "1700010801"])
        .arg("--keys")
        .arg(&edge)
        .arg("--event")
        .arg(&ok));
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(1), "expired\n"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = scratch();
    let out = run(bin().args(["verify", "--url", "/x/y", "--keys"]).arg(dir.join("missing.json")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    let out = run(bin().args(["verify", "--url", "/x/y"]));
    assert_eq!(out.status.code(), Some(2), "no keys anywhere");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SMD_KEYS"));
    let out = run(bin().args(["sign", "--bogus"]));
    assert_eq!(out.status.code(), Some(2));
}

/// Runs `args` with standard error a pipe whose reader is already closed, so every write to it
/// fails with EPIPE.
fn run_with_closed_stderr(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    run(bin().args(args).stderr(writer))
}

#[test]
fn a_closed_standard_error_does_not_stop_the_command() {
    let dir = scratch();
    let keys = dir.join("keys.json");
    // `keys generate` reports the new key on standard error; the key file is the result.
    let out = run_with_closed_stderr(&["keys", "generate", "--out", keys.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "status {:?}", out.status);
    assert!(std::fs::read_to_string(&keys).unwrap().contains("\"primary\""));
    // An error still exits with its own status when its message cannot be written.
    let missing = dir.join("missing.json");
    let out =
        run_with_closed_stderr(&["verify", "--url", "/x/y", "--keys", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "status {:?}", out.status);
}

#[test]
fn keys_generate_sign_verify_rotate_with_env_keys() {
    let dir = scratch();
    let keys = dir.join("keys.json");
    let out = run(bin().args(["keys", "generate", "--out"]).arg(&keys));
    assert!(out.status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let set: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    let (kid, key) = set["primary"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(kid.len(), kid.find('_').unwrap() + 21, "kid is YYYYMMD_ + 20 hex: {kid}");
    assert_eq!(key.as_str().unwrap().len(), 128);
    let again = run(bin().args(["keys", "generate", "--out"]).arg(&keys));
    assert_eq!(again.status.code(), Some(2), "refuses to overwrite");

    let text = std::fs::read_to_string(&keys).unwrap();
    let out = run(bin().env("SMD_KEYS", &text).args([
        "sign",
        "--url",
        "https://cdn.example/live/index.m3u8",
        "--ttl",
        "1h",
        "--now",
        "1800000000",
        "--bind-ip",
        "2001:db8::1",
    ]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = stdout(&out).trim_end().to_owned();
    assert!(
        url.starts_with("https://cdn.example/eyJ") && url.ends_with("/live/index.m3u8"),
        "{url}"
    );

    let verify = |ip: &str, now: &str| {
        run(bin().env("SMD_KEYS", &text).args(["verify", "--url", &url, "--ip", ip, "--now", now]))
            .status
            .code()
    };
    assert_eq!(verify("2001:db8:0:0:0:0:0:1", "1800000000"), Some(0));
    assert_eq!(verify("2001:db8::2", "1800000000"), Some(1));
    assert_eq!(verify("2001:db8::1", "1800003601"), Some(1));

    let out = run(bin().args(["keys", "rotate", "--json", "--keys"]).arg(&keys));
    let rotated: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rotated["secondary"], json!(kid));
    let out = run(bin()
        .args(["verify", "--url", &url, "--ip", "2001:db8::1", "--now", "1800000000", "--keys"])
        .arg(&keys));
    assert_eq!(out.status.code(), Some(0), "the old primary still verifies as secondary");
}

#[test]
fn sign_flags_build_the_policy() {
    let dir = scratch();
    let (signing, _) = vector_key_files(&dir);
    let out = run(bin()
        .args([
            "sign",
            "--json",
            "--url",
            "https://h/out/v1/abc/index.m3u8?m=42",
            "--now",
            "1700000000",
        ])
        .args([
            "--session-id",
            "abcDEF123456",
            "--bind-header",
            "user-agent",
            "-H",
            "User-Agent: UA-1",
        ])
        .args(["--bind-query", "m", "--exclude", "/ads/", "--path", "/out/v1/", "--ttl", "3h"])
        .arg("--keys")
        .arg(&signing));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(got["session_id"], "abcDEF123456");
    assert_eq!(got["exp"], 1_700_000_000 + 3 * 3600);
    assert_eq!(got["paths"], json!(["/out/v1/"]));
    let url = got["url"].as_str().unwrap();
    let inspect = run(bin().args(["inspect", "--json", url]));
    let claims: Value = serde_json::from_str(&stdout(&inspect)).unwrap();
    assert_eq!(claims["verified"], false);
    assert_eq!(claims["claims"]["headers"], json!(["user-agent"]));
    assert_eq!(claims["claims"]["qs"], json!(["m"]));
    assert_eq!(claims["claims"]["exc"], json!(["/ads/"]));
    // Claim order is SMD's.
    let keys: Vec<&String> = claims["claims"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["ip", "co", "cty", "reg", "ssn", "exp", "headers", "qs", "intsig", "paths", "exc", "iat"]
    );
}

#[test]
fn revoke_add_list_export_and_verify() {
    let dir = scratch();
    let (signing, _) = vector_key_files(&dir);
    let revoked = dir.join("revoked.json");
    let out = run(bin()
        .args([
            "sign",
            "--url",
            "/out/a.m3u8",
            "--now",
            "1700000000",
            "--session-id",
            "sessREVOKE1",
        ])
        .arg("--keys")
        .arg(&signing));
    let url = stdout(&out).trim_end().to_owned();
    let add = run(bin()
        .args(["revoke", "add", "sessREVOKE1", "--for", "2h", "--now", "1700000000", "--revoked"])
        .arg(&revoked));
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let list = run(bin()
        .args(["revoke", "list", "--json", "--now", "1700000000", "--revoked"])
        .arg(&revoked));
    let entries: Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(entries[0]["session_id"], "sessREVOKE1");
    assert_eq!(entries[0]["expires_at"], 1_700_007_200);

    let verify = |now: &str| {
        let out = run(bin()
            .args(["verify", "--json", "--url", &url, "--now", now])
            .arg("--keys")
            .arg(&signing)
            .arg("--revoked")
            .arg(&revoked));
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()["code"].clone()
    };
    assert_eq!(verify("1700000100"), json!("revoked"));
    assert_eq!(verify("1700007201"), json!("expired"), "revocation lapsed; the 1 h token too");

    let waf =
        run(bin().args(["revoke", "export-waf", "--now", "1700000000", "--revoked"]).arg(&revoked));
    let group: Value = serde_json::from_str(&stdout(&waf)).unwrap();
    assert_eq!(group["Scope"], "CLOUDFRONT");
    let stmt = &group["Rules"][0]["Statement"]["ByteMatchStatement"];
    assert_eq!(stmt["SearchString"], "/sessREVOKE1.");
    assert_eq!(stmt["PositionalConstraint"], "STARTS_WITH");
    assert_eq!(group["Rules"][0]["Action"], json!({"Block": {}}));
}

#[test]
fn inspect_rejects_garbage() {
    let out = run(bin().args(["inspect", "not-a-token"]));
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(1), "malformed\n"));
}

#[test]
fn quickstart_runs_the_whole_workflow() {
    let dir = scratch();
    let out = run(bin()
        .args(["quickstart", "--json", "--players", "4", "--duration", "4s", "--dir"])
        .arg(dir.join("qs")));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 8);
    for c in checks {
        assert_eq!(c["got"], c["expected"], "{c}");
    }
    assert_eq!(report["edge"]["sim"]["unexpected_rejections"], 0);
    assert!(report["edge"]["edge_requests"].as_u64().unwrap() > 10);
    for file in ["keys.json", "revoked.json", "waf-rule-group.json", "edge.log"] {
        assert!(dir.join("qs").join(file).is_file(), "{file}");
    }
}
