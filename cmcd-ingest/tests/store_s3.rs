//! The object store on S3, against moto (run under `scripts/emulators.sh --only moto`):
//! single and multipart PUT, list with paging, delete, the range manifest (a longer attempt
//! then a shorter retry), and faults: a closed port is retried with backoff and then fails
//! with an error naming the key; a missing bucket fails at once. Nothing claims success.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use cmcd_ingest::pipeline::Config;
use cmcd_ingest::store::{ObjectStore, RetryPolicy, S3Options};
use common::{expected_ids, first_in_hour, hour, lake_ids, records, write};

fn endpoint() -> String {
    std::env::var("S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("S3_ENDPOINT is not set: run this test under scripts/emulators.sh --only moto")
    })
}

fn options(endpoint: String) -> S3Options {
    S3Options {
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        path_style: true,
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        },
        ..S3Options::default()
    }
}

/// A fresh bucket with a unique name, and a store on `prefix` in it.
async fn store(name: &str, prefix: &str, opts: S3Options) -> ObjectStore {
    let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().subsec_nanos();
    let bucket = format!("{name}-{}-{nanos}", std::process::id());
    let store = ObjectStore::open(&format!("s3://{bucket}/{prefix}"), &opts).await.unwrap();
    let ObjectStore::S3(s3) = &store else { panic!("an S3 store") };
    s3.client().create_bucket().bucket(&bucket).send().await.unwrap();
    store
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn put_get_list_delete_and_multipart() {
    let opts =
        S3Options { multipart_threshold: 6 << 20, part_size: 5 << 20, ..options(endpoint()) };
    let store = store("basic", "lake/v1", opts).await;
    assert_eq!(store.get("a/b.txt").await.unwrap(), None);
    store.put("a/b.txt", b"one".to_vec()).await.unwrap();
    store.put("a/b.txt", b"two".to_vec()).await.unwrap();
    assert_eq!(store.get("a/b.txt").await.unwrap().as_deref(), Some(&b"two"[..]));
    // 12 MiB + 3 bytes: three parts (5, 5, 2 MiB + 3), checked byte for byte.
    let big: Vec<u8> =
        (0..(12 << 20) + 3).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    store.put("big/object.bin", big.clone()).await.unwrap();
    assert!(store.get("big/object.bin").await.unwrap() == Some(big));
    // Paging: more keys than one ListObjectsV2 page (1,000).
    for i in 0..1005 {
        store.put(&format!("many/{i:04}"), Vec::new()).await.unwrap();
    }
    let many = store.list("many/").await.unwrap();
    assert_eq!(many.len(), 1005);
    assert_eq!(many[0], "many/0000");
    assert_eq!(store.list("a/").await.unwrap(), ["a/b.txt"]);
    store.delete("a/b.txt").await.unwrap();
    store.delete("a/b.txt").await.unwrap();
    assert_eq!(store.get("a/b.txt").await.unwrap(), None);
    // The prefix is applied: the raw bucket holds lake/v1/big/object.bin.
    let ObjectStore::S3(s3) = &store else { unreachable!() };
    let raw = s3
        .client()
        .list_objects_v2()
        .bucket(s3.bucket())
        .prefix("lake/v1/big/")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.contents()[0].key(), Some("lake/v1/big/object.bin"));
    // No multipart upload is left open.
    let open = s3.client().list_multipart_uploads().bucket(s3.bucket()).send().await.unwrap();
    assert!(open.uploads().is_empty());
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn a_longer_attempt_then_a_shorter_retry_on_s3() {
    let store = store("retry", "lake", options(endpoint())).await;
    let shard = "shardId-000000000002";
    let recs = records(150);
    let config = Config::default();
    let h11 = hour(&recs[0]);
    let noon = first_in_hour(&recs, h11 + 1);
    let one_pm = first_in_hour(&recs, h11 + 2);
    let long = write(&store, shard, &recs[..one_pm], &config).await;
    assert_eq!(long.written.len(), 2, "hours 11 and 12: {long:?}");
    let short = write(&store, shard, &recs[..noon / 2], &config).await;
    assert_eq!(short.deleted.len(), 1, "{short:?}");
    write(&store, shard, &recs[noon / 2..], &config).await;
    assert_eq!(lake_ids(&store).await, expected_ids(&recs));
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn a_closed_port_is_retried_with_backoff_then_fails_naming_the_key() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let opts = options(format!("http://127.0.0.1:{port}"));
    let policy = opts.retry;
    let store = ObjectStore::open("s3://no-server/lake", &opts).await.unwrap();
    let started = Instant::now();
    let err = store.put("requests/x.parquet", b"data".to_vec()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.code(), "store_unavailable", "{err}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("requests/x.parquet") && text.contains("4 attempts"), "{text}");
    // Three pauses, each at least half its backoff: 50 + 100 + 200 ms.
    let min: Duration = (1..policy.max_attempts).map(|n| policy.backoff(n) / 2).sum();
    assert!(elapsed >= min, "{elapsed:?} < {min:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    // A range write fails the same way, before writing anything.
    let err = store
        .write_range("shardId-0", "1", vec![("requests/y".into(), vec![1])])
        .await
        .unwrap_err();
    assert_eq!(err.code(), "store_unavailable");
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn a_missing_bucket_fails_at_once() {
    let store =
        ObjectStore::open("s3://no-such-bucket-smd/lake", &options(endpoint())).await.unwrap();
    let started = Instant::now();
    let err = store.put("requests/x.parquet", b"data".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), "store_rejected", "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("requests/x.parquet"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
