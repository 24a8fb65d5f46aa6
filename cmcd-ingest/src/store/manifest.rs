//! Exactly once for stream ranges without a coordinator: the per-range manifest.
//!
//! A range of a shard is identified by its first sequence number, which names all its objects
//! ([`crate::range`]). A retry of the range starts at the same record but may end at another
//! (a Lambda retry after a bisect, a consumer restarted with another batch size), so an
//! earlier, longer attempt may have left an object in an hour the retry does not touch, and the
//! range after the retry would then duplicate its rows. The manifest
//! `_manifests/<shard>/<first sequence>.json` lists every key that *may* exist for the range:
//!
//! 1. read the manifest `old` (none: empty);
//! 2. if the new keys are not all in `old`, write manifest `old ∪ new`;
//! 3. put every new object (each durable before the next step);
//! 4. delete every key in `old − new`;
//! 5. if `old ≠ new`, write manifest `new`.
//!
//! Invariant: every object of the range that exists is listed in its manifest. Step 2 extends
//! the list *before* step 3 creates objects, and step 5 shrinks it only *after* step 4 deleted
//! them; a crash between any two steps leaves a manifest that covers every existing key, so the
//! next attempt's step 4 removes whatever it does not rewrite. After a successful attempt the
//! range's objects are exactly its own. The argument in full is in ARCHITECTURE.md ("Stream
//! ranges: the manifest").

use std::collections::BTreeSet;

use super::{ObjectStore, StoreError};
use crate::partition::BatchId;

/// What [`ObjectStore::write_range`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeWrite {
    /// Keys written (all durable).
    pub written: Vec<String>,
    /// Keys of earlier attempts removed.
    pub deleted: Vec<String>,
    /// The manifest's key.
    pub manifest: String,
}

/// The manifest key of a range: `_manifests/<shard>/<first sequence>.json`.
///
/// # Errors
///
/// [`StoreError::BadKey`] when `shard` or `first_sequence` is not `[A-Za-z0-9_-]{1,128}`.
pub fn key(shard: &str, first_sequence: &str) -> Result<String, StoreError> {
    BatchId::new(shard, first_sequence)
        .map_err(|_| StoreError::BadKey(format!("_manifests/{shard}/{first_sequence}.json")))?;
    Ok(format!("_manifests/{shard}/{first_sequence}.json"))
}

fn encode(shard: &str, first_sequence: &str, keys: &BTreeSet<String>) -> Vec<u8> {
    let doc = serde_json::json!({
        "version": 1,
        "shard": shard,
        "first_sequence": first_sequence,
        "keys": keys,
    });
    doc.to_string().into_bytes()
}

fn decode(key: &str, bytes: &[u8]) -> Result<BTreeSet<String>, StoreError> {
    let bad =
        |message: &str| StoreError::BadManifest { key: key.to_owned(), message: message.into() };
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
    if doc.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(bad("version is not 1"));
    }
    let keys =
        doc.get("keys").and_then(serde_json::Value::as_array).ok_or_else(|| bad("no keys"))?;
    keys.iter()
        .map(|k| {
            let k = k.as_str().ok_or_else(|| bad("a key is not a string"))?;
            super::location::check_key(k).map_err(|_| bad("a key is not a valid object key"))?;
            Ok(k.to_owned())
        })
        .collect()
}

pub(super) async fn write_range(
    store: &ObjectStore,
    shard: &str,
    first_sequence: &str,
    objects: Vec<(String, Vec<u8>)>,
) -> Result<RangeWrite, StoreError> {
    let manifest = key(shard, first_sequence)?;
    let mut new = BTreeSet::new();
    for (k, _) in &objects {
        super::location::check_key(k)?;
        if k.starts_with("_manifests/") || !new.insert(k.clone()) {
            return Err(StoreError::BadKey(k.clone()));
        }
    }
    let old = match store.get(&manifest).await? {
        Some(bytes) => decode(&manifest, &bytes)?,
        None => BTreeSet::new(),
    };
    if !new.is_subset(&old) {
        let union: BTreeSet<String> = old.union(&new).cloned().collect();
        store.put(&manifest, encode(shard, first_sequence, &union)).await?;
    }
    let mut written = Vec::with_capacity(objects.len());
    for (k, bytes) in objects {
        store.put(&k, bytes).await?;
        written.push(k);
    }
    let mut deleted = Vec::new();
    for k in old.difference(&new) {
        store.delete(k).await?;
        deleted.push(k.clone());
    }
    if old != new {
        store.put(&manifest, encode(shard, first_sequence, &new)).await?;
    }
    Ok(RangeWrite { written, deleted, manifest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_reject_garbage() {
        let keys: BTreeSet<String> =
            ["requests/a.parquet".to_owned(), "quarantine/b.jsonl".to_owned()].into();
        let k = key("shardId-000000000001", "495").unwrap();
        assert_eq!(k, "_manifests/shardId-000000000001/495.json");
        assert_eq!(decode(&k, &encode("s", "1", &keys)).unwrap(), keys);
        for bad in [
            &b"{"[..],
            br#"{"version":2,"keys":[]}"#,
            br#"{"version":1}"#,
            br#"{"version":1,"keys":["../x"]}"#,
        ] {
            assert_eq!(decode(&k, bad).unwrap_err().code(), "bad_manifest");
        }
        assert_eq!(key("shard/x", "1").unwrap_err().code(), "bad_key");
    }
}
