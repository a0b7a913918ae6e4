//! Append-only durable journal: record framing with CRC32C, group-commit appends, crash recovery.
//!
//! The engine's single writer applies a batch of grabs, encodes one record per result, and calls
//! [`Journal::append_batch`]: every record is framed, the frames go to storage in one append, and
//! one `fdatasync` makes the whole batch durable (group commit). Only after it returns `Ok` may
//! the engine acknowledge the batch. On start, [`Journal::open`] replays every valid record in
//! order through a callback.
//!
//! # Frame format
//!
//! Records are stored back to back, each as a 28-byte header then the payload; integers are
//! little-endian:
//!
//! ```text
//! magic u32 = "StJ2" | length u32 | sequence u64 | batch_start u64 | crc32c u32 | payload
//! ```
//!
//! The CRC32C covers `length`, `sequence`, `batch_start` and the payload. Sequences start at 0
//! and increase by one per record; `length` is at most [`MAX_RECORD_BYTES`]. `batch_start` is the
//! sequence of the first record of the `append_batch` call that wrote the frame, so the frames of
//! one batch share it: `batch_start <= sequence < batch_start + MAX_BATCH_RECORDS`, checked on
//! decode. Version 2 (`"StJ2"`) added `batch_start`; `"StJ1"` journals are not read.
//!
//! # Recovery rules
//!
//! Replay reads frames from offset 0 while each is whole, checksum-valid and carries the next
//! sequence. At the first frame that is not, where sequence `s` was expected, recovery scans the
//! rest byte by byte for checksum-valid frames:
//!
//! - if one has `batch_start > s`, a batch was appended after record `s`, which the writer does
//!   only once the batch holding `s` was synced and acknowledged: the damage is in the middle,
//!   open fails with [`OpenError::CorruptMiddle`] and truncates nothing;
//! - if one carries a sequence `<= s` (it repeats or goes back: the common case is the bad frame
//!   itself being such a whole frame), a second writer appended to the same file without knowing
//!   this history: open fails with [`OpenError::Fork`] and truncates nothing;
//! - otherwise the bad bytes are the torn last batch (possibly written back out of order by the
//!   page cache, so later valid frames of that same batch may follow the bad one) or garbage:
//!   everything from the bad frame on is truncated with a `tracing` warning giving the offset and
//!   bytes dropped, and appends resume there. That batch was never acknowledged, since a batch
//!   is acknowledged only once synced.
//!
//! A frame whose length exceeds [`MAX_RECORD_BYTES`] is corrupt and never allocated. Replay
//! streams storage in [`limits::READ_CHUNK_BYTES`] reads. No input bytes make recovery panic.
//! The reasoning, and the accepted ambiguities (a last batch damaged by the medium after it was
//! acknowledged is truncated like a torn one; under [`Durability::Os`] out-of-order writeback
//! across several unsynced batches reports `CorruptMiddle`; stale frames a file system shows
//! after a crash report `Fork`), are written out in `recovery.rs`. One journal has one writer:
//! the journal does not lock its file, the server holds a lock on its data directory.
//!
//! [`replay_read_only`] runs the same scan for tools that must not modify a journal a server
//! may be appending to: a torn tail is reported and ignored instead of truncated.
//!
//! # Failures while appending
//!
//! After any append or sync error the journal is poisoned and refuses every later write
//! (fail-stop): after a failed `fsync` the kernel may have dropped the dirty pages, so a retry can
//! report success for data that is gone. Reopening re-reads what is really on disk.

mod error;
mod file_storage;
pub mod frame;
mod journal;
pub mod limits;
mod log;
mod memory_storage;
mod read_only;
mod recovery;
mod segments;
mod storage;
mod window;

pub use error::{JournalError, OpenError, PoisonCause};
pub use file_storage::FileStorage;
pub use frame::FrameDefect;
pub use journal::{BatchStats, Durability, Journal};
pub use limits::{
    KEPT_SNAPSHOTS, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, MAX_SEGMENT_BYTES,
    MAX_SNAPSHOT_BYTES,
};
pub use log::{Log, OnRecord};
pub use memory_storage::{
    CrashReport, MAX_CRASH_GARBAGE_BYTES, MAX_SYNC_STALL, MemoryStorage, SIMULATED_PAGE_BYTES,
};
pub use read_only::{ReadOnlyReplay, replay_read_only};
pub use recovery::Recovery;
pub use segments::{SegmentOptions, SegmentedJournal, SegmentedRecovery};
pub use storage::Storage;
