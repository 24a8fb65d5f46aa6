//! `file://PATH` checkpoints for one process: the checkpoint, pending range and parents of every
//! shard in one JSON file, replaced atomically (temporary file, fsync, rename, fsync of the
//! directory) on every change. A lock on `PATH.lock` keeps a second process out.
//!
//! Leases are kept in memory only: one process owns every shard, so a restart takes them all
//! at once. It does not share a stream between processes (use `dynamodb://`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use super::error::ConsumerError;
use super::lease::{Checkpoint, Held, Lease, PendingRange};

/// The checkpoint file (see the module docs).
#[derive(Debug)]
pub struct FileLeases {
    path: PathBuf,
    items: Mutex<BTreeMap<String, Lease>>,
    _lock: fs::File,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ConsumerError + '_ {
    move |source| ConsumerError::CheckpointFile { path: path.display().to_string(), source }
}

impl FileLeases {
    /// Opens (or starts) the checkpoint file at `path` and locks it for this process.
    ///
    /// # Errors
    ///
    /// `checkpoint_locked` when another process holds it, `checkpoint_io` and
    /// `checkpoint_format` when it cannot be read.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ConsumerError> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_err(&path))?;
        }
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&path))?;
        if lock.try_lock().is_err() {
            return Err(ConsumerError::CheckpointLocked(path.display().to_string()));
        }
        let items = match fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        Ok(Self { path, items: Mutex::new(items), _lock: lock })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, Lease>) -> (T, bool),
    ) -> Result<T, ConsumerError> {
        let mut items = self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (out, dirty) = f(&mut items);
        if dirty {
            write_atomic(&self.path, &render(&items))?;
        }
        Ok(out)
    }

    /// Every item.
    ///
    /// # Errors
    ///
    /// None in practice (the signature matches the DynamoDB store).
    pub fn list(&self) -> Result<Vec<Lease>, ConsumerError> {
        self.with(|items| (items.values().cloned().collect(), false))
    }

    /// Creates the item of `shard` unless it exists.
    ///
    /// # Errors
    ///
    /// `checkpoint_io`.
    pub fn ensure(&self, shard: &str, parents: &[String]) -> Result<(), ConsumerError> {
        self.with(|items| {
            if items.contains_key(shard) {
                return ((), false);
            }
            items.insert(shard.to_owned(), Lease::new(shard, parents.to_vec()));
            ((), true)
        })
    }

    /// Takes the lease if it is still as observed.
    ///
    /// # Errors
    ///
    /// None in practice.
    pub fn take(
        &self,
        observed: &Lease,
        me: &str,
        expires_ms: i64,
    ) -> Result<Option<Lease>, ConsumerError> {
        self.with(|items| {
            let Some(item) = items.get_mut(&observed.shard_id) else { return (None, false) };
            if item.counter != observed.counter || item.expires_ms != observed.expires_ms {
                return (None, false);
            }
            item.owner = Some(me.to_owned());
            item.counter += 1;
            item.expires_ms = expires_ms;
            (Some(item.clone()), false)
        })
    }

    fn held<'a>(items: &'a mut BTreeMap<String, Lease>, held: &Held) -> Option<&'a mut Lease> {
        items
            .get_mut(&held.shard_id)
            .filter(|i| i.owner.as_deref() == Some(&held.owner) && i.counter == held.counter)
    }

    /// Extends a held lease; `false` when it was lost.
    ///
    /// # Errors
    ///
    /// None in practice.
    pub fn renew(&self, held: &Held, expires_ms: i64) -> Result<bool, ConsumerError> {
        self.with(|items| match Self::held(items, held) {
            Some(item) => {
                item.expires_ms = expires_ms;
                (true, false)
            }
            None => (false, false),
        })
    }

    /// Records the intent to write a range; `false` when the lease was lost.
    ///
    /// # Errors
    ///
    /// `checkpoint_io`.
    pub fn set_pending(&self, held: &Held, range: &PendingRange) -> Result<bool, ConsumerError> {
        self.with(|items| match Self::held(items, held) {
            Some(item) => {
                item.pending = Some(range.clone());
                (true, true)
            }
            None => (false, false),
        })
    }

    /// Sets the checkpoint and clears the pending range; `false` when the lease was lost.
    ///
    /// # Errors
    ///
    /// `checkpoint_io`.
    pub fn checkpoint(&self, held: &Held, checkpoint: &Checkpoint) -> Result<bool, ConsumerError> {
        self.with(|items| match Self::held(items, held) {
            Some(item) => {
                item.checkpoint = checkpoint.clone();
                item.pending = None;
                (true, true)
            }
            None => (false, false),
        })
    }

    /// Gives the lease up; `false` when it was already lost.
    ///
    /// # Errors
    ///
    /// None in practice.
    pub fn release(&self, held: &Held) -> Result<bool, ConsumerError> {
        self.with(|items| match Self::held(items, held) {
            Some(item) => {
                item.owner = None;
                item.counter += 1;
                item.expires_ms = 0;
                (true, false)
            }
            None => (false, false),
        })
    }
}

