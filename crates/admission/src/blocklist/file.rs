//! The blocklist's file: the entries in force (manual entries and automatic bans, with their
//! expiries) as JSON, written so that a crash leaves either the old file or the new one.
//!
//! A write ends in two fsyncs, so callers on an async runtime write on the blocking pool, never
//! on a worker (it would stall every request scheduled there meanwhile).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{Blocklist, Entry};

/// Why the file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BlocklistFileError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a list of entries, or one breaks a rule.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// The blocklist's file.
#[derive(Debug)]
pub struct BlocklistFile {
    path: PathBuf,
    /// Held for a whole snapshot-and-write, so two saves (the upkeep's and an admin's) never
    /// write the temporary file at once, and the file written last holds the latest snapshot.
    writing: Mutex<()>,
}

impl BlocklistFile {
    /// The file at `path` (not read or created yet).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            writing: Mutex::new(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Restores the saved entries still in force at `now_ms` into `blocklist`; answers how
    /// many the file held (a missing file holds none).
    pub fn load(&self, blocklist: &Blocklist, now_ms: u64) -> Result<usize, BlocklistFileError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(self.io(source)),
        };
        let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| self.invalid(e))?;
        let count = entries.len();
        blocklist
            .restore(entries, now_ms)
            .map_err(|e| self.invalid(e))?;
        Ok(count)
    }

    /// Snapshots the entries in force at `now_ms` and writes them atomically. Blocking.
    pub fn save(&self, blocklist: &Blocklist, now_ms: u64) -> Result<(), BlocklistFileError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = blocklist.entries(now_ms);
        let bytes = serde_json::to_vec_pretty(&entries).map_err(|e| self.invalid(e))?;
        write_atomically(&self.path, &bytes).map_err(|source| self.io(source))
    }

    fn io(&self, source: std::io::Error) -> BlocklistFileError {
        BlocklistFileError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn invalid(&self, problem: impl std::fmt::Display) -> BlocklistFileError {
        BlocklistFileError::Invalid {
            path: self.path.display().to_string(),
            problem: problem.to_string(),
        }
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file: a
/// temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
