//! The object store on a local directory: put/get/list/delete, durable replacement, and the
//! range manifest (exactly once when a retried range ends at another record), including a
//! failure in the middle of a range write. S3 is tested in `store_s3.rs` against moto.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use cmcd_ingest::pipeline::Config;
use cmcd_ingest::store::ObjectStore;
use common::{expected_ids, first_in_hour, hour, lake_ids, records, write};

const SHARD: &str = "shardId-000000000007";

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cmcd-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn directory_put_get_list_delete() {
    let root = tempdir("basic");
    let store = ObjectStore::dir(&root);
    assert_eq!(store.get("a/b.txt").await.unwrap(), None);
    store.put("a/b.txt", b"one".to_vec()).await.unwrap();
    store.put("a/b.txt", b"two".to_vec()).await.unwrap();
    store.put("a/c/d.txt", b"three".to_vec()).await.unwrap();
    store.put("e.txt", Vec::new()).await.unwrap();
    assert_eq!(store.get("a/b.txt").await.unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(store.list("").await.unwrap(), ["a/b.txt", "a/c/d.txt", "e.txt"]);
    assert_eq!(store.list("a/").await.unwrap(), ["a/b.txt", "a/c/d.txt"]);
    // No temporary files are left beside the objects.
    let names: Vec<String> = std::fs::read_dir(root.join("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    store.delete("a/b.txt").await.unwrap();
    store.delete("a/b.txt").await.unwrap();
    assert_eq!(store.list("a/").await.unwrap(), ["a/c/d.txt"]);
    assert_eq!(store.put("../x", Vec::new()).await.unwrap_err().code(), "bad_key");
    assert_eq!(store.get("a//x").await.unwrap_err().code(), "bad_key");
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_longer_attempt_then_a_shorter_retry_leaves_no_duplicate_and_no_loss() {
    let root = tempdir("retry");
    let store = ObjectStore::dir(&root);
    let recs = records(150);
    let config = Config::default();
    let h11 = hour(&recs[0]);
    let noon = first_in_hour(&recs, h11 + 1);
    let one_pm = first_in_hour(&recs, h11 + 2);
    // Attempt 1: records 0..one_pm (hours 11 and 12), "failed" after writing.
    let long = write(&store, SHARD, &recs[..one_pm], &config).await;
    assert!(long.written.iter().any(|k| k.contains("hour=12")), "{:?}", long.written);
    // Retry of the same range, shorter (ends in hour 11), then the next range.
    let short = write(&store, SHARD, &recs[..noon - 10], &config).await;
    assert!(short.written.iter().all(|k| k.contains(&format!("hour={h11}"))), "{short:?}");
    assert_eq!(short.deleted.len(), 1, "the hour-12 object of attempt 1: {short:?}");
    assert!(short.deleted[0].contains("hour=12"));
    let next = write(&store, SHARD, &recs[noon - 10..one_pm + 50], &config).await;
    assert!(next.deleted.is_empty());
    assert_eq!(lake_ids(&store).await, expected_ids(&recs[..one_pm + 50]));
    // The manifests list exactly the objects of their ranges.
    let manifests = store.list("_manifests/").await.unwrap();
    assert_eq!(manifests.len(), 2, "{manifests:?}");
    let m: serde_json::Value =
        serde_json::from_slice(&store.get(&short.manifest).await.unwrap().unwrap()).unwrap();
    assert_eq!(m["keys"].as_array().unwrap().len(), short.written.len());
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_write_that_fails_midway_is_cleaned_up_by_the_retry() {
    let root = tempdir("midway");
    let store = ObjectStore::dir(&root);
    let recs = records(150);
    let config = Config::default();
    let h11 = hour(&recs[0]);
    let noon = first_in_hour(&recs, h11 + 1);
    let one_pm = first_in_hour(&recs, h11 + 2);
    let range = &recs[..one_pm + 20];
    let out = common::encode(SHARD, range, &config);
    let keys: Vec<String> = out.keys().map(str::to_owned).collect();
    assert_eq!(keys.len(), 3, "hours 11, 12, 13: {keys:?}");
    // A real file-system failure at the third object: a directory where its file goes.
    std::fs::create_dir_all(root.join(&keys[2]).join("blocker")).unwrap();
    let err = store.write_range(SHARD, &out.first_sequence, out.objects).await.unwrap_err();
    assert_eq!(err.code(), "store_io", "{err}");
    assert!(err.to_string().contains(&keys[2]), "the error names the key: {err}");
    // The manifest covers every object that exists.
    let manifest = cmcd_ingest::store::manifest::key(SHARD, &recs[0].0).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&store.get(&manifest).await.unwrap().unwrap()).unwrap();
    let listed: Vec<&str> =
        m["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    for key in [&keys[0], &keys[1]] {
        assert!(store.get(key).await.unwrap().is_some());
        assert!(listed.contains(&key.as_str()), "{key} in {listed:?}");
    }
    std::fs::remove_dir_all(root.join(&keys[2])).unwrap();
    // The retry is shorter (hour 11 only); then the rest follows as the next range.
    let retry = write(&store, SHARD, &recs[..noon], &config).await;
    assert_eq!(retry.deleted, [keys[1].clone(), keys[2].clone()]);
    write(&store, SHARD, &recs[noon..], &config).await;
    assert_eq!(lake_ids(&store).await, expected_ids(&recs));
    std::fs::remove_dir_all(root).unwrap();
}