fn render(items: &BTreeMap<String, Lease>) -> Vec<u8> {
    let shards: serde_json::Map<String, Value> = items
        .values()
        .map(|l| {
            let pending = l.pending.as_ref().map(|p| json!({"first": p.first, "last": p.last}));
            (
                l.shard_id.clone(),
                json!({
                    "checkpoint": l.checkpoint.as_stored(),
                    "pending": pending,
                    "parents": l.parents,
                }),
            )
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&json!({"version": 1, "shards": shards})).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

fn parse(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, Lease>, ConsumerError> {
    let bad = |reason: &str| ConsumerError::CheckpointFormat {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
    if doc.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(bad("expected \"version\": 1"));
    }
    let shards = doc.get("shards").and_then(Value::as_object).ok_or_else(|| bad("no shards"))?;
    let mut items = BTreeMap::new();
    for (id, v) in shards {
        let checkpoint = match v.get("checkpoint") {
            None | Some(Value::Null) => Checkpoint::None,
            Some(Value::String(s)) => Checkpoint::from_stored(Some(s)),
            Some(_) => return Err(bad("checkpoint is not a string")),
        };
        let pending = match v.get("pending") {
            None | Some(Value::Null) => None,
            Some(p) => {
                let get = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
                match (get("first"), get("last")) {
                    (Some(first), Some(last)) => Some(PendingRange { first, last }),
                    _ => return Err(bad("pending needs first and last")),
                }
            }
        };
        let parents = v
            .get("parents")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        items.insert(id.clone(), Lease { checkpoint, pending, ..Lease::new(id.clone(), parents) });
    }
    Ok(items)
}

/// Replaces `path` with `bytes` atomically: write a temporary file beside it, fsync it, rename
/// it over `path`, fsync the directory. A crash leaves either the old or the new file whole.
///
/// # Errors
///
/// `checkpoint_io`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ConsumerError> {
    let err = io_err(path);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::File::create(&tmp).map_err(&err)?;
    file.write_all(bytes).map_err(&err)?;
    file.sync_all().map_err(&err)?;
    drop(file);
    fs::rename(&tmp, path).map_err(&err)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(&err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("smd-lease-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trip_and_lock() {
        let dir = temp_dir("rt");
        let path = dir.join("cp.json");
        let store = FileLeases::open(&path).unwrap();
        store.ensure("s0", &[]).unwrap();
        store.ensure("s1", &["s0".to_owned()]).unwrap();
        let l = store.list().unwrap().into_iter().find(|l| l.shard_id == "s0").unwrap();
        let taken = store.take(&l, "me", 10).unwrap().unwrap();
        // A second take of the same observed state loses: the counter moved.
        assert!(store.take(&l, "other", 10).unwrap().is_none());
        let held = Held { shard_id: "s0".into(), owner: "me".into(), counter: taken.counter };
        let range = PendingRange { first: "1".into(), last: "9".into() };
        assert!(store.set_pending(&held, &range).unwrap());
        // A second process is refused while this one holds the file.
        assert_eq!(FileLeases::open(&path).unwrap_err().code(), "checkpoint_locked");
        drop(store);
        // The pending range survived a "crash" (drop without checkpoint).
        let store = FileLeases::open(&path).unwrap();
        let items = store.list().unwrap();
        assert_eq!(items[0].pending, Some(range));
        assert_eq!(items[1].parents, ["s0"]);
        let taken = store.take(&items[0], "me2", 10).unwrap().unwrap();
        let stale = Held { shard_id: "s0".into(), owner: "me".into(), counter: held.counter };
        assert!(!store.checkpoint(&stale, &Checkpoint::ShardEnd).unwrap());
        let held = Held { shard_id: "s0".into(), owner: "me2".into(), counter: taken.counter };
        assert!(store.checkpoint(&held, &Checkpoint::Sequence("9".into())).unwrap());
        assert!(store.release(&held).unwrap());
        drop(store);
        let items = FileLeases::open(&path).unwrap().list().unwrap();
        assert_eq!(items[0].checkpoint, Checkpoint::Sequence("9".into()));
        assert_eq!(items[0].pending, None);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn atomic_write_leaves_old_or_new_never_partial() {
        let dir = temp_dir("atomic");
        let path = dir.join("cp.json");
        write_atomic(&path, b"{\"version\": 1, \"shards\": {}}\n").unwrap();
        // A crash after the temporary file was written but before the rename leaves the old
        // file whole; the stray temporary file is ignored and overwritten by the next write.
        fs::write(dir.join("cp.json.tmp"), b"{\"version\": 1, \"sha").unwrap();
        let store = FileLeases::open(&path).unwrap();
        assert!(store.list().unwrap().is_empty());
        store.ensure("s0", &[]).unwrap();
        assert!(!dir.join("cp.json.tmp").exists());
        drop(store);
        assert_eq!(FileLeases::open(&path).unwrap().list().unwrap().len(), 1);
        // A file that is not ours is refused with a clear code, not overwritten.
        let other = dir.join("other.json");
        fs::write(&other, b"[1, 2]").unwrap();
        assert_eq!(FileLeases::open(&other).unwrap_err().code(), "checkpoint_format");
        let _ = fs::remove_dir_all(dir);
    }
}
