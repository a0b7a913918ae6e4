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
//! Records are stored back to back, each as a 20-byte header then the payload; integers are
//! little-endian:
//!
//! ```text
//! magic u32 = "StJ1" | length u32 | sequence u64 | crc32c u32 | payload [u8; length]
//! ```
//!
//! The CRC32C covers `length`, `sequence` and the payload. Sequences start at 0 and increase by
//! one per record; `length` is at most [`MAX_RECORD_BYTES`].
//!
//! # Recovery rules
//!
//! Replay reads frames from offset 0 while each is whole, checksum-valid and carries the next
//! sequence. At the first frame that is not:
//!
//! - if no later checksum-valid frame with a sequence after the last good one exists (scanning
//!   forward byte by byte), the bad bytes are a torn or garbage tail: they are truncated with a
//!   `tracing` warning giving the offset and bytes dropped, and appends resume there;
//! - otherwise the damage is in the middle, which a crash cannot cause (the writer only appends,
//!   and a batch is acknowledged only once synced, so only the last, unsynced batch can be torn):
//!   open fails with [`OpenError::CorruptMiddle`] and truncates nothing.
//!
//! A frame whose length exceeds [`MAX_RECORD_BYTES`] is corrupt and never allocated. Replay
//! streams storage in [`limits::READ_CHUNK_BYTES`] reads. No input bytes make recovery panic.
//!
//! One conservative edge: if the file system persisted pages of the last unsynced batch out of
//! order (a later page on disk, an earlier one not), a valid frame can follow the torn one and
//! open reports `CorruptMiddle`. That batch was never acknowledged, so truncating at the reported
//! offset loses nothing acknowledged; the journal leaves that decision to an operator.
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
mod memory_storage;
mod recovery;
mod storage;
mod window;

pub use error::{JournalError, OpenError, PoisonCause};
pub use file_storage::FileStorage;
pub use frame::FrameDefect;
pub use journal::{BatchStats, Durability, Journal};
pub use limits::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES};
pub use memory_storage::{CrashReport, MAX_CRASH_GARBAGE_BYTES, MemoryStorage};
pub use recovery::Recovery;
pub use storage::Storage;
