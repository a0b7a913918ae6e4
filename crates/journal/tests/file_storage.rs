//! Journal on a real file: round trips and every recovery rule against bytes on disk.

mod support;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use stampede_journal::{Durability, FileStorage, FrameDefect, OpenError};
use support::{as_slices, open_collect, record_offset, sample_payloads};

/// Writes `payloads` to a new journal file in `dir` in batches of `batch` records.
fn write_journal(dir: &Path, payloads: &[Vec<u8>], batch: usize) -> PathBuf {
    let path = dir.join("data/journal.log");
    let storage = FileStorage::open(&path).expect("open storage");
    let (mut journal, recovery, replayed) = open_collect(storage, Durability::Fsync).expect("open");
    assert_eq!(recovery.records, 0);
    assert!(replayed.is_empty());
    for chunk in payloads.chunks(batch) {
        let stats = journal.append_batch(&as_slices(chunk)).expect("append");
        assert_eq!(stats.records, chunk.len());
        assert!(stats.synced);
    }
    assert_eq!(
        journal.len_bytes(),
        fs::metadata(&path).expect("metadata").len()
    );
    path
}

fn reopen(
    path: &Path,
) -> Result<support::Opened<FileStorage>, OpenError<std::convert::Infallible>> {
    open_collect(
        FileStorage::open(path).expect("open storage"),
        Durability::Fsync,
    )
}

#[test]
fn round_trip_replays_exactly_what_was_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payloads = sample_payloads(100);
    let path = write_journal(dir.path(), &payloads, 7);
    let (mut journal, recovery, replayed) = reopen(&path).expect("reopen");
    assert_eq!(replayed, payloads);
    assert_eq!(recovery.truncated_tail_bytes, 0);
    journal
        .append_batch(&[b"one more"])
        .expect("append after reopen");
    drop(journal);
    let (_, _, replayed) = reopen(&path).expect("reopen again");
    assert_eq!(replayed.len(), 101);
    assert_eq!(replayed[100], b"one more");
}

#[test]
fn file_cut_mid_record_drops_only_the_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payloads = sample_payloads(10);
    let path = write_journal(dir.path(), &payloads, 3);
    let cut = record_offset(&payloads, 7) + 9;
    OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(cut)
        .expect("cut");

    let (mut journal, recovery, replayed) = reopen(&path).expect("torn tail recovers");
    assert_eq!(replayed, payloads[..7]);
    assert_eq!(recovery.bytes, record_offset(&payloads, 7));
    assert_eq!(recovery.truncated_tail_bytes, 9);
    assert_eq!(
        recovery.tail_defect,
        Some(FrameDefect::ShortHeader { available: 9 })
    );
    assert_eq!(fs::metadata(&path).expect("metadata").len(), recovery.bytes);

    journal.append_batch(&[b"after the cut"]).expect("append");
    drop(journal);
    let (_, _, replayed) = reopen(&path).expect("reopen");
    assert_eq!(replayed.len(), 8);
    assert_eq!(replayed[7], b"after the cut");
}

#[test]
fn flipped_byte_in_a_middle_record_is_corrupt_middle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payloads = sample_payloads(9);
    let path = write_journal(dir.path(), &payloads, 4);
    let mut bytes = fs::read(&path).expect("read");
    let middle = record_offset(&payloads, 4);
    bytes[middle as usize + 22] ^= 0x20;
    fs::write(&path, &bytes).expect("write");

    // Records 5..8 share record 4's batch and may be dropped with it; record 8 opens the next
    // batch, which proves batch 4..8 was acknowledged.
    match reopen(&path) {
        Err(OpenError::CorruptMiddle {
            offset,
            later_offset,
            later_sequence,
            later_batch_start,
            defect,
        }) => {
            assert_eq!(offset, middle);
            assert_eq!(later_offset, record_offset(&payloads, 8));
            assert_eq!(later_sequence, 8);
            assert_eq!(later_batch_start, 8);
            assert!(matches!(defect, FrameDefect::ChecksumMismatch { .. }));
        }
        Err(other) => panic!("expected CorruptMiddle, got {other:?}"),
        Ok(_) => panic!("expected CorruptMiddle, journal opened"),
    }
    assert_eq!(
        fs::read(&path).expect("read"),
        bytes,
        "a corrupt middle must not be truncated"
    );
}

#[test]
fn last_batch_with_a_lost_first_page_is_truncated_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payloads = sample_payloads(9);
    let path = write_journal(dir.path(), &payloads, 4);
    // The last batch is records 8..9; append one more batch (9..12) whose first frame never
    // reached the disk while its later frames did.
    let all = sample_payloads(12);
    let (mut journal, _, _) = reopen(&path).expect("reopen");
    journal.append_batch(&as_slices(&all[9..])).expect("append");
    drop(journal);
    let mut bytes = fs::read(&path).expect("read");
    let lost = record_offset(&all, 9) as usize..record_offset(&all, 10) as usize;
    bytes[lost.clone()].fill(0);
    fs::write(&path, &bytes).expect("write");

    let (_, recovery, replayed) = reopen(&path).expect("torn last batch recovers");
    assert_eq!(replayed, payloads);
    assert_eq!(recovery.bytes, lost.start as u64);
    assert_eq!(
        recovery.truncated_tail_bytes,
        (bytes.len() - lost.start) as u64
    );
    assert!(matches!(
        recovery.tail_defect,
        Some(FrameDefect::BadMagic { found: 0 })
    ));
    assert_eq!(fs::metadata(&path).expect("metadata").len(), recovery.bytes);
}

#[test]
fn appended_garbage_is_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payloads = sample_payloads(5);
    let path = write_journal(dir.path(), &payloads, 5);
    let good = fs::metadata(&path).expect("metadata").len();
    let garbage = b"StJ2\xff\xff\x00\x00 this is not a frame \x01\x02\x03";
    OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open")
        .write_all(garbage)
        .expect("garbage");

    let (_, recovery, replayed) = reopen(&path).expect("garbage tail recovers");
    assert_eq!(replayed, payloads);
    assert_eq!(recovery.truncated_tail_bytes, garbage.len() as u64);
    assert_eq!(fs::metadata(&path).expect("metadata").len(), good);
}
