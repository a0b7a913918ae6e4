//! The journal: recovery on open, then group-commit appends of framed records.

use crate::error::{JournalError, OpenError, PoisonCause};
use crate::frame;
use crate::limits::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES};
use crate::recovery::{self, Recovery};
use crate::storage::Storage;

/// When [`Journal::append_batch`] considers a batch durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Write the batch, then `fdatasync` once: an acknowledged batch survives power loss.
    Fsync,
    /// Write the batch without syncing: it survives a process crash but may be lost, or torn, on
    /// power loss. The operator accepts that risk for throughput.
    Os,
}

/// What one [`Journal::append_batch`] call wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Position (sequence) of the batch's first record.
    pub first_position: u64,
    /// Records written.
    pub records: usize,
    /// Framed bytes written, headers included.
    pub bytes: usize,
    /// Whether the batch was synced (`Durability::Fsync` and a non-empty batch).
    pub synced: bool,
}

/// Whether the journal still accepts writes.
///
/// `Healthy -> Poisoned` on any append or sync error; nothing leads back. After a failed write
/// or `fsync` the kernel may have dropped or kept the dirty pages (PostgreSQL's "fsyncgate"): a
/// retried `fsync` can return `Ok` without the data being on disk, so the journal cannot know
/// what is durable. Fail-stop is the only safe answer; reopening re-reads the truth from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Healthy,
    /// With the failure as it was reported, repeated to every later caller.
    Poisoned(PoisonCause, String),
}

/// An append-only log of opaque byte records with group commit.
///
/// One writer owns it (`&mut self`). Records get sequence numbers `0, 1, 2, …` in append order.
#[derive(Debug)]
pub struct Journal<S: Storage> {
    storage: S,
    /// The sequence of the first record in `storage` (0 but for later segments).
    first_sequence: u64,
    durability: Durability,
    next_sequence: u64,
    len_bytes: u64,
    state: State,
    /// Reused across batches so a steady stream of appends does not allocate; bounded by
    /// `MAX_BATCH_BYTES`.
    encode_buffer: Vec<u8>,
}

