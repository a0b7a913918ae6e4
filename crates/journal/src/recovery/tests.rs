//! Unit tests of recovery: torn tails, CRC damage, sequence gaps and what is kept or cut.
//!
//! Over 400 lines on purpose: every case builds a journal with the same helpers and damages it
//! one way; the cases read best side by side, the torn-tail rules next to their exceptions.

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
