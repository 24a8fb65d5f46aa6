//! The directory backend: each key is a file below the root.
//!
//! `put` writes a hidden temporary file next to the target (`.<name>.tmp-<random>`), fsyncs
//! it, renames it over the target and fsyncs the directory, so a reader sees the old object or
//! the new one, and a crash after `put` returned cannot lose it. `list` skips hidden files.
//! Local errors are not retried.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::StoreError;

/// A lake in a local directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store below `root` (created on the first `put`).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    async fn blocking<T: Send + 'static>(
        operation: &'static str,
        key: &str,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let io = |source| StoreError::Io { operation, key: key.to_owned(), source };
        tokio::task::spawn_blocking(f).await.map_err(|e| io(std::io::Error::other(e)))?.map_err(io)
    }

    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.root.join(key);
        Self::blocking("put", key, move || write_durably(&path, &bytes)).await
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.root.join(key);
        Self::blocking("get", key, move || match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.root.join(key);
        Self::blocking("delete", key, move || match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => match path.parent() {
                Some(dir) => sync_dir(dir),
                None => Ok(()),
            },
        })
        .await
    }

    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let root = self.root.clone();
        let p = prefix.to_owned();
        Self::blocking("list", prefix, move || {
            let mut keys = Vec::new();
            walk(&root, "", &mut keys)?;
            keys.retain(|k| k.starts_with(&p));
            Ok(keys)
        })
        .await
    }
}

fn walk(dir: &Path, rel: &str, keys: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let key = if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") };
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &key, keys)?;
        } else {
            keys.push(key);
        }
    }
    Ok(())
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("key without a directory"))?;
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", u64::from_le_bytes(r)));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync of a directory, so a rename or unlink in it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