impl<S: Storage> Journal<S> {
    /// Opens the journal on `storage` and recovers it: calls `on_record(sequence, payload)` for
    /// every valid record in order, truncates a torn tail (with a `tracing` warning), and returns
    /// the journal ready to append after the last valid record.
    ///
    /// # Errors
    ///
    /// - [`OpenError::Io`] if storage fails;
    /// - [`OpenError::CorruptMiddle`] if a bad frame is followed by a valid record of a later
    ///   batch, or [`OpenError::Fork`] if the valid history is followed by a valid record whose
    ///   sequence repeats or goes back (nothing is truncated; records before the damage or the
    ///   fork were already passed to `on_record`);
    /// - [`OpenError::Apply`] if `on_record` returns an error.
    pub fn open<E>(
        storage: S,
        durability: Durability,
        on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(Self, Recovery), OpenError<E>> {
        Self::open_at(storage, durability, 0, on_record)
    }

    /// [`Journal::open`] for storage whose first record has sequence `first_sequence` (a
    /// segment of a [`crate::SegmentedJournal`] after the first); [`Recovery::records`] is
    /// then the sequence after the last record.
    ///
    /// # Errors
    /// As [`Journal::open`].
    pub fn open_at<E>(
        mut storage: S,
        durability: Durability,
        first_sequence: u64,
        on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(Self, Recovery), OpenError<E>> {
        let recovery = recovery::recover_from(&mut storage, first_sequence, on_record)?;
        let len_bytes = storage.len_bytes().map_err(OpenError::Io)?;
        assert_eq!(
            len_bytes, recovery.bytes,
            "storage length differs from the recovered prefix"
        );
        let journal = Self {
            storage,
            first_sequence,
            durability,
            next_sequence: recovery.records,
            len_bytes,
            state: State::Healthy,
            encode_buffer: Vec::new(),
        };
        Ok((journal, recovery))
    }

    /// Frames every record (sequences `next_sequence()..`, each frame carrying the batch's first
    /// sequence as its `batch_start`), writes them in one storage append,
    /// then, under [`Durability::Fsync`], syncs once. Only after `Ok` may the records be
    /// acknowledged. An empty batch writes and syncs nothing.
    ///
    /// # Errors
    ///
    /// - [`JournalError::RecordTooLarge`], [`JournalError::TooManyRecords`],
    ///   [`JournalError::BatchTooLarge`]: the batch breaks a limit; nothing was written and the
    ///   journal stays usable;
    /// - [`JournalError::Append`], [`JournalError::Sync`]: storage failed; the journal is
    ///   poisoned;
    /// - [`JournalError::Poisoned`]: an earlier call failed in storage.
    pub fn append_batch(&mut self, records: &[&[u8]]) -> Result<BatchStats, JournalError> {
        if let State::Poisoned(cause, failure) = &self.state {
            return Err(JournalError::Poisoned {
                cause: *cause,
                failure: failure.clone(),
            });
        }
        let framed_bytes = validate(records)?;
        if records.is_empty() {
            return Ok(BatchStats {
                first_position: self.next_sequence,
                records: 0,
                bytes: 0,
                synced: false,
            });
        }
        self.encode_buffer.clear();
        // Every frame names the batch's first record, so recovery can tell a torn last batch
        // from damage to an earlier, acknowledged one.
        let batch_start = self.next_sequence;
        for (sequence, record) in (batch_start..).zip(records) {
            frame::encode_into(&mut self.encode_buffer, sequence, batch_start, record);
        }
        assert_eq!(
            self.encode_buffer.len(),
            framed_bytes,
            "framed size mismatch"
        );

        if let Err(source) = self.storage.append(&self.encode_buffer) {
            let error = JournalError::Append {
                location: self.storage.location(),
                source,
            };
            self.state = State::Poisoned(PoisonCause::Append, error.to_string());
            return Err(error);
        }
        let count = u64::try_from(records.len()).expect("batch length fits in u64");
        self.next_sequence = self
            .next_sequence
            .checked_add(count)
            .expect("sequence overflow");
        self.len_bytes += u64::try_from(framed_bytes).expect("batch bytes fit in u64");

        let synced = self.durability == Durability::Fsync;
        if synced && let Err(source) = self.storage.sync() {
            let error = JournalError::Sync {
                location: self.storage.location(),
                source,
            };
            self.state = State::Poisoned(PoisonCause::Sync, error.to_string());
            return Err(error);
        }
        Ok(BatchStats {
            first_position: batch_start,
            records: records.len(),
            bytes: framed_bytes,
            synced,
        })
    }

    /// The sequence number the next appended record will get (= records in the journal).
    #[must_use]
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Bytes in the journal: the recovered prefix plus everything appended since.
    #[must_use]
    pub fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The durability this journal was opened with.
    #[must_use]
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Why the journal refuses writes, or `None` while it accepts them.
    #[must_use]
    pub fn poisoned(&self) -> Option<PoisonCause> {
        match self.state {
            State::Healthy => None,
            State::Poisoned(cause, _) => Some(cause),
        }
    }

    /// The sequence of the first record this journal's storage holds.
    #[must_use]
    pub fn first_sequence(&self) -> u64 {
        self.first_sequence
    }

    /// The storage, to read it again ([`crate::Log::read_from`]).
    pub(crate) fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Gives the storage back (e.g. to reopen it after a simulated crash).
    #[must_use]
    pub fn into_storage(self) -> S {
        self.storage
    }
}

/// Checks a batch against the limits; returns its framed size in bytes.
fn validate(records: &[&[u8]]) -> Result<usize, JournalError> {
    if records.len() > MAX_BATCH_RECORDS {
        return Err(JournalError::TooManyRecords {
            records: records.len(),
        });
    }
    let mut framed_bytes = 0_usize;
    for (index, record) in records.iter().enumerate() {
        if record.len() > MAX_RECORD_BYTES {
            return Err(JournalError::RecordTooLarge {
                index,
                bytes: record.len(),
            });
        }
        framed_bytes += frame::encoded_bytes(record.len());
    }
    if framed_bytes > MAX_BATCH_BYTES {
        return Err(JournalError::BatchTooLarge {
            bytes: framed_bytes,
        });
    }
    Ok(framed_bytes)
}

#[cfg(test)]
mod tests;
