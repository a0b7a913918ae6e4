//! The frame codec: how one record is laid out on storage, and how bytes are checked back.
//!
//! Layout (all integers little-endian), `HEADER_BYTES` = 28:
//!
//! ```text
//! offset 0   magic       u32   MAGIC ("StJ2")
//! offset 4   length      u32   payload length in bytes, <= MAX_RECORD_BYTES
//! offset 8   sequence    u64   record sequence number, 0 for the first record, +1 per record
//! offset 16  batch_start u64   sequence of the first record of this record's batch (the
//!                              `append_batch` call that wrote it): batch_start <= sequence and
//!                              sequence - batch_start < MAX_BATCH_RECORDS
//! offset 24  crc32c      u32   CRC32C over bytes 4..24 (length, sequence, batch_start), then
//!                              the payload
//! offset 28  payload     [u8; length]
//! ```
//!
//! `batch_start` lets recovery tell a torn last batch (which was never acknowledged) from damage
//! to an earlier, acknowledged one; see `recovery.rs`.
//!
//! The codec is pure: it never touches storage, and decoding any byte slice returns a value rather
//! than panicking.

use crate::limits::{MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, READ_CHUNK_BYTES};

/// Marks the start of every frame: the bytes `b"StJ2"` read as a little-endian `u32`.
///
/// Version 2 added `batch_start`; version 1 (`"StJ1"`, 20-byte header) is not read.
pub const MAGIC: u32 = u32::from_le_bytes(*b"StJ2");

/// Size of the fixed frame header in bytes: magic (4) + length (4) + sequence (8) +
/// `batch_start` (8) + crc32c (4).
pub const HEADER_BYTES: usize = 28;

// One maximal frame fits in one read of recovery, and in one batch's bytes.
const _: () = assert!(READ_CHUNK_BYTES > HEADER_BYTES + MAX_RECORD_BYTES);
const _: () = assert!(MAX_BATCH_BYTES >= HEADER_BYTES + MAX_RECORD_BYTES);

/// Byte range of the header fields the checksum covers: length, sequence, `batch_start`.
const CHECKED_HEADER: std::ops::Range<usize> = 4..24;

/// Offset of the crc32c field in the header.
const CRC_AT: usize = 24;

/// A record decoded from storage and verified against its checksum.
///
/// Decoding guarantees `batch_start <= sequence` and
/// `sequence - batch_start < MAX_BATCH_RECORDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record's sequence number.
    pub sequence: u64,
    /// Sequence of the first record of the batch this record was appended in.
    pub batch_start: u64,
    /// The record's payload bytes.
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// Bytes this frame occupies on storage, header included.
    #[must_use]
    pub fn encoded_bytes(&self) -> usize {
        encoded_bytes(self.payload.len())
    }
}

/// Why bytes at some offset are not the frame recovery expected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameDefect {
    /// Fewer than `HEADER_BYTES` bytes remain.
    #[error("short header: {available} of {HEADER_BYTES} bytes")]
    ShortHeader {
        /// Bytes that remained.
        available: usize,
    },
    /// The first four bytes are not `MAGIC`.
    #[error("bad magic {found:#010x}")]
    BadMagic {
        /// The value found instead.
        found: u32,
    },
    /// The length field exceeds `MAX_RECORD_BYTES`; the frame is not read further.
    #[error("length {length} exceeds the {MAX_RECORD_BYTES}-byte record limit")]
    LengthTooLarge {
        /// The claimed payload length.
        length: u32,
    },
    /// The payload is cut short.
    #[error("short payload: {available} of {needed} bytes")]
    ShortPayload {
        /// Payload bytes the header claims.
        needed: usize,
        /// Payload bytes that remained.
        available: usize,
    },
    /// The stored checksum does not match the header and payload.
    #[error("crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum computed over the bytes read.
        computed: u32,
    },
    /// A checksum-valid frame whose `batch_start` no writer could produce: after its sequence, or
    /// more than `MAX_BATCH_RECORDS - 1` before it.
    #[error("batch start {batch_start} impossible for sequence {sequence}")]
    BatchStartOutOfRange {
        /// The frame's sequence.
        sequence: u64,
        /// The batch start it claims.
        batch_start: u64,
    },
    /// A checksum-valid frame whose sequence is not the next one (set by recovery, not `decode`).
    #[error("sequence {found} where {expected} was expected")]
    UnexpectedSequence {
        /// The next sequence recovery expected.
        expected: u64,
        /// The sequence the frame carries.
        found: u64,
    },
}

