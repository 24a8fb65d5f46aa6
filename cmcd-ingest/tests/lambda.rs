//! The Lambda ingest handler invoked in-process with a Kinesis event fixture
//! (`testdata/kinesis/kinesis-event.json`) against moto S3 (run under
//! `scripts/emulators.sh --only moto`), the lake read back by pyarrow from `.venv`:
//! every good line lands once, bad records are quarantined, a failing S3 yields the first record
//! of every shard group in `batchItemFailures`, and a bisected retry after a longer attempt
//! followed by the rest leaves exactly the input lines. One test needs no server: on a
//! directory lake, a write failure of one shard names only that shard's first record.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use cmcd_ingest::field::FieldSet;
use cmcd_ingest::lambda::{BatchItemFailure, BatchResponse, Handler, KinesisEvent, Settings};
use cmcd_ingest::pipeline::Config;
use cmcd_ingest::store::{ObjectStore, RetryPolicy, S3Options};

const FIXTURE: &str = include_str!("../testdata/kinesis/kinesis-event.json");

fn event() -> KinesisEvent {
    serde_json::from_str(FIXTURE).unwrap()
}

fn endpoint() -> String {
    std::env::var("S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("S3_ENDPOINT is not set: run this test under scripts/emulators.sh --only moto")
    })
}

fn options() -> S3Options {
    S3Options {
        endpoint: Some(endpoint()),
        region: Some("us-east-1".into()),
        path_style: true,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        },
        ..S3Options::default()
    }
}

/// A handler on a fresh bucket (`s3://<bucket>/lake`).
async fn handler(name: &str) -> (Handler, ObjectStore, String) {
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().subsec_nanos();
    let bucket = format!("{name}-{}-{nanos}", std::process::id());
    let store = ObjectStore::open(&format!("s3://{bucket}/lake"), &options()).await.unwrap();
    let ObjectStore::S3(s3) = &store else { panic!("an S3 store") };
    s3.client().create_bucket().bucket(&bucket).send().await.unwrap();
    (Handler::new(store.clone(), FieldSet::all(), Config::default()), store, bucket)
}

/// Request ids of the good lines of the event, and the sequence numbers of its bad records.
fn expected(event: &KinesisEvent) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut ids = BTreeMap::new();
    let mut bad = Vec::new();
    for r in &event.records {
        let Ok(data) = base64::engine::general_purpose::STANDARD.decode(&r.kinesis.data) else {
            bad.push(r.kinesis.sequence_number.clone());
            continue;
        };
        let text = String::from_utf8(data).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            bad.push(r.kinesis.sequence_number.clone());
        }
        for line in lines {
            let cells: Vec<&str> = line.split('\t').collect();
            if cells.len() == 69 {
                *ids.entry(cells[12].to_owned()).or_default() += 1;
            } else {
                bad.push(r.kinesis.sequence_number.clone());
            }
        }
    }
    (ids, bad)
}

