//! Unit tests of the journal: appends and replay, durability, oversize input, and the poisoning
//! that follows a failed append or sync.

use super::*;
use crate::memory_storage::MemoryStorage;

fn open(storage: &MemoryStorage, durability: Durability) -> (Journal<MemoryStorage>, Vec<Vec<u8>>) {
    let mut seen = Vec::new();
    let (journal, _) = Journal::open(storage.clone(), durability, |_, payload| {
        seen.push(payload.to_vec());
        Ok::<_, String>(())
    })
    .expect("open");
    (journal, seen)
}

#[test]
fn appends_then_replays_in_order() {
    let storage = MemoryStorage::new(0);
    let (mut journal, seen) = open(&storage, Durability::Fsync);
    assert!(seen.is_empty());
    let stats = journal.append_batch(&[b"a", b"bb"]).expect("append");
    assert_eq!(
        stats,
        BatchStats {
            first_position: 0,
            records: 2,
            bytes: 2 * frame::HEADER_BYTES + 3,
            synced: true
        }
    );
    assert_eq!(storage.synced_len(), journal.len_bytes());
    journal.append_batch(&[b"ccc"]).expect("append");
    assert_eq!(journal.next_sequence(), 3);
    drop(journal);
    let (journal, seen) = open(&storage, Durability::Fsync);
    assert_eq!(seen, vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
    assert_eq!(journal.next_sequence(), 3);
    assert_eq!(journal.len_bytes(), storage.bytes().len() as u64);
}

#[test]
fn os_durability_does_not_sync() {
    let storage = MemoryStorage::new(0);
    let (mut journal, _) = open(&storage, Durability::Os);
    let stats = journal.append_batch(&[b"a"]).expect("append");
    assert!(!stats.synced);
    assert_eq!(storage.synced_len(), 0);
    assert_eq!(journal.durability(), Durability::Os);
}

#[test]
fn empty_batch_is_a_no_op() {
    let storage = MemoryStorage::new(0);
    let (mut journal, _) = open(&storage, Durability::Fsync);
    let stats = journal.append_batch(&[]).expect("empty");
    assert_eq!(
        stats,
        BatchStats {
            first_position: 0,
            records: 0,
            bytes: 0,
            synced: false
        }
    );
    assert_eq!(journal.len_bytes(), 0);
}

#[test]
fn oversize_input_is_rejected_without_poisoning() {
    let storage = MemoryStorage::new(0);
    let (mut journal, _) = open(&storage, Durability::Fsync);
    let big = vec![0_u8; MAX_RECORD_BYTES + 1];
    assert!(matches!(
        journal.append_batch(&[b"ok", &big]),
        Err(JournalError::RecordTooLarge { index: 1, .. })
    ));
    let many = vec![&b"x"[..]; MAX_BATCH_RECORDS + 1];
    assert!(matches!(
        journal.append_batch(&many),
        Err(JournalError::TooManyRecords { .. })
    ));
    let max = vec![0_u8; MAX_RECORD_BYTES];
    let heavy = vec![max.as_slice(); MAX_BATCH_BYTES / MAX_RECORD_BYTES];
    assert!(matches!(
        journal.append_batch(&heavy),
        Err(JournalError::BatchTooLarge { .. })
    ));
    assert!(storage.bytes().is_empty());
    assert_eq!(journal.poisoned(), None);
    journal
        .append_batch(&[b"fine", &max])
        .expect("at the limit");
}

#[test]
fn failed_sync_poisons() {
    let storage = MemoryStorage::new(0);
    let (mut journal, _) = open(&storage, Durability::Fsync);
    storage.fail_next_sync();
    assert!(matches!(
        journal.append_batch(&[b"a"]),
        Err(JournalError::Sync { .. })
    ));
    assert_eq!(journal.poisoned(), Some(PoisonCause::Sync));
    assert!(matches!(
        journal.append_batch(&[b"b"]),
        Err(JournalError::Poisoned {
            cause: PoisonCause::Sync,
            ..
        })
    ));
}

/// A failure names the storage and what it said, at once and to every later caller: the
/// log line of a full disk must say which file and why, not only "journal poisoned".
#[test]
fn a_storage_failure_names_the_storage_and_its_error() {
    for fail in [
        MemoryStorage::fail_next_append,
        MemoryStorage::fail_next_sync,
    ] {
        let storage = MemoryStorage::new(0);
        let (mut journal, _) = open(&storage, Durability::Fsync);
        fail(&storage);
        let first = journal.append_batch(&[b"a"]).unwrap_err().to_string();
        let later = journal.append_batch(&[b"b"]).unwrap_err().to_string();
        for text in [&first, &later] {
            assert!(text.contains("memory"), "{text}");
            assert!(text.contains("injected"), "{text}");
        }
        assert!(later.contains("poisoned"), "{later}");
    }
}

#[test]
fn failed_append_poisons() {
    let storage = MemoryStorage::new(0);
    let (mut journal, _) = open(&storage, Durability::Fsync);
    journal.append_batch(&[b"a"]).expect("append");
    storage.fail_next_append();
    assert!(matches!(
        journal.append_batch(&[b"b", b"c"]),
        Err(JournalError::Append { .. })
    ));
    assert!(matches!(
        journal.append_batch(&[b"d"]),
        Err(JournalError::Poisoned {
            cause: PoisonCause::Append,
            ..
        })
    ));
    drop(journal);
    let (_, seen) = open(&storage, Durability::Fsync);
    assert_eq!(seen[0], b"a");
    assert!(seen.len() <= 3);
}

#[test]
fn appends_continue_after_a_truncated_tail() {
    let storage = MemoryStorage::new(0);
    let (mut journal, _) = open(&storage, Durability::Fsync);
    journal.append_batch(&[b"a"]).expect("append");
    let mut handle = journal.into_storage();
    crate::Storage::append(&mut handle, b"StJ2torn").expect("raw append");
    let (mut journal, recovery) =
        Journal::open(handle, Durability::Fsync, |_, _| Ok::<_, String>(())).expect("open");
    assert_eq!(recovery.truncated_tail_bytes, 8);
    journal
        .append_batch(&[b"b"])
        .expect("append after truncation");
    drop(journal);
    let (_, seen) = open(&storage, Durability::Fsync);
    assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec()]);
}
