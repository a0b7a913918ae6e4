//! Recovery: replays the valid prefix of the journal, truncates a torn tail, and refuses to
//! truncate anything that looks like damage in the middle or a forked history.
//!
//! # Why the rule is safe
//!
//! Replay stops at the first bad frame, at byte `offset`, where record `s` (the expected next
//! sequence) should be. From there to the end, every checksum-valid frame is found (byte by byte,
//! the bad frame included) and decides by its `batch_start` and sequence:
//!
//! - **Some frame has `batch_start > s`: corrupt middle.** It was written by an `append_batch`
//!   that began after record `s` had been appended. Under `Durability::Fsync` the writer starts a
//!   batch only after the previous one was synced and acknowledged (a failed append or sync
//!   poisons the journal, so nothing follows it), so record `s` was acknowledged and truncating
//!   would drop acknowledged records. This holds whatever that frame's sequence is: a gap before
//!   it, or a sequence that does not continue from `s`, is just more damage. The frame's
//!   `batch_start` alone is the evidence, and it is covered by the checksum.
//! - **Some frame has a sequence `<= s`: forked history.** One writer puts record `s` exactly at
//!   `offset`, right after record `s - 1`, and every record it wrote before `s` lies before
//!   `offset`; so a whole, valid frame at or after `offset` carrying `s` or an earlier sequence
//!   was written by a second writer that did not know this history: two processes appending to
//!   one file (each through `O_APPEND`, its whole batches land one after the other, and the
//!   second repeats sequences the first already used; without `O_APPEND` they also overwrite
//!   each other, leaving torn frames mid-file). Either history's batches may have been
//!   acknowledged, so nothing is truncated. The common shape is the bad frame itself being such
//!   a frame: the valid history is followed at once by a whole frame that goes back.
//! - **Otherwise: torn last batch.** Every valid frame left has `batch_start <= s < sequence`:
//!   the later frames of the batch holding `s`. With no later batch on storage, that batch is
//!   the last one written; it went out in one append and one sync, so if the crash came before
//!   the sync returned, the page cache may have persisted its pages in any order: a lost first
//!   page followed by a surviving later page is exactly this picture, and it was never
//!   acknowledged, so dropping all of it from `s` on loses nothing that was promised.
//!
//! Three ambiguities are inherent and accepted. If the *last* batch on storage was synced and
//! acknowledged and later damaged by the medium (not a crash), it looks exactly like a torn one
//! and its records from the damage on are truncated; this already held for the last frame before
//! `batch_start` existed, and the warning names the defect. Under `Durability::Os` several
//! unsynced batches can reach storage out of order; a lost page of one followed by a surviving
//! page of the next reports `CorruptMiddle`, since nothing on storage says those batches were
//! never synced. That operator accepted losing unsynced batches and can truncate at the reported
//! offset by hand. And a file system that, after a crash, shows blocks of a tail an earlier
//! recovery truncated (stale frames of that old batch) makes them look like a second writer's:
//! that is reported as a fork rather than guessed away, with the offsets to truncate at by hand.

use crate::error::OpenError;
use crate::frame::{self, FrameDefect, HEADER_BYTES};
use crate::limits::MAX_RECORD_BYTES;
use crate::storage::Storage;
use crate::window::ReadWindow;

/// Bytes the read window must offer to decode any legal frame.
const MAX_FRAME_BYTES: usize = HEADER_BYTES + MAX_RECORD_BYTES;

/// What [`crate::Journal::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Records replayed (sequences `0..records`).
    pub records: u64,
    /// Bytes of valid frames kept; new appends start here.
    pub bytes: u64,
    /// Bytes dropped from a torn or corrupt tail (0 when the journal ended cleanly).
    pub truncated_tail_bytes: u64,
    /// Why the tail was dropped, when it was.
    pub tail_defect: Option<FrameDefect>,
}

/// The first frame that is not the expected next record.
#[derive(Debug, Clone, Copy)]
struct BadFrame {
    offset: u64,
    defect: FrameDefect,
}

