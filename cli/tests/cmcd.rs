//! `smd-cli cmcd …` end to end: stdout JSON and exit codes, including `decode --raw --json`
//! over every case of the shared CMCD vector file.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{Value as Json, json};

const VECTORS: &str = include_str!("../../token-core/testdata/cmcd/cmcd_vectors.json");

fn smd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smd-cli")).args(args).output().expect("runs smd-cli")
}

fn smd_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smd-cli"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns smd-cli");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("writes stdin");
    child.wait_with_output().expect("waits")
}

fn stdout_json(out: &Output) -> Json {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

#[test]
fn raw_json_matches_every_vector() {
    let cases: Vec<Json> = serde_json::from_str(VECTORS).expect("vector file");
    assert_eq!(cases.len(), 76);
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (input, form) = (case["input"].as_str().unwrap(), case["form"].as_str().unwrap());
        let out = smd(&["cmcd", "decode", "--raw", "--json", "--form", form, "--", input]);
        let got = stdout_json(&out);
        let ok = if case["expected"] == "error" {
            code(&out) == 1 && got["error"].is_string() && got.get("offset").is_some()
        } else {
            code(&out) == 0 && got == case["expected"]
        };
        if !ok {
            failures.push(format!(
                "#{i} exit {}: expected {} got {got}",
                code(&out),
                case["expected"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn raw_error_reports_code_and_offset() {
    let out = smd(&["cmcd", "decode", "--raw", "--json", "--form", "dict", "ot=v,"]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout_json(&out), json!({ "error": "syntax", "offset": 5 }));
}

#[test]
fn typed_decode_reports_drops_and_leniencies() {
    // montevideo validator case: su=true is a Token, not a Boolean.
    let query = "CMCD=cid%3D%2221cf726cfe3d937b5f974f72bb5bd06a%22%2Cot%3Di%2Csf%3Dd%2Csid%3D%22b248658d-1d1a-4039-91d0-8c08ba597da5%22%2Cst%3Dv%2Csu%3Dtrue";
    let out = smd(&["--json", "cmcd", "decode", query]);
    assert_eq!(code(&out), 0);
    let doc = stdout_json(&out);
    assert_eq!(doc["dropped"], json!([{ "key": "su", "reason": "wrong_type" }]));
    assert_eq!(doc["values"]["ot"], json!({ "token": "i" }));
    assert_eq!(doc["version"], 1);

    let out = smd(&["--json", "cmcd", "decode", "--policy", "lenient", query]);
    let doc = stdout_json(&out);
    assert_eq!(doc["values"]["su"], json!(true));
    assert_eq!(doc["leniencies"], json!({ "token_boolean": 1 }));
    assert_eq!(doc["dropped"], json!([]));
}

#[test]
fn typed_decode_rejects_v3_with_exit_1() {
    let out = smd(&["--json", "cmcd", "decode", "--form", "dict", "v=3,br=100"]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout_json(&out), json!({ "error": "unsupported_version", "offset": null }));
}

#[test]
fn header_form_reads_crlf_lines_from_stdin() {
    let headers = "CMCD-Object: br=(3000;v),ot=v\r\nCMCD-Session: sid=\"s\",v=2\r\n";
    let out = smd_stdin(&["--json", "cmcd", "decode", "-"], headers);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc = stdout_json(&out);
    assert_eq!(doc["values"]["br"], json!([{ "value": 3000, "params": { "v": true } }]));
    assert_eq!(doc["values"]["sid"], json!("s"));
}

#[test]
fn body_form_decodes_each_record() {
    let out =
        smd(&["--json", "cmcd", "decode", "--form", "body", "e=t,ts=1,v=2\ne=ps,sta=p,ts=2,v=2"]);
    assert_eq!(code(&out), 0);
    let doc = stdout_json(&out);
    assert_eq!(doc.as_array().map(Vec::len), Some(2));
    assert_eq!(doc[1]["values"]["sta"], json!({ "token": "p" }));
}

#[test]
fn encode_reproduces_the_vector_inputs() {
    // Vectors #0 and #15: encode_from with version 2.
    let data =
        r#"{"br": [1000], "com.example-hello": "world", "ec": ["ERR001", "ERR002"], "su": true}"#;
    let out = smd(&["cmcd", "encode", "--json", data, "--version", "2"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        "br=(1000),com.example-hello=\"world\",ec=(\"ERR001\" \"ERR002\"),su,v=2\n"
    );
    let out = smd(&["cmcd", "encode", "--json", data, "--form", "query", "--version", "2"]);
    assert_eq!(
        stdout(&out),
        "CMCD=br%3D(1000)%2Ccom.example-hello%3D%22world%22%2Cec%3D(%22ERR001%22%20%22ERR002%22)%2Csu%2Cv%3D2\n"
    );
}

#[test]
fn encode_shards_and_rounds() {
    let data = r#"{"bl": 21349, "br": 3200, "pr": {"decimal": 1.08}, "sid": "s", "su": true}"#;
    let out = smd(&["cmcd", "encode", "--form", "header", "--version", "1", data]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        "CMCD-Object: br=3200\nCMCD-Request: bl=21300,su\nCMCD-Session: pr=1.08,sid=\"s\"\n"
    );
}

#[test]
fn encode_rejects_bad_data() {
    let out = smd(&["cmcd", "encode", r#"{"br": "3200"}"#]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong_type"));
    let out = smd(&["cmcd", "encode", "not json"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn validate_reports_issues_and_exit_codes() {
    let out = smd(&[
        "--json",
        "cmcd",
        "validate",
        "CMCD-Session: pr=1.08,sid=\"s\",v=2\nCMCD-Request: bl=21345,sta=x",
    ]);
    assert_eq!(code(&out), 1);
    let doc = stdout_json(&out);
    assert_eq!(doc["valid"], json!(false));
    let codes: Vec<&str> =
        doc["issues"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    for expected in ["invalid_token", "wrong_shard", "scalar_for_list", "not_rounded"] {
        assert!(codes.contains(&expected), "{expected} missing from {codes:?}");
    }
    let out = smd(&["cmcd", "validate", "--form", "dict", "bl=21300,br=3200,ot=v,sid=\"s\""]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "valid\n");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(code(&smd(&["cmcd", "decode", "--form", "nope", "x"])), 2);
    assert_eq!(code(&smd(&["cmcd", "encode", "--version", "3", "{}"])), 2);
    assert_eq!(code(&smd(&["cmcd"])), 2);
}
