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
pub(crate) fn recover<S: Storage, E>(
    storage: &mut S,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<Recovery, OpenError<E>> {
    let scanned = scan(storage, on_record)?;
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
/// looks like a torn tail).
///
/// # Errors
/// As [`recover`]: `Io`, `CorruptMiddle` or `Fork` (after the records before the damage were
/// passed to `on_record`), or `Apply`.
pub(crate) fn scan<S: Storage, E>(
    storage: &mut S,
    mut on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<Scanned, OpenError<E>> {
    let end = storage.len_bytes().map_err(OpenError::Io)?;
    let mut window = ReadWindow::new(end);
    let mut offset = 0_u64;
    let mut next_sequence = 0_u64;
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
mod tests {
    use super::*;
    use crate::memory_storage::MemoryStorage;

    /// A journal with one record per batch, and each record's offset.
    fn journal_bytes(payloads: &[&[u8]]) -> (Vec<u8>, Vec<u64>) {
        let batches: Vec<&[&[u8]]> = payloads.chunks(1).collect();
        batched_journal_bytes(&batches)
    }

    /// A journal written as `batches` (as `append_batch` would frame them), and each record's
    /// offset.
    fn batched_journal_bytes(batches: &[&[&[u8]]]) -> (Vec<u8>, Vec<u64>) {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        let mut sequence = 0_u64;
        for batch in batches {
            let batch_start = sequence;
            for payload in *batch {
                offsets.push(bytes.len() as u64);
                frame::encode_into(&mut bytes, sequence, batch_start, payload);
                sequence += 1;
            }
        }
        (bytes, offsets)
    }

    /// Recovery's result, the payloads it replayed, and the storage bytes afterwards.
    type Replayed = (Result<Recovery, OpenError<String>>, Vec<Vec<u8>>, Vec<u8>);

    fn replay(bytes: Vec<u8>) -> Replayed {
        let mut storage = MemoryStorage::with_bytes(bytes, 0);
        let mut seen = Vec::new();
        let result = recover(&mut storage, |sequence, payload| {
            assert_eq!(sequence, seen.len() as u64, "replay out of order");
            seen.push(payload.to_vec());
            Ok::<_, String>(())
        });
        (result, seen, storage.bytes())
    }

    const PAYLOADS: [&[u8]; 3] = [b"first", b"second record", b"third"];

    #[test]
    fn clean_journal_replays_everything() {
        let (bytes, _) = journal_bytes(&PAYLOADS);
        let len = bytes.len() as u64;
        let (result, seen, after) = replay(bytes.clone());
        let recovery = result.expect("clean");
        assert_eq!(
            recovery,
            Recovery {
                records: 3,
                bytes: len,
                truncated_tail_bytes: 0,
                tail_defect: None
            }
        );
        assert_eq!(seen, PAYLOADS.map(<[u8]>::to_vec));
        assert_eq!(after, bytes);
    }

    #[test]
    fn empty_journal_is_clean() {
        let (result, seen, _) = replay(Vec::new());
        assert_eq!(result.expect("empty").records, 0);
        assert!(seen.is_empty());
    }

    #[test]
    fn every_torn_tail_is_truncated_to_the_last_whole_frame() {
        let (bytes, offsets) = journal_bytes(&PAYLOADS);
        for cut in 0..bytes.len() {
            let (result, seen, after) = replay(bytes[..cut].to_vec());
            let recovery = result.expect("torn tail is recoverable");
            let whole = offsets.iter().filter(|&&start| start < cut as u64).count();
            let whole = if offsets.contains(&(cut as u64)) {
                whole
            } else {
                whole - 1
            };
            assert_eq!(seen.len(), whole, "cut at {cut}");
            assert_eq!(recovery.records, whole as u64);
            assert_eq!(after.len() as u64, recovery.bytes);
            assert_eq!(recovery.bytes + recovery.truncated_tail_bytes, cut as u64);
        }
    }

    #[test]
    fn garbage_tail_is_truncated() {
        let (mut bytes, _) = journal_bytes(&PAYLOADS);
        let good = bytes.len();
        bytes.extend_from_slice(b"\x00\xffnot a frame at all, just junk");
        let (result, seen, after) = replay(bytes);
        let recovery = result.expect("garbage tail");
        assert_eq!(seen.len(), 3);
        assert_eq!(after.len(), good);
        assert!(matches!(
            recovery.tail_defect,
            Some(FrameDefect::BadMagic { .. })
        ));
    }

    #[test]
    fn corrupt_last_frame_is_truncated() {
        let (mut bytes, offsets) = journal_bytes(&PAYLOADS);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let (result, seen, after) = replay(bytes);
        let recovery = result.expect("corrupt tail");
        assert_eq!(seen.len(), 2);
        assert_eq!(after.len() as u64, offsets[2]);
        assert!(matches!(
            recovery.tail_defect,
            Some(FrameDefect::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn corrupt_middle_frame_is_an_error_and_nothing_is_truncated() {
        let (mut bytes, offsets) = journal_bytes(&PAYLOADS);
        bytes[offsets[1] as usize + HEADER_BYTES] ^= 0x01;
        let (result, _, after) = replay(bytes.clone());
        match result {
            Err(OpenError::CorruptMiddle {
                offset,
                later_offset,
                later_sequence,
                later_batch_start,
                ..
            }) => {
                assert_eq!(offset, offsets[1]);
                assert_eq!(later_offset, offsets[2]);
                assert_eq!(later_sequence, 2);
                assert_eq!(later_batch_start, 2);
            }
            other => panic!("expected CorruptMiddle, got {other:?}"),
        }
        assert_eq!(after, bytes, "storage must not be truncated");
    }

    #[test]
    fn corrupt_first_frame_before_valid_ones_is_an_error() {
        let (mut bytes, _) = journal_bytes(&PAYLOADS);
        bytes[1] ^= 0x40;
        let (result, seen, _) = replay(bytes);
        assert!(matches!(
            result,
            Err(OpenError::CorruptMiddle { offset: 0, .. })
        ));
        assert!(seen.is_empty());
    }

    #[test]
    fn oversized_length_in_the_middle_is_corrupt_not_allocated() {
        let (mut bytes, offsets) = journal_bytes(&PAYLOADS);
        let at = offsets[1] as usize + 4;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let (result, _, _) = replay(bytes);
        match result {
            Err(OpenError::CorruptMiddle { defect, .. }) => {
                assert_eq!(defect, FrameDefect::LengthTooLarge { length: u32::MAX });
            }
            other => panic!("expected CorruptMiddle, got {other:?}"),
        }
    }

    #[test]
    fn oversized_length_at_the_tail_is_truncated() {
        let (mut bytes, offsets) = journal_bytes(&PAYLOADS);
        let at = offsets[2] as usize + 4;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let (result, seen, _) = replay(bytes);
        let recovery = result.expect("tail");
        assert_eq!(seen.len(), 2);
        assert_eq!(
            recovery.tail_defect,
            Some(FrameDefect::LengthTooLarge { length: u32::MAX })
        );
    }

    #[test]
    fn sequence_gap_is_corrupt_middle() {
        let mut bytes = Vec::new();
        frame::encode_into(&mut bytes, 0, 0, b"a");
        frame::encode_into(&mut bytes, 2, 2, b"c");
        let (result, _, _) = replay(bytes);
        assert!(matches!(
            result,
            Err(OpenError::CorruptMiddle {
                defect: FrameDefect::UnexpectedSequence {
                    expected: 1,
                    found: 2
                },
                later_sequence: 2,
                ..
            })
        ));
    }

    #[test]
    fn a_whole_frame_going_back_after_the_history_is_a_fork_and_nothing_is_truncated() {
        let mut bytes = Vec::new();
        frame::encode_into(&mut bytes, 0, 0, b"a");
        let end_of_history = bytes.len() as u64;
        frame::encode_into(&mut bytes, 1, 1, b"b");
        let repeat = bytes.len() as u64;
        frame::encode_into(&mut bytes, 1, 1, b"another b");
        let (result, seen, after) = replay(bytes.clone());
        match result {
            Err(OpenError::Fork {
                offset,
                expected_sequence,
                fork_offset,
                fork_sequence,
                fork_batch_start,
            }) => {
                assert_eq!((offset, fork_offset), (repeat, repeat));
                assert_eq!(
                    (expected_sequence, fork_sequence, fork_batch_start),
                    (2, 1, 1)
                );
            }
            other => panic!("expected Fork, got {other:?}"),
        }
        assert_eq!(seen.len(), 2);
        assert_eq!(after, bytes, "storage must not be truncated");
        assert!(end_of_history < repeat);
    }

    /// Two batches: records 0..2, then 2..5.
    const FIRST_BATCH: [&[u8]; 2] = [b"first batch, record 0", b"first batch, record 1"];
    const LAST_BATCH: [&[u8]; 3] = [
        b"last batch, record 2",
        b"last batch, record 3",
        b"record 4",
    ];

    fn two_batches() -> (Vec<u8>, Vec<u64>) {
        batched_journal_bytes(&[&FIRST_BATCH, &LAST_BATCH])
    }

    /// Damages the frame occupying `bytes[start..end]`.
    type Damage = fn(&mut [u8], usize, usize);

    /// Ways a crash (or a disk) can leave a frame unreadable, by name.
    fn damages() -> [(&'static str, Damage); 3] {
        [
            // Its page never reached storage: zeros where the whole frame should be.
            ("zeroed frame", |bytes, start, end| {
                bytes[start..end].fill(0)
            }),
            // Only the page holding its header was lost.
            ("zeroed header", |bytes, start, _| {
                bytes[start..start + HEADER_BYTES].fill(0);
            }),
            // Stale or flipped bytes in its payload.
            ("garbled payload", |bytes, start, _| {
                bytes[start + HEADER_BYTES] ^= 0x5a;
            }),
        ]
    }

    #[test]
    fn torn_first_frame_of_the_last_batch_is_truncated_despite_later_frames_of_that_batch() {
        let (clean, offsets) = two_batches();
        for (name, damage) in damages() {
            let mut bytes = clean.clone();
            damage(&mut bytes, offsets[2] as usize, offsets[3] as usize);
            let (result, seen, after) = replay(bytes.clone());
            let recovery =
                result.unwrap_or_else(|error| panic!("{name}: torn last batch refused: {error}"));
            assert_eq!(seen, FIRST_BATCH.map(<[u8]>::to_vec), "{name}");
            assert_eq!(recovery.records, 2, "{name}");
            assert_eq!(recovery.bytes, offsets[2], "{name}");
            assert_eq!(
                recovery.truncated_tail_bytes,
                bytes.len() as u64 - offsets[2],
                "{name}"
            );
            assert_eq!(after, clean[..offsets[2] as usize], "{name}");
        }
    }

    #[test]
    fn torn_middle_frame_of_the_last_batch_keeps_the_frames_before_it() {
        let (clean, offsets) = two_batches();
        for (name, damage) in damages() {
            let mut bytes = clean.clone();
            damage(&mut bytes, offsets[3] as usize, offsets[4] as usize);
            let (result, seen, after) = replay(bytes);
            let recovery = result.unwrap_or_else(|error| panic!("{name}: refused: {error}"));
            assert_eq!(seen.len(), 3, "{name}");
            assert_eq!(recovery.bytes, offsets[3], "{name}");
            assert_eq!(after.len() as u64, offsets[3], "{name}");
        }
    }

    #[test]
    fn the_same_damage_in_an_earlier_batch_is_corrupt_middle() {
        let (clean, offsets) = two_batches();
        for (name, damage) in damages() {
            let mut bytes = clean.clone();
            damage(&mut bytes, offsets[0] as usize, offsets[1] as usize);
            let (result, seen, after) = replay(bytes.clone());
            match result {
                Err(OpenError::CorruptMiddle {
                    offset,
                    later_offset,
                    later_sequence,
                    later_batch_start,
                    ..
                }) => {
                    assert_eq!(offset, 0, "{name}");
                    assert_eq!(later_offset, offsets[2], "{name}: first frame of batch 2");
                    assert_eq!(later_sequence, 2, "{name}");
                    assert_eq!(later_batch_start, 2, "{name}");
                }
                other => panic!("{name}: expected CorruptMiddle, got {other:?}"),
            }
            assert!(seen.is_empty(), "{name}");
            assert_eq!(after, bytes, "{name}: storage must not be truncated");
        }
    }

    #[test]
    fn damage_to_the_second_frame_of_an_earlier_batch_is_corrupt_middle() {
        let (mut bytes, offsets) = two_batches();
        bytes[offsets[1] as usize + HEADER_BYTES] ^= 0x01;
        let (result, seen, _) = replay(bytes);
        assert!(matches!(
            result,
            Err(OpenError::CorruptMiddle {
                later_sequence: 2,
                later_batch_start: 2,
                ..
            })
        ));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn later_batch_with_non_contiguous_sequence_is_corrupt_middle() {
        // Records 0..2 good, frame 2 lost, then a valid frame of a batch that began at 5: batches
        // 2..5 were acknowledged before it was written, whatever became of them.
        let (mut bytes, _) = batched_journal_bytes(&[&FIRST_BATCH]);
        bytes.extend_from_slice(&[0; 40]);
        let later = bytes.len() as u64;
        frame::encode_into(&mut bytes, 7, 5, b"later batch");
        let (result, _, after) = replay(bytes.clone());
        assert!(matches!(
            result,
            Err(OpenError::CorruptMiddle {
                later_offset,
                later_sequence: 7,
                later_batch_start: 5,
                ..
            }) if later_offset == later
        ));
        assert_eq!(after, bytes);
    }

    #[test]
    fn a_frame_of_the_expected_sequence_after_a_bad_one_is_a_fork() {
        // Records 0..3 (batches {0}, {1, 2}), a lost page where record 3 belongs, then a valid
        // frame carrying 3: one writer puts record 3 only right after record 2, so this one was
        // written by another that also reached 3 (or is a stale frame of an old truncated
        // batch, which cannot be told apart): refused, not truncated.
        let (mut bytes, _) = batched_journal_bytes(&[&[b"a"], &[b"b", b"c"]]);
        let bad = bytes.len() as u64;
        bytes.extend_from_slice(&[0; 64]);
        let fork = bytes.len() as u64;
        frame::encode_into(&mut bytes, 3, 1, b"other history");
        let (result, seen, after) = replay(bytes.clone());
        assert!(
            matches!(
                result,
                Err(OpenError::Fork {
                    offset,
                    expected_sequence: 3,
                    fork_offset,
                    fork_sequence: 3,
                    fork_batch_start: 1,
                }) if offset == bad && fork_offset == fork
            ),
            "{result:?}"
        );
        assert_eq!(seen.len(), 3);
        assert_eq!(after, bytes);
    }

    #[test]
    fn later_frames_of_the_torn_batch_still_allow_truncation() {
        // The torn batch began at 1 and holds records 1..4; record 2's page was lost and record
        // 3 survived: sequence 3 is after the expected 2, batch start 1 is not: a torn tail.
        let (clean, offsets) = batched_journal_bytes(&[&[b"a"], &[b"b", b"c", b"d"]]);
        let mut bytes = clean.clone();
        bytes[offsets[2] as usize..offsets[3] as usize].fill(0);
        let (result, seen, after) = replay(bytes);
        let recovery = result.expect("torn last batch");
        assert_eq!(seen.len(), 2);
        assert_eq!(after, clean[..offsets[2] as usize]);
        assert_eq!(
            recovery.truncated_tail_bytes,
            clean.len() as u64 - offsets[2]
        );
    }

    #[test]
    fn callback_error_aborts_open() {
        let (bytes, _) = journal_bytes(&PAYLOADS);
        let mut storage = MemoryStorage::with_bytes(bytes.clone(), 0);
        let result = recover(&mut storage, |sequence, _| {
            if sequence == 1 {
                Err("rejected")
            } else {
                Ok(())
            }
        });
        assert!(matches!(
            result,
            Err(OpenError::Apply {
                sequence: 1,
                source: "rejected"
            })
        ));
        assert_eq!(storage.bytes(), bytes);
    }

    #[test]
    fn streams_journals_larger_than_one_read_chunk() {
        let payload = vec![7_u8; 1000];
        let payloads: Vec<&[u8]> = (0..3000).map(|_| payload.as_slice()).collect();
        let (bytes, _) = journal_bytes(&payloads);
        assert!(bytes.len() > 2 * crate::limits::READ_CHUNK_BYTES);
        let (result, seen, _) = replay(bytes);
        assert_eq!(result.expect("clean").records, 3000);
        assert!(seen.iter().all(|record| record == &payload));
    }
}