/// What lies after the first bad frame (see the module docs for why this decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterBadFrame {
    /// No valid frame of a later batch nor one going back: the tail is a torn last batch (plus
    /// garbage) and may be truncated. `dropped_valid_frames` counts the checksum-valid frames in
    /// it, for the warning.
    TornTail { dropped_valid_frames: u64 },
    /// A valid frame of a batch that started after the bad frame's expected sequence.
    LaterBatch(FoundFrame),
    /// A valid frame whose sequence is at or before the bad frame's expected sequence.
    Fork(FoundFrame),
}

/// A checksum-valid frame found after the first bad one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FoundFrame {
    offset: u64,
    sequence: u64,
    batch_start: u64,
}

/// What [`scan`] found: the valid prefix, and the torn tail after it, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scanned {
    /// Records replayed (sequences `0..records`).
    pub(crate) records: u64,
    /// Bytes of valid frames.
    pub(crate) bytes: u64,
    /// The torn tail after them (a tail that is damage in the middle is an error instead).
    pub(crate) torn: Option<TornTail>,
}

/// A torn last batch (plus garbage or stale frames) at the end of the journal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TornTail {
    /// Where it starts (the first bad frame) and what is wrong there.
    pub(crate) offset: u64,
    pub(crate) defect: FrameDefect,
    /// Bytes from `offset` to the end.
    pub(crate) bytes: u64,
    /// Checksum-valid frames among them (of the unacknowledged last batch).
    pub(crate) valid_frames: u64,
}