/// Bytes a frame with a `payload_len`-byte payload occupies on storage.
#[must_use]
pub const fn encoded_bytes(payload_len: usize) -> usize {
    HEADER_BYTES + payload_len
}

/// Appends the frame for (`sequence`, `payload`), written in the batch whose first record is
/// `batch_start`, to `out`.
///
/// # Panics
///
/// Panics if `payload` is longer than `MAX_RECORD_BYTES`, or if `batch_start` is not within
/// `MAX_BATCH_RECORDS - 1` at or before `sequence`; callers validate input first.
pub fn encode_into(out: &mut Vec<u8>, sequence: u64, batch_start: u64, payload: &[u8]) {
    assert!(
        payload.len() <= MAX_RECORD_BYTES,
        "frame payload of {} bytes exceeds MAX_RECORD_BYTES; validate before encoding",
        payload.len()
    );
    assert!(
        batch_start_in_range(sequence, batch_start),
        "batch_start {batch_start} must be at most MAX_BATCH_RECORDS - 1 before sequence {sequence}"
    );
    let length = u32::try_from(payload.len()).expect("MAX_RECORD_BYTES fits in u32");
    let start = out.len();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&batch_start.to_le_bytes());
    let header = &out[start..];
    let crc = checksum(&header[CHECKED_HEADER], payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    debug_assert_eq!(out.len() - start, encoded_bytes(payload.len()));
}

/// Decodes the frame at the start of `bytes`, verifying magic, length limit, checksum and the
/// `batch_start` range.
///
/// Bytes after the frame are ignored. Never panics, whatever `bytes` holds.
///
/// # Errors
///
/// Returns the first [`FrameDefect`] found.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameDefect> {
    let Some(header) = bytes.get(..HEADER_BYTES) else {
        return Err(FrameDefect::ShortHeader {
            available: bytes.len(),
        });
    };
    let magic = read_u32(header, 0);
    if magic != MAGIC {
        return Err(FrameDefect::BadMagic { found: magic });
    }
    let length = read_u32(header, 4);
    let needed = usize::try_from(length).unwrap_or(usize::MAX);
    if needed > MAX_RECORD_BYTES {
        return Err(FrameDefect::LengthTooLarge { length });
    }
    let rest = &bytes[HEADER_BYTES..];
    let Some(payload) = rest.get(..needed) else {
        return Err(FrameDefect::ShortPayload {
            needed,
            available: rest.len(),
        });
    };
    let stored = read_u32(header, CRC_AT);
    let computed = checksum(&header[CHECKED_HEADER], payload);
    if stored != computed {
        return Err(FrameDefect::ChecksumMismatch { stored, computed });
    }
    let sequence = read_u64(header, 8);
    let batch_start = read_u64(header, 16);
    if !batch_start_in_range(sequence, batch_start) {
        return Err(FrameDefect::BatchStartOutOfRange {
            sequence,
            batch_start,
        });
    }
    Ok(Frame {
        sequence,
        batch_start,
        payload,
    })
}

/// Whether `bytes` starts with the frame magic (a cheap pre-check before `decode`).
#[must_use]
pub fn starts_with_magic(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&MAGIC.to_le_bytes()[..])
}

/// Whether a writer could have produced (`sequence`, `batch_start`): a batch holds at most
/// `MAX_BATCH_RECORDS` records, so its first record is at most that many minus one before.
fn batch_start_in_range(sequence: u64, batch_start: u64) -> bool {
    let max_distance = u64::try_from(MAX_BATCH_RECORDS - 1).expect("limit fits in u64");
    sequence
        .checked_sub(batch_start)
        .is_some_and(|distance| distance <= max_distance)
}

fn checksum(checked_header: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(checked_header), payload)
}

fn read_u64(header: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(header[at..at + 8].try_into().expect("8-byte slice"))
}

fn read_u32(header: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(header[at..at + 4].try_into().expect("4-byte slice"))
}

#[cfg(test)]
mod tests;
