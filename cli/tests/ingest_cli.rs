//! The analytics commands end to end: logs generate → ingest file → query / report / athena ddl.
#![cfg(feature = "ingest")]
// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Scratch;
use serde_json::Value;

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smd-cli")).args(args).output().expect("runs")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn tmp(name: &str) -> Scratch {
    Scratch::new(&format!("smd-ingest-cli-{name}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn generate_ingest_query_report() {
    let dir = tmp("flow");
    let log = dir.join("gen.log");
    let lake = dir.join("lake");
    let generated = json(&cli(&[
        "--json",
        "logs",
        "generate",
        "--sessions",
        "15",
        "--minutes",
        "20",
        "--seed",
        "9",
        "--out",
        s(&log),
    ]));
    let lines = generated["lines"].as_u64().unwrap();
    assert!(lines > 1000);
    // The same seed gives the same file.
    let again = dir.join("again.log");
    json(&cli(&[
        "--json",
        "logs",
        "generate",
        "--sessions",
        "15",
        "--minutes",
        "20",
        "--seed",
        "9",
        "--out",
        s(&again),
    ]));
    assert_eq!(std::fs::read(&log).unwrap(), std::fs::read(&again).unwrap());

    let fields = generated["fields"].as_str().unwrap();
    let summary = json(&cli(&[
        "--json",
        "ingest",
        "file",
        "--input",
        s(&log),
        "--fields",
        fields,
        "--out",
        s(&lake),
    ]));
    let quarantined: u64 =
        summary["quarantined"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(summary["lines"].as_u64().unwrap(), lines);
    assert_eq!(summary["rows"].as_u64().unwrap() + quarantined, lines);
    assert_eq!(quarantined, lines / 1000, "one bad line in 1000");
    // 15 players, some without CMCD; a session spans at most two hours of this 20-minute window.
    let session_rows = summary["session_rows"].as_u64().unwrap();
    assert!((1..=30).contains(&session_rows), "{session_rows}");

    // query: a preset and free SQL agree on the session count
    let q = json(&cli(&["--json", "query", "--lake", s(&lake), "--preset", "rebuffering_ratio"]));
    assert_eq!(q["columns"][0], "dt");
    let per_hour: u64 = q["rows"].as_array().unwrap().iter().map(|r| r[2].as_u64().unwrap()).sum();
    let total = json(&cli(&[
        "--json",
        "query",
        "--lake",
        s(&lake),
        "SELECT COUNT(cmcd_sid) AS n FROM sessions",
    ]));
    assert_eq!(total["rows"][0][0].as_u64().unwrap(), per_hour);
    assert_eq!(per_hour, summary["session_rows"].as_u64().unwrap());
    for preset in
        ["startup", "bitrate_distribution", "sessions_by_edge", "sessions_by_country", "errors"]
    {
        let out = cli(&["query", "--lake", s(&lake), "--preset", preset]);
        assert!(out.status.success(), "{preset}: {}", String::from_utf8_lossy(&out.stderr));
    }

    let report = dir.join("report.html");
    let out = cli(&["report", "--lake", s(&lake), "--out", s(&report)]);
    assert!(out.status.success());
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );

    // Ingesting the same input again writes the same object names.
    let list = |root: &Path| {
        let mut v = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    v.push(p.strip_prefix(root).unwrap().to_path_buf())
                }
            }
        }
        v.sort();
        v
    };
    let lake2 = dir.join("lake2");
    json(&cli(&[
        "--json",
        "ingest",
        "file",
        "--input",
        s(&log),
        "--fields",
        fields,
        "--out",
        s(&lake2),
    ]));
    assert_eq!(list(&lake), list(&lake2));
}

