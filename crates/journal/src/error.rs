//! The journal's error types: one for opening (recovery), one for appending.

use std::io;

use crate::frame::FrameDefect;
use crate::limits::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES};

/// Why [`crate::Journal::open`] failed. `E` is the replay callback's error type.
#[derive(Debug, thiserror::Error)]
pub enum OpenError<E> {
    /// Reading, truncating or syncing the storage failed.
    #[error("journal storage I/O failed during open: {0}")]
    Io(#[source] io::Error),
    /// A bad frame is followed by a valid record of a later batch, so the damage is in a batch
    /// that was acknowledged, not a torn tail: the journal is left untouched for an operator to
    /// inspect.
    #[error(
        "journal corrupt at offset {offset} ({defect}), yet a valid record with sequence \
         {later_sequence} of a later batch (starting at sequence {later_batch_start}) follows at \
         offset {later_offset}; refusing to truncate"
    )]
    CorruptMiddle {
        /// Byte offset of the first bad frame.
        offset: u64,
        /// What is wrong with it.
        defect: FrameDefect,
        /// Byte offset of the later valid frame.
        later_offset: u64,
        /// Sequence number of the later valid frame.
        later_sequence: u64,
        /// First sequence of the later frame's batch; after the bad frame's expected sequence.
        later_batch_start: u64,
    },
    /// After the last record of the valid history, a checksum-valid frame carries a sequence at
    /// or before the one expected there (it repeats or goes back): a second history goes on in
    /// the same file, as when two processes append to one journal. Its records may have been
    /// acknowledged, so the journal is left untouched for an operator to inspect.
    #[error(
        "journal history forks: the valid history ends at offset {offset}, where sequence \
         {expected_sequence} was expected, yet a valid record with sequence {fork_sequence} (of \
         a batch starting at sequence {fork_batch_start}) follows at offset {fork_offset}; two \
         writers appended to this journal; refusing to truncate"
    )]
    Fork {
        /// Byte offset where the valid history ends (the first frame that does not continue it).
        offset: u64,
        /// The sequence the valid history expected at `offset`.
        expected_sequence: u64,
        /// Byte offset of the frame that repeats or goes back.
        fork_offset: u64,
        /// Its sequence: at most `expected_sequence`.
        fork_sequence: u64,
        /// First sequence of its batch.
        fork_batch_start: u64,
    },
    /// The file journal's segments do not hold the records asked for: a segment is missing,
    /// or one ends elsewhere than where the next begins, or a snapshot covers records the
    /// segments do not hold. Nothing was truncated or deleted.
    #[error("journal segments do not fit together: {0}")]
    Layout(String),
    /// The replay callback rejected a record.
    #[error("replaying journal record {sequence} failed")]
    Apply {
        /// Sequence number of the rejected record.
        sequence: u64,
        /// The callback's error.
        #[source]
        source: E,
    },
}

/// Which operation poisoned a [`crate::Journal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoisonCause {
    /// A storage append failed.
    #[error("an earlier append failed")]
    Append,
    /// A storage sync failed.
    #[error("an earlier sync failed")]
    Sync,
}

/// Why [`crate::Journal::append_batch`] failed. Nothing in the batch is acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// One record exceeds [`MAX_RECORD_BYTES`]; nothing was written.
    #[error("record {index} is {bytes} bytes, over the {MAX_RECORD_BYTES}-byte limit")]
    RecordTooLarge {
        /// Index of the record in the batch.
        index: usize,
        /// Its length in bytes.
        bytes: usize,
    },
    /// The batch holds more than [`MAX_BATCH_RECORDS`] records; nothing was written.
    #[error("batch of {records} records is over the {MAX_BATCH_RECORDS}-record limit")]
    TooManyRecords {
        /// Records in the batch.
        records: usize,
    },
    /// The framed batch exceeds [`MAX_BATCH_BYTES`]; nothing was written.
    #[error("batch of {bytes} framed bytes is over the {MAX_BATCH_BYTES}-byte limit")]
    BatchTooLarge {
        /// Framed bytes the batch would take.
        bytes: usize,
    },
    /// Writing the batch failed; the journal is now poisoned.
    #[error("journal append to {location} failed: {source}; journal poisoned")]
    Append {
        /// Where the storage is ([`crate::Storage::location`]: a file's path).
        location: String,
        /// What the operating system said (e.g. no space left on device).
        #[source]
        source: io::Error,
    },
    /// Syncing the batch failed; the journal is now poisoned.
    #[error("journal sync of {location} failed: {source}; journal poisoned")]
    Sync {
        /// Where the storage is ([`crate::Storage::location`]: a file's path).
        location: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// An earlier append or sync failed; the journal accepts no more writes until reopened.
    #[error("journal poisoned: {cause} ({failure}); reopen it to recover")]
    Poisoned {
        /// The operation that poisoned it.
        cause: PoisonCause,
        /// That failure as it was reported (location and operating system error).
        failure: String,
    },
}
