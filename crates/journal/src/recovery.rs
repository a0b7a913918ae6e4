//! Recovery: replays the valid prefix of the journal, truncates a torn tail, and refuses to
//! truncate anything that looks like damage in the middle.

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

/// Replays every valid record through `on_record`, then truncates (and syncs) a torn tail.
///
/// Records are passed to `on_record` as they are read, before the rest of the journal is
/// checked; if this returns `CorruptMiddle` afterwards the caller must discard what it rebuilt.
pub(crate) fn recover<S: Storage, E>(
    storage: &mut S,
    mut on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<Recovery, OpenError<E>> {
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

    let mut recovery = Recovery {
        records: next_sequence,
        bytes: offset,
        truncated_tail_bytes: 0,
        tail_defect: None,
    };
    let Some(bad) = bad else {
        return Ok(recovery);
    };
    let last_good_sequence = next_sequence.checked_sub(1);
    if let Some((later_offset, later_sequence)) =
        find_later_record(storage, &mut window, bad.offset, end, last_good_sequence)
            .map_err(OpenError::Io)?
    {
        return Err(OpenError::CorruptMiddle {
            offset: bad.offset,
            defect: bad.defect,
            later_offset,
            later_sequence,
        });
    }

    let dropped = end - bad.offset;
    tracing::warn!(
        offset = bad.offset,
        dropped_bytes = dropped,
        defect = %bad.defect,
        "journal: truncating torn tail at offset {} ({} bytes dropped): {}",
        bad.offset,
        dropped,
        bad.defect,
    );
    storage.truncate(bad.offset).map_err(OpenError::Io)?;
    storage.sync().map_err(OpenError::Io)?;
    recovery.truncated_tail_bytes = dropped;
    recovery.tail_defect = Some(bad.defect);
    Ok(recovery)
}

/// Scans forward byte by byte from `from` for a checksum-valid frame whose sequence is after
/// `last_good_sequence` (any sequence when no record was good). Returns its offset and sequence.
fn find_later_record<S: Storage>(
    storage: &mut S,
    window: &mut ReadWindow,
    from: u64,
    end: u64,
    last_good_sequence: Option<u64>,
) -> std::io::Result<Option<(u64, u64)>> {
    let mut offset = from;
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
            && last_good_sequence.is_none_or(|last| frame.sequence > last)
        {
            return Ok(Some((candidate_offset, frame.sequence)));
        }
        offset = candidate_offset + 1;
    }
    Ok(None)
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).expect("usize fits in u64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_storage::MemoryStorage;

    fn journal_bytes(payloads: &[&[u8]]) -> (Vec<u8>, Vec<u64>) {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for (sequence, payload) in payloads.iter().enumerate() {
            offsets.push(bytes.len() as u64);
            frame::encode_into(&mut bytes, sequence as u64, payload);
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
                ..
            }) => {
                assert_eq!(offset, offsets[1]);
                assert_eq!(later_offset, offsets[2]);
                assert_eq!(later_sequence, 2);
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
        frame::encode_into(&mut bytes, 0, b"a");
        frame::encode_into(&mut bytes, 2, b"c");
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
    fn stale_duplicate_frame_at_tail_is_truncated() {
        let mut bytes = Vec::new();
        frame::encode_into(&mut bytes, 0, b"a");
        frame::encode_into(&mut bytes, 1, b"b");
        let good = bytes.len();
        frame::encode_into(&mut bytes, 0, b"a");
        let (result, seen, after) = replay(bytes);
        let recovery = result.expect("old sequence is not a later record");
        assert_eq!(seen.len(), 2);
        assert_eq!(after.len(), good);
        assert_eq!(
            recovery.tail_defect,
            Some(FrameDefect::UnexpectedSequence {
                expected: 2,
                found: 0
            })
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