#[test]
fn stdin_and_log_config() {
    let dir = tmp("stdin");
    let cfg = dir.join("cfg.json");
    std::fs::write(&cfg, r#"{"RealtimeLogConfig":{"Name":"x","SamplingRate":100,"Fields":["sc-status","timestamp","cs-uri-stem"]}}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smd-cli"))
        .args([
            "--json",
            "ingest",
            "file",
            "--input",
            "-",
            "--log-config",
            s(&cfg),
            "--out",
            s(&dir.join("lake")),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"1714650000.123\t200\t/a.m4s?CMCD=sid%3D%22x%22\n1714650000.500\t200\n1714650001.000\t404\t/b\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v = json(&out);
    assert_eq!(v["rows"], 2);
    assert_eq!(v["quarantined"]["field_count"], 1);
    assert_eq!(v["cmcd_rows"], 1);
    assert!(
        dir.join("lake/requests/dt=2024-05-02/hour=11/part-stdin-000000000001.parquet").is_file()
    );
    assert!(dir.join("lake/quarantine/part-stdin-000000000002.jsonl").is_file());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(cli(&["query", "--lake", ".", "--preset", "nope"]).status.code(), Some(2));
    assert_eq!(
        cli(&["ingest", "file", "--input", "x", "--fields", "c-ip", "--out", "y"]).status.code(),
        Some(2)
    );
    assert_eq!(
        cli(&[
            "ingest",
            "file",
            "--input",
            "/nonexistent/x.log",
            "--fields",
            "timestamp",
            "--out",
            "y"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(cli(&["athena", "ddl", "--location", "/local/dir"]).status.code(), Some(2));

    // Inputs are checked before anything is ingested: a directory or a missing file among them
    // is named, and no lake is started.
    let dir = tmp("bad-inputs");
    let log = dir.join("ok.log");
    let lake = dir.join("lake");
    let out = cli(&["logs", "generate", "--sessions", "2", "--minutes", "1", "--out", s(&log)]);
    assert!(out.status.success());
    let missing = dir.join("missing.log");
    for (bad, says) in [(&*dir, "is a directory"), (&missing, "opening")] {
        let out = cli(&[
            "ingest",
            "file",
            "--input",
            s(&log),
            s(bad),
            "--fields",
            "all",
            "--out",
            s(&lake),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(s(bad)) && stderr.contains(says), "{stderr}");
        assert!(!lake.exists(), "nothing ingested before the bad input was found");
    }
    let out = cli(&["ingest", "file", "--input", s(&log), "--fields", "all", "--out", s(&log)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

#[test]
fn athena_ddl() {
    let out = cli(&["athena", "ddl", "--location", "s3://bucket/cdn/", "--database", "qoe"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("CREATE EXTERNAL TABLE IF NOT EXISTS qoe.requests ("));
    assert!(text.contains("CREATE EXTERNAL TABLE IF NOT EXISTS qoe.sessions ("));
    assert!(text.contains("LOCATION 's3://bucket/cdn/requests/'"));
    assert!(text.contains("`timestamp` timestamp COMMENT"));
    assert!(text.contains("`cmcd_br` bigint COMMENT"));
    assert!(text.contains("'projection.hour.digits' = '2'"));
    assert!(text.contains("-- Query startup"));
}

/// A lake path that is not a lake is an error (exit 2, naming the path), not an empty answer.
#[test]
fn query_and_report_reject_a_path_that_is_not_a_lake() {
    let dir = tmp("not-a-lake");
    let missing = dir.join("missing");
    let report = dir.join("r.html");
    for (lake, says) in [(&*missing, "not a directory"), (&*dir, "is not a lake")] {
        for args in [
            vec!["query", "--lake", s(lake), "--preset", "startup"],
            vec!["query", "--lake", s(lake), "SELECT count(*) FROM requests"],
            vec!["report", "--lake", s(lake), "--out", s(&report)],
        ] {
            let out = cli(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(s(lake)) && stderr.contains(says), "{args:?}: {stderr}");
        }
    }
    assert!(!report.exists(), "no report for a path that is not a lake");
    // An ingest without a single good line is still a lake (only `quarantine/`): empty answers.
    let log = dir.join("bad.log");
    std::fs::write(&log, "not a log line\n").unwrap();
    let lake = dir.join("lake");
    let out = cli(&["ingest", "file", "--input", s(&log), "--fields", "all", "--out", s(&lake)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let q =
        json(&cli(&["--json", "query", "--lake", s(&lake), "SELECT count(*) AS n FROM requests"]));
    assert_eq!(q["rows"][0][0], 0);
}

/// Output into a pipe whose reader has gone (`smd-cli query … | head -1`) ends the command
/// quietly with status 0: no panic (status 101) and no error message.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tmp("closed-pipe");
    let log = dir.join("t.log");
    let lake = dir.join("lake");
    let out = cli(&["logs", "generate", "--sessions", "5", "--minutes", "3", "--out", s(&log)]);
    assert!(out.status.success());
    let out = cli(&["ingest", "file", "--input", s(&log), "--fields", "all", "--out", s(&lake)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let sql = "SELECT * FROM requests";
    let commands: [&[&str]; 5] = [
        &["athena", "ddl", "--location", "s3://b/p"],
        &["--json", "athena", "ddl", "--location", "s3://b/p"],
        &["query", "--lake", s(&lake), sql],
        &["--json", "query", "--lake", s(&lake), sql],
        &["logs", "generate", "--sessions", "5", "--minutes", "3", "--out", "-"],
    ];
    for args in commands {
        // The read end is closed before the command starts: its first write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_smd-cli"))
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
