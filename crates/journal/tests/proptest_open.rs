//! Property tests: no input bytes make `open` panic, and damage never invents records.

mod support;

use proptest::prelude::*;
use stampede_journal::{Durability, MemoryStorage, OpenError};
use support::{encode_journal, encode_journal_in_batches, open_collect};

/// Opens `bytes` as a journal and checks the outcome is one of the two allowed: a clean open of
/// a (possibly truncated) prefix, or `CorruptMiddle` with the bytes untouched. Returns the
/// replayed payloads, if it opened.
fn open_bytes(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let storage = MemoryStorage::with_bytes(bytes.to_vec(), 0);
    match open_collect(storage.clone(), Durability::Fsync) {
        Ok((journal, recovery, replayed)) => {
            assert_eq!(
                recovery.bytes + recovery.truncated_tail_bytes,
                bytes.len() as u64
            );
            assert_eq!(storage.bytes(), bytes[..recovery.bytes as usize]);
            assert_eq!(journal.len_bytes(), recovery.bytes);
            assert_eq!(
                recovery.truncated_tail_bytes == 0,
                recovery.tail_defect.is_none()
            );
            Some(replayed)
        }
        Err(OpenError::CorruptMiddle {
            offset,
            later_offset,
            ..
        }) => {
            assert!(offset <= later_offset);
            assert_eq!(storage.bytes(), bytes, "CorruptMiddle must not truncate");
            None
        }
        Err(other) => panic!("unexpected open error: {other:?}"),
    }
}

/// Payloads of a valid journal and its records per batch, then damage to its bytes:
/// (position, xor mask) byte edits, an optional cut position, and garbage appended after the cut.
type Damage = (
    Vec<Vec<u8>>,
    usize,
    Vec<(usize, u8)>,
    Option<usize>,
    Vec<u8>,
);

fn damaged_journal() -> impl Strategy<Value = Damage> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..12),
        1..5_usize,
        prop::collection::vec((any::<usize>(), 1..=255_u8), 0..3),
        prop::option::of(any::<usize>()),
        prop::collection::vec(any::<u8>(), 0..64),
    )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        open_bytes(&bytes);
    }

    #[test]
    fn damaged_journals_replay_only_a_prefix_of_what_was_written(
        (payloads, batch_records, flips, cut, garbage) in damaged_journal()
    ) {
        let mut bytes = encode_journal_in_batches(&payloads, batch_records);
        if !bytes.is_empty() {
            for (position, mask) in flips {
                let len = bytes.len();
                bytes[position % len] ^= mask;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        bytes.extend_from_slice(&garbage);
        if let Some(replayed) = open_bytes(&bytes) {
            prop_assert!(replayed.len() <= payloads.len());
            prop_assert_eq!(&replayed[..], &payloads[..replayed.len()]);
        }
    }

    #[test]
    fn clean_journals_replay_everything(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)
    ) {
        let replayed = open_bytes(&encode_journal(&payloads));
        prop_assert_eq!(replayed, Some(payloads));
    }
}
