//! Test support: a directory of its own below the temporary directory, removed at the end of
//! the test.

use std::fs;
use std::path::PathBuf;

/// `<temp>/smd-<name>-<pid>`, emptied when made (not created: the code under test may be the
/// one to create it) and removed when dropped.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("smd-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
