//! Two writers on one journal file, as two servers on one data directory would be: their
//! histories fork, and opening (or reading) the journal must say so and truncate nothing, never
//! drop one writer's acknowledged records as a torn tail.

mod support;

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use stampede_journal::{Durability, FileStorage, OpenError, Storage, replay_read_only};
use support::open_collect;

/// Opens a writer on the journal at `path` (recovering what is there), as a server does.
fn writer(path: &Path) -> stampede_journal::Journal<FileStorage> {
    let storage = FileStorage::open(path).expect("open storage");
    open_collect(storage, Durability::Fsync).expect("open").0
}

/// Asserts that opening the journal at `path` fails with `Fork` at `expected_sequence` and
/// leaves the file byte for byte as it was, and that a read-only replay reports the same fork.
fn assert_fork_refused(path: &Path, expected_sequence: u64) {
    let before = fs::read(path).expect("read journal");
    let storage = FileStorage::open(path).expect("open storage");
    match open_collect(storage, Durability::Fsync) {
        Err(OpenError::Fork {
            expected_sequence: expected,
            fork_sequence,
            offset,
            fork_offset,
            ..
        }) => {
            assert_eq!(expected, expected_sequence);
            assert!(fork_sequence <= expected);
            assert!(offset <= fork_offset);
        }
        Err(other) => panic!("expected a fork, got {other}"),
        Ok((_, recovery, _)) => panic!("a forked journal opened: {recovery:?}"),
    }
    assert_eq!(
        fs::read(path).expect("read journal"),
        before,
        "nothing truncated"
    );

    let mut storage = FileStorage::open_read_only(path).expect("open read-only");
    let read = replay_read_only(&mut storage, |_, _| Ok::<_, String>(()));
    assert!(
        matches!(read, Err(OpenError::Fork { expected_sequence: e, .. }) if e == expected_sequence),
        "read-only replay: {read:?}"
    );
}

#[test]
fn two_writers_appending_to_one_file_are_a_fork_not_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.log");
    writer(&path)
        .append_batch(&[b"shared 0", b"shared 1"])
        .expect("history both writers recover");

    // Both open at sequence 2 and append whole batches through O_APPEND, interleaved.
    let mut first = writer(&path);
    let mut second = writer(&path);
    first.append_batch(&[b"first 2", b"first 3"]).expect("ack");
    second.append_batch(&[b"second 2"]).expect("ack");
    first.append_batch(&[b"first 4"]).expect("ack");
    second
        .append_batch(&[b"second 3", b"second 4"])
        .expect("ack");
    assert_eq!((first.next_sequence(), second.next_sequence()), (5, 5));

    // Replay follows the first writer to sequence 4, then meets the second's record 2.
    assert_fork_refused(&path, 4);
}

#[test]
fn a_second_writer_that_opened_later_still_forks_the_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.log");
    let mut first = writer(&path);
    first.append_batch(&[b"first 0"]).expect("ack");
    // The second opens after the first's record 0 and continues from it: its record 1 follows
    // record 0 exactly, so replay takes the second writer's history from there.
    let mut second = writer(&path);
    second
        .append_batch(&[b"second 1", b"second 2"])
        .expect("ack");
    first.append_batch(&[b"first 1"]).expect("ack");
    assert_fork_refused(&path, 3);
}

/// A storage that writes at the end it believes the file has (`pwrite` at its own length), as
/// a writer without `O_APPEND` would: two of them overwrite each other.
struct PositionalStorage {
    file: fs::File,
    len: u64,
}

impl PositionalStorage {
    fn open(path: &Path) -> Self {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open");
        let len = file.metadata().expect("metadata").len();
        Self { file, len }
    }
}

impl Storage for PositionalStorage {
    fn location(&self) -> String {
        "positional test file".to_owned()
    }

    fn len_bytes(&mut self) -> io::Result<u64> {
        Ok(self.len)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, self.len)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len = len;
        Ok(())
    }
}

#[test]
fn two_writers_overwriting_each_other_are_refused_not_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.log");
    let open = |path: &Path| {
        open_collect(PositionalStorage::open(path), Durability::Fsync)
            .expect("open")
            .0
    };
    let mut first = open(&path);
    let mut second = open(&path);
    let long = [b'a'; 100];
    first.append_batch(&[&long, &long]).expect("ack 0, 1");
    // The second writes its record 0 over the start of the first's, then record 1 after it:
    // what is left of the first's record 0 is a torn frame mid-file, and the first's
    // acknowledged records 1 and 2 lie beyond it.
    second.append_batch(&[b"short 0"]).expect("ack");
    first.append_batch(&[b"first 2"]).expect("ack");
    second.append_batch(&[b"short 1"]).expect("ack");

    let before = fs::read(&path).expect("read");
    let storage = FileStorage::open(&path).expect("open storage");
    match open_collect(storage, Durability::Fsync) {
        Err(OpenError::Fork {
            expected_sequence: 2,
            fork_sequence: 1,
            fork_batch_start: 0,
            ..
        }) => {}
        Err(other) => panic!("expected a fork, got {other}"),
        Ok((_, recovery, _)) => panic!("acknowledged records truncated: {recovery:?}"),
    }
    assert_eq!(fs::read(&path).expect("read"), before, "nothing truncated");
}
