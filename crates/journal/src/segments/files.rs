//! The file journal's files, all beside its base path (`<data-dir>/journal.log`):
//!
//! ```text
//! journal.log                               segment starting at record 0 (a journal written
//!                                           before segments is exactly this file)
//! journal.log.00000000000001048576          segment starting at record 1,048,576
//! journal.log.snapshot.00000000000001048576 snapshot of the state before record 1,048,576
//! journal.log.snapshot.00000000000001048576.tmp   a snapshot being written (deleted on open)
//! ```
//!
//! Positions are written with 20 digits (all of `u64`) so the names sort like the numbers.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::limits::MAX_SNAPSHOT_BYTES;

const SNAPSHOT_INFIX: &str = ".snapshot.";
const TEMP_SUFFIX: &str = ".tmp";

/// Where the journal's files are, named after its base path.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    base: PathBuf,
    dir: PathBuf,
    name: String,
}

/// The journal's files as found in its directory.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// First positions of the segments, ascending.
    pub(crate) segments: Vec<u64>,
    /// Positions of the snapshots, ascending.
    pub(crate) snapshots: Vec<u64>,
    /// Snapshots left half-written by a crash.
    pub(crate) temps: Vec<PathBuf>,
}

fn position(digits: &str) -> Option<u64> {
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl Layout {
    /// The layout of the journal at `base`.
    ///
    /// # Errors
    /// `InvalidInput` if `base` has no UTF-8 file name.
    pub(crate) fn new(base: &Path) -> io::Result<Self> {
        let name = base
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("journal path {} has no UTF-8 file name", base.display()),
                )
            })?
            .to_owned();
        let dir = base
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(Self {
            base: base.to_path_buf(),
            dir,
            name,
        })
    }

    /// The segment whose first record is `start`.
    pub(crate) fn segment(&self, start: u64) -> PathBuf {
        if start == 0 {
            return self.base.clone();
        }
        self.dir.join(format!("{}.{start:020}", self.name))
    }

    /// The snapshot of the state before record `position`.
    pub(crate) fn snapshot(&self, position: u64) -> PathBuf {
        self.dir
            .join(format!("{}{SNAPSHOT_INFIX}{position:020}", self.name))
    }

    fn temp(&self, position: u64) -> PathBuf {
        let mut name = self.snapshot(position).into_os_string();
        name.push(TEMP_SUFFIX);
        PathBuf::from(name)
    }

    /// The journal's files in its directory (none if the directory does not exist yet).
    pub(crate) fn list(&self) -> io::Result<Listing> {
        let mut listing = Listing::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(rest) = name.strip_prefix(&self.name) else {
                continue;
            };
            if rest.is_empty() {
                listing.segments.push(0);
            } else if let Some(snapshot) = rest.strip_prefix(SNAPSHOT_INFIX) {
                if let Some(p) = position(snapshot) {
                    listing.snapshots.push(p);
                } else if snapshot
                    .strip_suffix(TEMP_SUFFIX)
                    .and_then(position)
                    .is_some()
                {
                    listing.temps.push(entry.path());
                }
            } else if let Some(p) = rest.strip_prefix('.').and_then(position) {
                listing.segments.push(p);
            }
        }
        listing.segments.sort_unstable();
        listing.snapshots.sort_unstable();
        Ok(listing)
    }

    /// Makes the directory's entries (a created, renamed or removed file) durable.
    pub(crate) fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    /// Writes the snapshot of the state before record `position` atomically: to a temporary
    /// file, fsynced, renamed into place, then the directory fsynced. A crash leaves either
    /// no snapshot at `position` or all of it (plus, maybe, a temporary file).
    pub(crate) fn write_snapshot(&self, position: u64, bytes: &[u8]) -> io::Result<()> {
        let temp = self.temp(position);
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, self.snapshot(position))?;
        self.sync_dir()
    }

    /// The bytes of the snapshot at `position`, at most [`MAX_SNAPSHOT_BYTES`].
    pub(crate) fn read_snapshot(&self, position: u64) -> io::Result<Vec<u8>> {
        let path = self.snapshot(position);
        let file = File::open(&path)?;
        let len = file.metadata()?.len();
        if len > MAX_SNAPSHOT_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "snapshot {} is {len} bytes, over the {MAX_SNAPSHOT_BYTES}-byte limit",
                    path.display()
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(MAX_SNAPSHOT_BYTES).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Removes a file, a missing one included.
    pub(crate) fn remove(path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
