//! Named limits. Every bound the journal enforces lives here, with the reason for its number.

/// Largest payload one record may carry, in bytes.
///
/// Engine records are a few hundred bytes; 64 KiB leaves two orders of magnitude of headroom while
/// bounding what recovery may allocate or read for a single frame whose length field is corrupt.
/// A frame claiming more than this is treated as corrupt, never allocated.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Most records one `append_batch` call may carry.
///
/// The engine's writer applies at most a few thousand grabs per batch; 8,192 bounds the time one
/// group commit holds the writer (and the acknowledgement latency of its first record) while
/// keeping the fsync cost amortised over thousands of records.
pub const MAX_BATCH_RECORDS: usize = 8 * 1024;

/// Most framed bytes one `append_batch` call may write.
///
/// 8 MiB is 8,192 records of ~1 KiB: far above real batches, yet it bounds the encode buffer the
/// journal keeps (so a pathological batch of large records cannot grow it to
/// `MAX_BATCH_RECORDS * MAX_RECORD_BYTES` = 512 MiB).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Bytes recovery reads from storage per `read_at` call.
///
/// 1 MiB makes replaying a ~60 MB journal take ~60 reads while keeping the window's memory small;
/// it must exceed one maximal frame so a frame never needs more than one refill.
pub const READ_CHUNK_BYTES: usize = 1024 * 1024;

const _: () = assert!(MAX_RECORD_BYTES <= u32::MAX as usize);

/// Bytes after which the file journal starts a new segment (it also starts one at every
/// snapshot, so a segment rarely reaches this).
///
/// 64 MiB is about a million win records: small enough that the segments below the older
/// kept snapshot are deleted soon after it, large enough that a busy sale makes a handful of
/// files, not thousands.
pub const MAX_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Snapshots the file journal keeps: the newest, and one before it in case the newest cannot
/// be read (torn, damaged). Segments below the older one are deleted.
pub const KEPT_SNAPSHOTS: usize = 2;

/// Largest snapshot file read, in bytes.
///
/// A ledger snapshot is ~47 bytes an order (`stampede-core`'s `snapshot_1m` example); 16 GiB
/// is far above the 10 million orders the stock limits allow per campaign, and stops a
/// damaged or foreign file of absurd size from being read into memory.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 * 1024 * 1024 * 1024;
