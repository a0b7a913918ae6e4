//! The engine's boundary to durable storage: a [`Log`] of record batches with positions.
//!
//! The engine's writer decides a batch, appends its records with one
//! [`Log::append_batch`], and answers the batch's requests only once that returned `Ok`. How
//! a log makes a batch durable is its own business: [`crate::Journal`] writes framed records
//! to a file (or to in-memory storage in tests) and fsyncs once per batch; a replicated log
//! waits for a quorum's acknowledgement. The writer, the ledger and replay do not change
//! with the log underneath.

use crate::error::{JournalError, OpenError};
use crate::journal::{BatchStats, Journal};
use crate::recovery;
use crate::storage::Storage;

/// What [`Log::read_from`] calls for each record: its position and payload; an error stops
/// the read.
pub type OnRecord<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// A durable, ordered log of records, appended in batches. Positions count records from 0:
/// a batch of `n` records appended at position `p` holds positions `p..p + n`.
pub trait Log: Send + 'static {
    /// Appends `records` as one batch at [`Log::next_position`]. When it returns `Ok`, every
    /// record of the batch is durable (as far as the log's durability setting promises) and
    /// may be acknowledged; on `Err` none of them may be.
    ///
    /// # Errors
    ///
    /// The log's own [`JournalError`]: a batch over a limit (nothing written, the log stays
    /// usable) or a storage failure (the log refuses every later append: fail-stop).
    fn append_batch(&mut self, records: &[&[u8]]) -> Result<BatchStats, JournalError>;

    /// The position the next appended record will take (the records in the log).
    fn next_position(&self) -> u64;

    /// Calls `on_record(position, payload)` for every durable record at position `from` or
    /// later, in order, and answers the position after the last one.
    ///
    /// # Errors
    ///
    /// [`OpenError`] if the log cannot be read, is damaged, or `on_record` fails.
    fn read_from(
        &mut self,
        from: u64,
        on_record: &mut OnRecord<'_>,
    ) -> Result<u64, OpenError<String>>;

    /// Stores `snapshot`, the state after every record before `position` (which is
    /// [`Log::next_position`]), so that a later start reads it and only the records from
    /// `position` on; the log may then drop records it no longer needs. Answers whether it
    /// was stored: a log that keeps no snapshots answers `false` (the default).
    ///
    /// # Errors
    ///
    /// Any I/O error writing it. The records are untouched: the log stays usable.
    fn store_snapshot(&mut self, position: u64, snapshot: &[u8]) -> std::io::Result<bool> {
        let _ = (position, snapshot);
        Ok(false)
    }
}

impl<S: Storage> Log for Journal<S> {
    fn append_batch(&mut self, records: &[&[u8]]) -> Result<BatchStats, JournalError> {
        Journal::append_batch(self, records)
    }

    fn next_position(&self) -> u64 {
        self.next_sequence()
    }

    /// Scans the storage from its start (a file journal keeps no index of positions) and
    /// skips the records before `from`. Only what was appended is read: a torn tail left by a
    /// failed append is not a record.
    fn read_from(
        &mut self,
        from: u64,
        on_record: &mut OnRecord<'_>,
    ) -> Result<u64, OpenError<String>> {
        let first = self.first_sequence();
        let scanned = recovery::scan_from(self.storage_mut(), first, |position, payload| {
            if position >= from {
                on_record(position, payload)
            } else {
                Ok(())
            }
        })?;
        Ok(scanned.records.max(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Durability;
    use crate::memory_storage::MemoryStorage;

    #[test]
    fn reads_from_a_position_what_was_appended() {
        let storage = MemoryStorage::new(1);
        let (mut journal, _) =
            Journal::open(storage, Durability::Fsync, |_, _| Ok::<_, String>(())).unwrap();
        let log: &mut dyn Log = &mut journal;
        let first = log.append_batch(&[b"a", b"b"]).unwrap();
        assert_eq!(first.first_position, 0);
        let second = log.append_batch(&[b"c"]).unwrap();
        assert_eq!(second.first_position, 2);
        assert_eq!(log.next_position(), 3);
        let mut seen = Vec::new();
        let end = log
            .read_from(1, &mut |position, payload| {
                seen.push((position, payload.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(end, 3);
        assert_eq!(seen, vec![(1, b"b".to_vec()), (2, b"c".to_vec())]);
        let mut none = 0;
        let end = log
            .read_from(3, &mut |_, _| {
                none += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!((end, none), (3, 0));
    }
}