/// The request ids in the lake, read by pyarrow.
fn lake_ids(bucket: &str) -> (BTreeMap<String, usize>, Vec<String>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python =
        std::env::var_os("SMD_PYTHON").map_or_else(|| root.join(".venv/bin/python"), PathBuf::from);
    assert!(
        python.exists(),
        "{} is missing: run scripts/emulators.sh (it creates .venv from requirements-test.txt)",
        python.display()
    );
    let out = std::process::Command::new(&python)
        .arg(root.join("cmcd-ingest/tests/py/s3_lake_ids.py"))
        .args([endpoint().as_str(), bucket, "lake"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids = BTreeMap::new();
    for id in v["ids"].as_array().unwrap() {
        *ids.entry(id.as_str().unwrap().to_owned()).or_default() += 1;
    }
    let files =
        v["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
    (ids, files)
}

/// Quarantined (position, reason) pairs in the lake.
async fn quarantined(store: &ObjectStore) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in store.list("quarantine/").await.unwrap() {
        let bytes = store.get(&key).await.unwrap().unwrap();
        for line in String::from_utf8(bytes).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push((
                v["position"].as_str().unwrap().to_owned(),
                v["reason"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

fn first_of_each_shard(event: &KinesisEvent) -> Vec<String> {
    let mut seen = Vec::new();
    let mut firsts = Vec::new();
    for r in &event.records {
        if !seen.contains(&r.shard().to_owned()) {
            seen.push(r.shard().to_owned());
            firsts.push(r.kinesis.sequence_number.clone());
        }
    }
    firsts
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn every_line_lands_and_bad_records_are_quarantined() {
    let (handler, store, bucket) = handler("lambda-all").await;
    let event = event();
    let response = handler.handle(&event).await;
    assert_eq!(response, BatchResponse::default());
    assert_eq!(serde_json::to_string(&response).unwrap(), r#"{"batchItemFailures":[]}"#);
    let (want, bad) = expected(&event);
    let (got, files) = lake_ids(&bucket);
    assert_eq!(got, want);
    assert!(want.len() > 100, "{}", want.len());
    // Two shards × four hours (the lines run from 11:07 to 14:04 UTC), each object named by
    // its shard's first sequence number.
    assert_eq!(files.len(), 8, "{files:?}");
    let firsts = first_of_each_shard(&event);
    for f in &files {
        assert!(firsts.iter().any(|s| f.ends_with(&format!("-{s}.parquet"))), "{f}");
    }
    let q = quarantined(&store).await;
    let mut reasons: Vec<&str> = q.iter().map(|(_, r)| r.as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["bad_payload", "empty", "field_count"]);
    let mut positions: Vec<String> = q.into_iter().map(|(p, _)| p).collect();
    positions.sort();
    let mut bad = bad;
    bad.sort();
    assert_eq!(positions, bad);
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn a_failing_store_names_the_first_record_of_each_shard_group() {
    let store = ObjectStore::open("s3://no-such-bucket-for-lambda/lake", &options()).await.unwrap();
    let handler = Handler::new(store, FieldSet::all(), Config::default());
    let event = event();
    let response = handler.handle(&event).await;
    let want: Vec<BatchItemFailure> = first_of_each_shard(&event)
        .into_iter()
        .map(|s| BatchItemFailure { item_identifier: s })
        .collect();
    assert_eq!(want.len(), 2);
    assert_eq!(response.batch_item_failures, want);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], want[0].item_identifier.as_str());
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn a_bisected_retry_after_a_longer_attempt_then_the_rest_gives_every_line_once() {
    let (handler, _store, bucket) = handler("lambda-bisect").await;
    let event = event();
    // Attempt 1 wrote everything, but the invocation failed (a timeout after the writes): the
    // mapping bisects the batch and retries the first half, then sends the second half.
    assert_eq!(handler.handle(&event).await, BatchResponse::default());
    let half = event.records.len() / 2;
    let first = KinesisEvent { records: event.records[..half].to_vec() };
    let rest = KinesisEvent { records: event.records[half..].to_vec() };
    assert_eq!(handler.handle(&first).await, BatchResponse::default());
    let (_, files_after_first) = lake_ids(&bucket);
    assert_eq!(handler.handle(&rest).await, BatchResponse::default());
    let (want, _) = expected(&event);
    let (got, files) = lake_ids(&bucket);
    assert_eq!(got, want, "every line exactly once");
    // The first half ends before 13:00: the longer attempt's hour-13 objects are gone, and the
    // second half wrote its own.
    assert!(files_after_first.iter().all(|f| !f.contains("hour=13")), "{files_after_first:?}");
    assert!(files.iter().any(|f| f.contains("hour=13")));
}

#[test]
fn settings_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    };
    assert_eq!(Settings::from_env(env(&[])).unwrap_err().code(), "missing_lake");
    assert_eq!(Settings::from_env(env(&[("LAKE", "gs://x")])).unwrap_err().code(), "bad_location");
    let bad_fields =
        Settings::from_env(env(&[("LAKE", "s3://bucket/p"), ("FIELDS", "timestamp,nope")]));
    assert_eq!(bad_fields.unwrap_err().code(), "unknown_field");
    let s = Settings::from_env(env(&[("LAKE", "s3://bucket/p")])).unwrap();
    assert_eq!(s.fields.len(), 69);
    assert!(!s.s3.path_style && s.s3.endpoint.is_none());
    let s = Settings::from_env(env(&[
        ("LAKE", "s3://bucket/p"),
        ("FIELDS", "timestamp,c-ip,x-edge-request-id"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000"),
    ]))
    .unwrap();
    assert_eq!(s.fields.len(), 3);
    assert!(s.s3.path_style);
    assert_eq!(s.s3.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
}

#[tokio::test]
async fn only_the_shard_whose_write_failed_is_retried() {
    // A directory lake (no server): shard 1's hour-11 object path is taken by a directory, a
    // real write failure for that shard only.
    let root = std::env::temp_dir().join(format!("cmcd-lambda-partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let event = event();
    let firsts = first_of_each_shard(&event);
    let blocked =
        format!("requests/dt=2024-05-02/hour=11/part-shardId-000000000001-{}.parquet", firsts[1]);
    std::fs::create_dir_all(root.join(&blocked).join("blocker")).unwrap();
    let handler = Handler::new(ObjectStore::dir(&root), FieldSet::all(), Config::default());
    let outcomes = handler.handle_groups(&event).await;
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    let err = outcomes[1].result.as_ref().unwrap_err();
    assert_eq!(err.code(), "store_io");
    assert!(err.to_string().contains(&blocked), "{err}");
    let response = BatchResponse::from_outcomes(&outcomes);
    assert_eq!(
        response.batch_item_failures,
        [BatchItemFailure { item_identifier: firsts[1].clone() }]
    );
    // The retry of shard 1 from its first record, once the path is free, completes the lake.
    std::fs::remove_dir_all(root.join(&blocked)).unwrap();
    let retry = KinesisEvent {
        records: event
            .records
            .iter()
            .filter(|r| r.shard() == "shardId-000000000001")
            .cloned()
            .collect(),
    };
    assert_eq!(handler.handle(&retry).await, BatchResponse::default());
    let keys = ObjectStore::dir(&root).list("requests/").await.unwrap();
    assert_eq!(keys.len(), 8, "{keys:?}");
    std::fs::remove_dir_all(root).unwrap();
}
