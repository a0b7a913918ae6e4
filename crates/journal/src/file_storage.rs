//! [`Storage`] on a real file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::storage::Storage;

/// A journal file on the local file system.
///
/// Appends go through `O_APPEND`; [`Storage::sync`] is `fdatasync` (`File::sync_data`), which
/// also persists the file size, so appended bytes and truncations become durable together.
///
/// [`FileStorage::open_read_only`] opens an existing file for reading only: appends,
/// truncations and syncs are refused (for tools that read a journal a server may be writing).
#[derive(Debug)]
pub struct FileStorage {
    file: File,
    path: PathBuf,
    writable: bool,
}

impl FileStorage {
    /// Opens the file at `path` for reading and appending, creating it (and its parent
    /// directories) if missing.
    ///
    /// When the file is created, its parent directory is fsynced so the new directory entry
    /// survives a crash; otherwise a synced journal could vanish with its name.
    ///
    /// # Errors
    ///
    /// Any I/O error creating directories, opening the file or syncing the directory.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty());
        if let Some(parent) = parent {
            fs::create_dir_all(parent)?;
        }
        let existed = path.try_exists()?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        if !existed {
            File::open(parent.unwrap_or_else(|| Path::new(".")))?.sync_all()?;
        }
        Ok(Self {
            file,
            path,
            writable: true,
        })
    }

    /// Opens the existing file at `path` for reading only; never creates it. Every write
    /// ([`Storage::append`], [`Storage::truncate`], [`Storage::sync`]) is refused with
    /// `PermissionDenied`.
    ///
    /// # Errors
    ///
    /// Any I/O error opening the file (`NotFound` if it does not exist).
    pub fn open_read_only(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path)?;
        Ok(Self {
            file,
            path,
            writable: false,
        })
    }

    fn refuse_if_read_only(&self) -> io::Result<()> {
        if self.writable {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("journal {} opened read-only", self.path.display()),
        ))
    }

    /// The path this storage was opened at.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Storage for FileStorage {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn len_bytes(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read_at(buf, offset) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => return result,
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.refuse_if_read_only()?;
        self.file.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.refuse_if_read_only()?;
        self.file.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.refuse_if_read_only()?;
        self.file.set_len(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_parent_directories_and_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/journal.log");
        let mut storage = FileStorage::open(&path).expect("open");
        assert_eq!(storage.path(), path);
        assert_eq!(storage.len_bytes().expect("len"), 0);
        storage.append(b"hello world").expect("append");
        storage.sync().expect("sync");
        let mut buf = [0; 5];
        assert_eq!(storage.read_at(6, &mut buf).expect("read"), 5);
        assert_eq!(&buf, b"world");
        assert_eq!(storage.read_at(11, &mut buf).expect("read at end"), 0);
    }

    #[test]
    fn read_only_storage_reads_and_refuses_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let missing = FileStorage::open_read_only(&path).expect_err("missing");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(!path.exists(), "read-only open creates nothing");
        FileStorage::open(&path)
            .expect("open")
            .append(b"abc")
            .expect("append");
        let mut storage = FileStorage::open_read_only(&path).expect("read-only");
        let mut buf = [0; 3];
        assert_eq!(storage.read_at(0, &mut buf).expect("read"), 3);
        assert_eq!(&buf, b"abc");
        for refused in [storage.append(b"x"), storage.truncate(0), storage.sync()] {
            assert_eq!(
                refused.expect_err("refused").kind(),
                io::ErrorKind::PermissionDenied
            );
        }
        assert_eq!(fs::read(&path).expect("read back"), b"abc");
    }

    #[test]
    fn appends_after_truncate_land_at_new_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut storage = FileStorage::open(dir.path().join("j")).expect("open");
        storage.append(b"abcdef").expect("append");
        storage.truncate(3).expect("truncate");
        storage.append(b"XY").expect("append");
        assert_eq!(storage.len_bytes().expect("len"), 5);
        let mut buf = [0; 5];
        assert_eq!(storage.read_at(0, &mut buf).expect("read"), 5);
        assert_eq!(&buf, b"abcXY");
    }

    /// A full disk, for real: `/dev/full` answers every write with ENOSPC. The journal's
    /// error names the file and the operating system's words.
    #[test]
    fn a_full_disk_names_the_path_and_the_os_error() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            eprintln!(
                "\n!!! SKIPPED a_full_disk_names_the_path_and_the_os_error: this system has no \
                 /dev/full\n"
            );
            return;
        }
        let storage = FileStorage::open(full).expect("open /dev/full");
        let (mut journal, _) = crate::Journal::open(storage, crate::Durability::Fsync, |_, _| {
            Ok::<(), std::convert::Infallible>(())
        })
        .expect("an empty journal opens");
        let error = journal.append_batch(&[b"win"]).unwrap_err().to_string();
        assert!(error.contains("/dev/full"), "{error}");
        assert!(error.contains("No space left on device"), "{error}");
    }
}
