//! The file journal as segments plus snapshots ([`SegmentedJournal`]): records in segment
//! files, each a plain journal file whose frames continue the sequence of the one before;
//! snapshots of the engine's state in files named by the record position they cover.
//!
//! - **Appends** go to the last segment, exactly as to a single-file [`Journal`]. After a
//!   batch leaves it at [`SegmentOptions::max_segment_bytes`] or more, the next batch starts
//!   a new segment (between batches: a batch never spans two files).
//! - **Snapshots** ([`crate::Log::store_snapshot`]) are written atomically (temporary file,
//!   fsync, rename, fsync of the directory); then a new segment starts at the snapshot's
//!   position, so a snapshot and the segments after it are all that start-up reads. The
//!   newest [`KEPT_SNAPSHOTS`] snapshots this process wrote or started from are kept; older
//!   snapshot files, and the segments wholly below the older kept snapshot, are deleted —
//!   never while fewer than two are known good, so a damaged newest snapshot always leaves
//!   an older one, or the whole history, to start from.
//! - **Open** replays the segments from the one holding the position asked for (a snapshot's,
//!   or 0) to the end: every sealed segment must be whole and end where the next begins
//!   ([`OpenError::Layout`] otherwise); the last one is recovered like a single-file journal
//!   (a torn tail truncated; damage in the middle or a fork refused). A file left by a crash
//!   mid-rollover (an empty or torn new segment) is the last segment, recovered the same way;
//!   a half-written snapshot (its temporary file) is deleted.
//!
//! A journal written before segments existed is one file at the base path: the first segment.
//! Nothing needs migrating; once a snapshot has a kept predecessor it may be deleted.

mod files;
mod read_only;
#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;

use crate::error::{JournalError, OpenError};
use crate::file_storage::FileStorage;
use crate::journal::{BatchStats, Durability, Journal};
use crate::limits::{KEPT_SNAPSHOTS, MAX_SEGMENT_BYTES};
use crate::log::{Log, OnRecord};
use crate::recovery;
use files::Layout;

/// How the segmented journal cuts its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// A new segment starts after a batch leaves the current one at this many bytes or more.
    pub max_segment_bytes: u64,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            max_segment_bytes: MAX_SEGMENT_BYTES,
        }
    }
}

/// What [`SegmentedJournal::open`] read and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentedRecovery {
    /// The position replay started from (the snapshot's, or 0).
    pub from: u64,
    /// The position after the last record: where appends continue.
    pub end: u64,
    /// Segments read.
    pub segments_read: usize,
    /// Bytes cut from a torn tail of the last segment.
    pub truncated_tail_bytes: u64,
}

/// The file journal: segments and snapshots; see the module docs.
#[derive(Debug)]
pub struct SegmentedJournal {
    layout: Layout,
    durability: Durability,
    options: SegmentOptions,
    /// First positions of the segments, ascending; the last is `current`'s.
    segments: Vec<u64>,
    /// Snapshots known good (written by this process, or started from), ascending.
    snapshots: Vec<u64>,
    current: Journal<FileStorage>,
}

fn layout_error<E>(why: String) -> OpenError<E> {
    OpenError::Layout(why)
}

