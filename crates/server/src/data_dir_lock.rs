//! One server per data directory: [`DataDirLock`] is an exclusive advisory lock (`flock(2)`,
//! through std's `File::try_lock`) on `<data-dir>/LOCK`, taken by `serve` before it reads or
//! writes anything else there and held until it stops.
//!
//! Two servers appending to one journal fork its history: both hand out the same sequence
//! numbers, and their interleaved batches cannot be replayed as one ledger. The kernel drops the
//! lock when its holder exits, however it exits (SIGKILL included), so a crash never leaves a
//! directory locked, and no stale-lock clean-up exists to get wrong. Readers
//! (`stampede reconcile`, the server's own reconciliation) never take it: they only read.
//!
//! The holder writes its process id into the file once it holds the lock, so a refused second
//! server can say who holds the directory. The id is for the message only; the lock is the
//! kernel's, not the file's content.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Most bytes read from a lock file for its holder's process id.
///
/// An id and a newline take at most 11 bytes; 64 bounds what a refused server reads from a file
/// someone replaced with something else, and the rest is ignored.
const MAX_HOLDER_BYTES: u64 = 64;

/// The held lock on a data directory; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    /// Holds the lock while open.
    _file: File,
    path: PathBuf,
}

/// Why [`DataDirLock::acquire`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DataDirLockError {
    /// Another process holds the lock.
    #[error(
        "data directory {} is in use: {holder} holds the lock on {}; stop it, or give this \
         server another --data-dir (two servers on one directory would fork its journal)",
        dir.display(),
        lock.display()
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// Who holds it, as far as the lock file says.
        holder: Holder,
    },
    /// The lock file could not be created, locked or written.
    #[error("cannot lock data directory {} ({}): {source}", dir.display(), lock.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The process holding a data directory's lock, as read from the lock file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// The process id the holder wrote.
    Process(u32),
    /// The file names no process yet: the holder took the lock an instant ago and has not
    /// written its id, or the file was edited.
    Unknown,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Process(pid) => write!(f, "process {pid}"),
            Self::Unknown => f.write_str("another process (its id is not in the lock file yet)"),
        }
    }
}

impl DataDirLock {
    /// Creates `dir` if missing, then takes the lock on `dir/LOCK` without waiting and writes
    /// this process's id into it.
    ///
    /// # Errors
    ///
    /// [`DataDirLockError::Held`] if another process holds it (naming that process);
    /// [`DataDirLockError::Io`] if the directory or file cannot be created, locked (e.g. a file
    /// system without `flock`) or written.
    pub fn acquire(dir: &Path) -> Result<Self, DataDirLockError> {
        let lock = dir.join(LOCK_FILE);
        let io_error = |source| DataDirLockError::Io {
            dir: dir.to_path_buf(),
            lock: lock.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_error)?;
        // Not truncated on open: until the lock is ours, the id in it is the holder's.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DataDirLockError::Held {
                    dir: dir.to_path_buf(),
                    lock: lock.clone(),
                    holder: read_holder(&file),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
        let id = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.write_all_at(id.as_bytes(), 0))
            .map_err(io_error)?;
        Ok(Self {
            _file: file,
            path: lock,
        })
    }

    /// The lock file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The process id in a lock file held by someone else, if it names one.
fn read_holder(file: &File) -> Holder {
    let mut text = String::new();
    match file.take(MAX_HOLDER_BYTES).read_to_string(&mut text) {
        Ok(_) => text.trim().parse().map_or(Holder::Unknown, Holder::Process),
        Err(_) => Holder::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let first = DataDirLock::acquire(&data_dir).unwrap();
        assert_eq!(first.path(), data_dir.join(LOCK_FILE));
        let written = std::fs::read_to_string(first.path()).unwrap();
        assert_eq!(written, format!("{}\n", std::process::id()));

        // A second open file description conflicts even within one process (flock semantics).
        let refused = DataDirLock::acquire(&data_dir).unwrap_err();
        match &refused {
            DataDirLockError::Held { dir, lock, holder } => {
                assert_eq!(dir, &data_dir);
                assert_eq!(lock, first.path());
                assert_eq!(*holder, Holder::Process(std::process::id()));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        let message = refused.to_string();
        assert!(
            message.contains(&data_dir.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        assert_eq!(
            std::fs::read_to_string(first.path()).unwrap(),
            written,
            "a refused lock leaves the holder's id in place"
        );

        drop(first);
        DataDirLock::acquire(&data_dir).expect("released with its holder");
    }

    #[test]
    fn a_lock_file_without_an_id_names_no_process() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DataDirLock::acquire(dir.path()).unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "not a pid").unwrap();
        match DataDirLock::acquire(dir.path()) {
            Err(DataDirLockError::Held { holder, .. }) => assert_eq!(holder, Holder::Unknown),
            other => panic!("expected Held, got {other:?}"),
        }
    }
}
