//! Replaying the segmented journal without touching it (`stampede reconcile`, the server's
//! reconciliation): the same segments as [`SegmentedJournal::open`] reads, opened read-only;
//! a torn tail of the last segment is reported and ignored, nothing is created or deleted.

use std::io;
use std::path::Path;

use super::SegmentedJournal;
use super::files::Layout;
use crate::error::OpenError;
use crate::file_storage::FileStorage;
use crate::read_only::{ReadOnlyReplay, replay_read_only_from};

impl SegmentedJournal {
    /// Calls `on_record(position, payload)` for every record at position `from` or later of
    /// the journal at `base`, reading only. [`ReadOnlyReplay::records`] is the position after
    /// the last record; its byte counts are the last segment's.
    ///
    /// # Errors
    /// [`OpenError::Io`] (`NotFound` when the journal has no segment), [`OpenError::Layout`]
    /// when the segments do not hold every record from `from` on, otherwise as
    /// [`crate::replay_read_only`].
    pub fn replay_read_only<E>(
        base: &Path,
        from: u64,
        mut on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<ReadOnlyReplay, OpenError<E>> {
        let layout = Layout::new(base).map_err(OpenError::Io)?;
        let segments = layout.list().map_err(OpenError::Io)?.segments;
        if segments.is_empty() {
            return Err(OpenError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no journal segment at {}", base.display()),
            )));
        }
        let mut apply = |position: u64, payload: &[u8]| {
            if position >= from {
                on_record(position, payload)
            } else {
                Ok(())
            }
        };
        super::read_sealed(&layout, &segments, from, &mut apply)?;
        let last = segments.len() - 1;
        let mut storage =
            FileStorage::open_read_only(layout.segment(segments[last])).map_err(OpenError::Io)?;
        let replay = replay_read_only_from(&mut storage, segments[last], apply)?;
        if replay.records < from {
            return Err(OpenError::Layout(format!(
                "the snapshot at record {from} is past the journal's end, record {}",
                replay.records
            )));
        }
        Ok(replay)
    }
}