/// Reads the sealed segments (all but the last of `segments`, the first positions on disk)
/// from the one holding record `from`, handing each record to `apply`, and checks that each
/// ends where the next begins. Answers the index of the first segment read; the caller reads
/// the last one its own way (to append to it, or read-only).
fn read_sealed<E>(
    layout: &Layout,
    segments: &[u64],
    from: u64,
    apply: &mut impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<usize, OpenError<E>> {
    let Some(first) = segments.iter().rposition(|&start| start <= from) else {
        return Err(layout_error(format!(
            "records from {from} on are needed, but the first segment starts at {}",
            segments[0]
        )));
    };
    for i in first..segments.len() - 1 {
        let path = layout.segment(segments[i]);
        let mut storage = FileStorage::open_read_only(&path).map_err(OpenError::Io)?;
        let scanned = recovery::scan_from(&mut storage, segments[i], &mut *apply)?;
        if scanned.torn.is_some() || scanned.records != segments[i + 1] {
            return Err(layout_error(format!(
                "segment {} holds records {}..{} (torn: {}), but the next segment starts at {}",
                path.display(),
                segments[i],
                scanned.records,
                scanned.torn.is_some(),
                segments[i + 1]
            )));
        }
    }
    Ok(first)
}

impl SegmentedJournal {
    /// Positions of the snapshot files of the journal at `base`, newest first.
    ///
    /// # Errors
    /// Any I/O error listing the directory.
    pub fn snapshot_positions(base: &Path) -> io::Result<Vec<u64>> {
        let mut positions = Layout::new(base)?.list()?.snapshots;
        positions.reverse();
        Ok(positions)
    }

    /// The bytes of the snapshot at `position` of the journal at `base`.
    ///
    /// # Errors
    /// Any I/O error, or `InvalidData` for a file over [`crate::MAX_SNAPSHOT_BYTES`].
    pub fn read_snapshot(base: &Path, position: u64) -> io::Result<Vec<u8>> {
        Layout::new(base)?.read_snapshot(position)
    }

    /// Opens the journal at `base` (creating its first segment if there is none), calls
    /// `on_record(position, payload)` for every record at position `from` or later, in
    /// order, recovers the last segment, and returns the journal ready to append. `from` is
    /// the position of the snapshot the caller restored (its file is then known good and
    /// kept), or 0 to replay everything.
    ///
    /// # Errors
    /// [`OpenError::Layout`] if the segments do not hold every record from `from` on
    /// (nothing is changed on disk then); otherwise as [`Journal::open`].
    pub fn open<E>(
        base: &Path,
        durability: Durability,
        options: SegmentOptions,
        from: u64,
        mut on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(Self, SegmentedRecovery), OpenError<E>> {
        let layout = Layout::new(base).map_err(OpenError::Io)?;
        let listing = layout.list().map_err(OpenError::Io)?;
        let mut segments = listing.segments;
        if segments.is_empty() {
            segments.push(from);
        }
        let mut apply = |position: u64, payload: &[u8]| {
            if position >= from {
                on_record(position, payload)
            } else {
                Ok(())
            }
        };
        let first = read_sealed(&layout, &segments, from, &mut apply)?;
        let last = segments.len() - 1;
        let storage = FileStorage::open(layout.segment(segments[last])).map_err(OpenError::Io)?;
        let (current, recovery) = Journal::open_at(storage, durability, segments[last], apply)?;
        let end = current.next_sequence();
        if end < from {
            return Err(layout_error(format!(
                "the snapshot at record {from} is past the journal's end, record {end}"
            )));
        }
        for temp in &listing.temps {
            Layout::remove(temp).map_err(OpenError::Io)?;
        }
        let known_good = listing.snapshots.contains(&from) && from > 0;
        let journal = Self {
            layout,
            durability,
            options,
            segments,
            snapshots: if known_good { vec![from] } else { Vec::new() },
            current,
        };
        let recovered = SegmentedRecovery {
            from,
            end,
            segments_read: last + 1 - first,
            truncated_tail_bytes: recovery.truncated_tail_bytes,
        };
        Ok((journal, recovered))
    }

    /// First positions of the segments on disk, ascending.
    #[must_use]
    pub fn segment_starts(&self) -> &[u64] {
        &self.segments
    }

    /// Starts a new segment at the next position, unless the current one is empty.
    fn roll(&mut self) -> io::Result<()> {
        let next = self.current.next_sequence();
        if next == self.current.first_sequence() || self.current.poisoned().is_some() {
            return Ok(());
        }
        let path = self.layout.segment(next);
        let storage = FileStorage::open(&path)?;
        let (current, recovery) = Journal::open_at(storage, self.durability, next, |_, _| {
            Err::<(), _>("a new segment already holds records")
        })
        .map_err(|e| io::Error::other(format!("new segment {}: {e}", path.display())))?;
        debug_assert_eq!(recovery.records, next);
        self.current = current;
        self.segments.push(next);
        Ok(())
    }

    /// Deletes snapshot files other than the newest [`KEPT_SNAPSHOTS`] known good ones, and
    /// the segments wholly below the older kept one (only once that many are known good).
    fn prune(&mut self) -> io::Result<()> {
        let surplus = self.snapshots.len().saturating_sub(KEPT_SNAPSHOTS);
        self.snapshots.drain(..surplus);
        let listing = self.layout.list()?;
        for position in listing.snapshots {
            if !self.snapshots.contains(&position) {
                Layout::remove(&self.layout.snapshot(position))?;
            }
        }
        if self.snapshots.len() == KEPT_SNAPSHOTS {
            let oldest_kept = self.snapshots[0];
            let below = self
                .segments
                .windows(2)
                .take_while(|pair| pair[1] <= oldest_kept)
                .count();
            for start in self.segments.drain(..below) {
                Layout::remove(&self.layout.segment(start))?;
            }
        }
        self.layout.sync_dir()
    }
}

impl Log for SegmentedJournal {
    fn append_batch(&mut self, records: &[&[u8]]) -> Result<BatchStats, JournalError> {
        let stats = self.current.append_batch(records)?;
        if self.current.len_bytes() >= self.options.max_segment_bytes
            && let Err(error) = self.roll()
        {
            // The batch is durable in the current segment; it just grows until a roll works.
            tracing::warn!(%error, "journal: could not start a new segment; appending to the current one");
        }
        Ok(stats)
    }

    fn next_position(&self) -> u64 {
        self.current.next_sequence()
    }

    fn read_from(
        &mut self,
        from: u64,
        on_record: &mut OnRecord<'_>,
    ) -> Result<u64, OpenError<String>> {
        let last = self.segments.len() - 1;
        let first = self
            .segments
            .iter()
            .rposition(|&start| start <= from)
            .ok_or_else(|| {
                layout_error(format!(
                    "records from {from} on were asked for; the first segment starts at {}",
                    self.segments[0]
                ))
            })?;
        let mut apply = |position: u64, payload: &[u8]| {
            if position >= from {
                on_record(position, payload)
            } else {
                Ok(())
            }
        };
        for i in first..last {
            let path = self.layout.segment(self.segments[i]);
            let mut storage = FileStorage::open_read_only(&path).map_err(OpenError::Io)?;
            recovery::scan_from(&mut storage, self.segments[i], &mut apply)?;
        }
        self.current
            .read_from(from.max(self.segments[last]), &mut apply)
    }

    fn store_snapshot(&mut self, position: u64, snapshot: &[u8]) -> io::Result<bool> {
        let next = self.current.next_sequence();
        if position != next {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a snapshot at record {position} while the journal is at record {next}"),
            ));
        }
        self.layout.write_snapshot(position, snapshot)?;
        if self.snapshots.last() != Some(&position) {
            self.snapshots.push(position);
        }
        self.roll()?;
        self.prune()?;
        Ok(true)
    }
}