/// Replays every valid record through `on_record`, then truncates (and syncs) a torn tail.
///
/// Records are passed to `on_record` as they are read, before the rest of the journal is
/// checked; if this returns `CorruptMiddle` or `Fork` afterwards the caller must discard what
/// it rebuilt.
#[cfg(test)]
pub(crate) fn recover<S: Storage, E>(
    storage: &mut S,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<Recovery, OpenError<E>> {
    recover_from(storage, 0, on_record)
}

/// [`recover`] for storage whose first record has sequence `first_sequence` (a journal
/// segment after the first); [`Recovery::records`] is then the sequence after the last one.
pub(crate) fn recover_from<S: Storage, E>(
    storage: &mut S,
    first_sequence: u64,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<Recovery, OpenError<E>> {
    let scanned = scan_from(storage, first_sequence, on_record)?;
    let mut recovery = Recovery {
        records: scanned.records,
        bytes: scanned.bytes,
        truncated_tail_bytes: 0,
        tail_defect: None,
    };
    let Some(torn) = scanned.torn else {
        return Ok(recovery);
    };
    tracing::warn!(
        offset = torn.offset,
        dropped_bytes = torn.bytes,
        dropped_valid_frames = torn.valid_frames,
        defect = %torn.defect,
        "journal: truncating torn tail at offset {} ({} bytes dropped, {} valid frames of the \
         unacknowledged last batch among them): {}",
        torn.offset,
        torn.bytes,
        torn.valid_frames,
        torn.defect,
    );
    storage.truncate(torn.offset).map_err(OpenError::Io)?;
    storage.sync().map_err(OpenError::Io)?;
    recovery.truncated_tail_bytes = torn.bytes;
    recovery.tail_defect = Some(torn.defect);
    Ok(recovery)
}

/// Replays every valid record through `on_record` and classifies what follows them, reading
/// only: storage is never written, truncated or synced. The length is read once at the start,
/// so bytes a live writer appends meanwhile are not seen (a batch it is writing at that moment
/// looks like a torn tail). The storage's first record has sequence `first_sequence` (0 but
/// for a later segment); [`Scanned::records`] is the sequence after the last valid record.
///
/// # Errors
/// As [`recover_from`]: `Io`, `CorruptMiddle` or `Fork` (after the records before the damage
/// were passed to `on_record`), or `Apply`.
pub(crate) fn scan_from<S: Storage, E>(
    storage: &mut S,
    first_sequence: u64,
    mut on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<Scanned, OpenError<E>> {
    let end = storage.len_bytes().map_err(OpenError::Io)?;
    let mut window = ReadWindow::new(end);
    let mut offset = 0_u64;
    let mut next_sequence = first_sequence;
    let mut bad = None;
    while offset < end {
        let bytes = window
            .bytes_at(storage, offset, MAX_FRAME_BYTES)
            .map_err(OpenError::Io)?;
        let defect = match frame::decode(bytes) {
            Ok(frame) if frame.sequence == next_sequence => {
                on_record(frame.sequence, frame.payload).map_err(|source| OpenError::Apply {
                    sequence: frame.sequence,
                    source,
                })?;
                offset += to_u64(frame.encoded_bytes());
                next_sequence += 1;
                continue;
            }
            Ok(frame) => FrameDefect::UnexpectedSequence {
                expected: next_sequence,
                found: frame.sequence,
            },
            Err(defect) => defect,
        };
        bad = Some(BadFrame { offset, defect });
        break;
    }
    assert!(offset <= end, "recovery ran past the end: {offset} > {end}");

    let mut scanned = Scanned {
        records: next_sequence,
        bytes: offset,
        torn: None,
    };
    let Some(bad) = bad else {
        return Ok(scanned);
    };
    match scan_after_bad_frame(storage, &mut window, bad.offset, end, next_sequence)
        .map_err(OpenError::Io)?
    {
        AfterBadFrame::LaterBatch(later) => {
            assert!(
                later.batch_start > next_sequence,
                "scan returned a non-later batch"
            );
            Err(OpenError::CorruptMiddle {
                offset: bad.offset,
                defect: bad.defect,
                later_offset: later.offset,
                later_sequence: later.sequence,
                later_batch_start: later.batch_start,
            })
        }
        AfterBadFrame::Fork(fork) => {
            assert!(
                fork.sequence <= next_sequence && fork.offset >= bad.offset,
                "scan returned a frame that does not fork"
            );
            Err(OpenError::Fork {
                offset: bad.offset,
                expected_sequence: next_sequence,
                fork_offset: fork.offset,
                fork_sequence: fork.sequence,
                fork_batch_start: fork.batch_start,
            })
        }
        AfterBadFrame::TornTail {
            dropped_valid_frames,
        } => {
            scanned.torn = Some(TornTail {
                offset: bad.offset,
                defect: bad.defect,
                bytes: end - bad.offset,
                valid_frames: dropped_valid_frames,
            });
            Ok(scanned)
        }
    }
}

/// Scans forward byte by byte from `from` (the bad frame, itself included) for checksum-valid
/// frames. Returns the first whose batch started after `expected_sequence` (the sequence the bad
/// frame should have carried) or whose sequence is at or before it; otherwise how many valid
/// frames (all later ones of the torn batch) the tail holds.
///
/// The scan steps one byte past each candidate, valid or not, so a valid frame hidden inside
/// another's payload or overlapping it is still seen.
fn scan_after_bad_frame<S: Storage>(
    storage: &mut S,
    window: &mut ReadWindow,
    from: u64,
    end: u64,
    expected_sequence: u64,
) -> std::io::Result<AfterBadFrame> {
    let mut offset = from;
    let mut dropped_valid_frames = 0_u64;
    while offset < end {
        let bytes = window.bytes_at(storage, offset, MAX_FRAME_BYTES)?;
        // Skip straight to the next byte that could begin a magic number.
        let Some(candidate) = bytes
            .iter()
            .position(|&byte| byte == frame::MAGIC.to_le_bytes()[0])
        else {
            offset += to_u64(bytes.len());
            continue;
        };
        let candidate_offset = offset + to_u64(candidate);
        let bytes = window.bytes_at(storage, candidate_offset, MAX_FRAME_BYTES)?;
        if frame::starts_with_magic(bytes)
            && let Ok(frame) = frame::decode(bytes)
        {
            let found = FoundFrame {
                offset: candidate_offset,
                sequence: frame.sequence,
                batch_start: frame.batch_start,
            };
            if frame.batch_start > expected_sequence {
                return Ok(AfterBadFrame::LaterBatch(found));
            }
            if frame.sequence <= expected_sequence {
                return Ok(AfterBadFrame::Fork(found));
            }
            dropped_valid_frames += 1;
        }
        offset = candidate_offset + 1;
    }
    Ok(AfterBadFrame::TornTail {
        dropped_valid_frames,
    })
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).expect("usize fits in u64")
}

#[cfg(test)]
mod tests;
