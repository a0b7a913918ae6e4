//! The segmented journal on real files: rollover, snapshots and pruning, a journal from
//! before segments, and the files a crash can leave at each step.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn small() -> SegmentOptions {
    SegmentOptions {
        max_segment_bytes: 200,
    }
}

fn base(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("journal.log")
}

/// Records replayed: (position, payload).
type Seen = Vec<(u64, Vec<u8>)>;

/// Opens from `from`, collecting every record replayed.
fn open(base: &Path, from: u64) -> Result<(SegmentedJournal, Seen), String> {
    let mut seen = Vec::new();
    let (journal, recovered) = SegmentedJournal::open(
        base,
        Durability::Fsync,
        small(),
        from,
        |position, payload: &[u8]| {
            seen.push((position, payload.to_vec()));
            Ok::<_, String>(())
        },
    )
    .map_err(|e| e.to_string())?;
    assert_eq!(recovered.end, journal.next_position());
    Ok((journal, seen))
}

fn record(i: u64) -> Vec<u8> {
    format!("record-{i:04}").into_bytes()
}

/// Appends records `from..to` two to a batch.
fn append(journal: &mut SegmentedJournal, from: u64, to: u64) {
    let records: Vec<Vec<u8>> = (from..to).map(record).collect();
    for pair in records.chunks(2) {
        let slices: Vec<&[u8]> = pair.iter().map(Vec::as_slice).collect();
        journal.append_batch(&slices).unwrap();
    }
    assert_eq!(journal.next_position(), to);
}

fn positions(seen: &[(u64, Vec<u8>)]) -> Vec<u64> {
    seen.iter().map(|&(p, _)| p).collect()
}

fn files(dir: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_journal_from_before_segments_is_the_first_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (mut old, _) = Journal::open(
        FileStorage::open(base(&dir)).unwrap(),
        Durability::Fsync,
        |_, _| Ok::<_, String>(()),
    )
    .unwrap();
    old.append_batch(&[b"a", b"b", b"c"]).unwrap();
    drop(old);
    let (mut journal, seen) = open(&base(&dir), 0).unwrap();
    assert_eq!(positions(&seen), vec![0, 1, 2]);
    assert_eq!(journal.segment_starts(), &[0]);
    append(&mut journal, 3, 4);
    assert_eq!(
        positions(&open(&base(&dir), 0).unwrap().1),
        vec![0, 1, 2, 3]
    );
}

#[test]
fn segments_roll_over_and_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = open(&base(&dir), 0).unwrap();
    append(&mut journal, 0, 40);
    let starts = journal.segment_starts().to_vec();
    assert!(starts.len() > 3, "{starts:?}");
    drop(journal);
    let (mut journal, seen) = open(&base(&dir), 0).unwrap();
    assert_eq!(positions(&seen), (0..40).collect::<Vec<_>>());
    assert!(seen.iter().all(|(p, payload)| *payload == record(*p)));
    assert_eq!(journal.segment_starts(), &starts[..]);
    // Reading from a position in the middle of a segment skips what comes before it.
    let mut read = Vec::new();
    let end = journal
        .read_from(starts[2] + 1, &mut |p, _| {
            read.push(p);
            Ok(())
        })
        .unwrap();
    assert_eq!(end, 40);
    assert_eq!(read, (starts[2] + 1..40).collect::<Vec<_>>());
}

#[test]
fn snapshots_start_segments_and_prune_what_the_older_kept_one_covers() {
    let dir = tempfile::tempdir().unwrap();
    let big = SegmentOptions {
        max_segment_bytes: u64::MAX,
    };
    let (mut journal, _) =
        SegmentedJournal::open(&base(&dir), Durability::Fsync, big, 0, |_, _| {
            Ok::<_, String>(())
        })
        .unwrap();
    append(&mut journal, 0, 10);
    assert!(journal.store_snapshot(10, b"state at 10").unwrap());
    assert_eq!(
        journal.segment_starts(),
        &[0, 10],
        "a snapshot starts a segment"
    );
    append(&mut journal, 10, 20);
    journal.store_snapshot(20, b"state at 20").unwrap();
    // Two known good: the segment below the older one (10) goes.
    assert_eq!(journal.segment_starts(), &[10, 20]);
    append(&mut journal, 20, 30);
    journal.store_snapshot(30, b"state at 30").unwrap();
    assert_eq!(journal.segment_starts(), &[20, 30]);
    append(&mut journal, 30, 33);
    assert_eq!(
        files(&dir),
        vec![
            "journal.log.00000000000000000020",
            "journal.log.00000000000000000030",
            "journal.log.snapshot.00000000000000000020",
            "journal.log.snapshot.00000000000000000030",
        ]
    );
    assert!(
        journal.store_snapshot(31, b"x").is_err(),
        "a snapshot must be at the journal's end"
    );
    drop(journal);
    assert_eq!(
        SegmentedJournal::snapshot_positions(&base(&dir)).unwrap(),
        vec![30, 20]
    );
    assert_eq!(
        SegmentedJournal::read_snapshot(&base(&dir), 30).unwrap(),
        b"state at 30"
    );
    let (_, seen) = open(&base(&dir), 30).unwrap();
    assert_eq!(positions(&seen), vec![30, 31, 32], "only the tail is read");
    let (_, seen) = open(&base(&dir), 20).unwrap();
    assert_eq!(positions(&seen), (20..33).collect::<Vec<_>>());
    let error = open(&base(&dir), 0).unwrap_err();
    assert!(error.contains("first segment starts at 20"), "{error}");
}

#[test]
fn with_one_snapshot_known_good_no_segment_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = open(&base(&dir), 0).unwrap();
    append(&mut journal, 0, 6);
    journal.store_snapshot(6, b"six").unwrap();
    append(&mut journal, 6, 8);
    drop(journal);
    // Started from a full replay, the snapshot file at 6 is not known good to this process:
    // its next snapshot is its first, so the history stays whole.
    let (mut journal, _) = open(&base(&dir), 0).unwrap();
    journal.store_snapshot(8, b"eight").unwrap();
    assert_eq!(journal.segment_starts()[0], 0);
    assert_eq!(
        positions(&open(&base(&dir), 0).unwrap().1),
        (0..8).collect::<Vec<_>>()
    );
    assert_eq!(
        SegmentedJournal::snapshot_positions(&base(&dir)).unwrap(),
        vec![8],
        "a snapshot not known good is not kept"
    );
}

#[test]
fn a_sealed_segment_that_lost_records_is_refused_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = open(&base(&dir), 0).unwrap();
    append(&mut journal, 0, 20);
    let starts = journal.segment_starts().to_vec();
    drop(journal);
    let sealed = dir.path().join("journal.log");
    let len = fs::metadata(&sealed).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&sealed)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let error = open(&base(&dir), 0).unwrap_err();
    assert!(error.contains("next segment starts at"), "{error}");
    assert_eq!(
        fs::metadata(&sealed).unwrap().len(),
        len - 3,
        "nothing truncated"
    );
    // From a later segment on, the damaged one is not needed.
    let (_, seen) = open(&base(&dir), starts[1]).unwrap();
    assert_eq!(seen.first().map(|s| s.0), Some(starts[1]));
}

#[test]
fn a_snapshot_past_the_journals_end_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = open(&base(&dir), 0).unwrap();
    append(&mut journal, 0, 4);
    drop(journal);
    let error = open(&base(&dir), 9).unwrap_err();
    assert!(error.contains("past the journal's end"), "{error}");
}
