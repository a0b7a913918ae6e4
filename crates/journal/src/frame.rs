//! The frame codec: how one record is laid out on storage, and how bytes are checked back.
//!
//! Layout (all integers little-endian), `HEADER_BYTES` = 20:
//!
//! ```text
//! offset 0   magic    u32   MAGIC ("StJ1")
//! offset 4   length   u32   payload length in bytes, <= MAX_RECORD_BYTES
//! offset 8   sequence u64   record sequence number, 0 for the first record, +1 per record
//! offset 16  crc32c   u32   CRC32C over bytes 4..16 (length, sequence) then the payload
//! offset 20  payload  [u8; length]
//! ```
//!
//! The codec is pure: it never touches storage, and decoding any byte slice returns a value rather
//! than panicking.

use crate::limits::MAX_RECORD_BYTES;

/// Marks the start of every frame: the bytes `b"StJ1"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"StJ1");

/// Size of the fixed frame header in bytes: magic (4) + length (4) + sequence (8) + crc32c (4).
pub const HEADER_BYTES: usize = 20;

/// A record decoded from storage and verified against its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record's sequence number.
    pub sequence: u64,
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

/// Appends the frame for (`sequence`, `payload`) to `out`.
///
/// # Panics
///
/// Panics if `payload` is longer than `MAX_RECORD_BYTES`; callers validate input first.
pub fn encode_into(out: &mut Vec<u8>, sequence: u64, payload: &[u8]) {
    assert!(
        payload.len() <= MAX_RECORD_BYTES,
        "frame payload of {} bytes exceeds MAX_RECORD_BYTES; validate before encoding",
        payload.len()
    );
    let length = u32::try_from(payload.len()).expect("MAX_RECORD_BYTES fits in u32");
    let start = out.len();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    let crc = checksum(&out[start + 4..start + 16], payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    debug_assert_eq!(out.len() - start, encoded_bytes(payload.len()));
}

/// Decodes the frame at the start of `bytes`, verifying magic, length limit and checksum.
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
    let stored = read_u32(header, 16);
    let computed = checksum(&header[4..16], payload);
    if stored != computed {
        return Err(FrameDefect::ChecksumMismatch { stored, computed });
    }
    let sequence = u64::from_le_bytes(header[8..16].try_into().expect("8-byte slice"));
    Ok(Frame { sequence, payload })
}

/// Whether `bytes` starts with the frame magic (a cheap pre-check before `decode`).
#[must_use]
pub fn starts_with_magic(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(&MAGIC.to_le_bytes()[..])
}

fn checksum(length_and_sequence: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(length_and_sequence), payload)
}

fn read_u32(header: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(header[at..at + 4].try_into().expect("4-byte slice"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(sequence: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, sequence, payload);
        out
    }

    #[test]
    fn round_trips() {
        let bytes = encoded(7, b"hello");
        assert_eq!(bytes.len(), encoded_bytes(5));
        let frame = decode(&bytes).expect("valid frame");
        assert_eq!(
            frame,
            Frame {
                sequence: 7,
                payload: b"hello"
            }
        );
        assert_eq!(frame.encoded_bytes(), bytes.len());
    }

    #[test]
    fn empty_payload_round_trips() {
        let bytes = encoded(0, b"");
        assert_eq!(decode(&bytes).expect("valid").payload, b"");
    }

    #[test]
    fn header_layout_is_little_endian() {
        let bytes = encoded(0x0102_0304_0506_0708, b"ab");
        assert_eq!(&bytes[0..4], b"StJ1");
        assert_eq!(&bytes[4..8], &[2, 0, 0, 0]);
        assert_eq!(&bytes[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&bytes[20..], b"ab");
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut bytes = encoded(1, b"x");
        bytes.extend_from_slice(b"garbage");
        assert_eq!(decode(&bytes).expect("valid").payload, b"x");
    }

    #[test]
    fn short_header_is_reported() {
        let bytes = encoded(1, b"x");
        assert_eq!(
            decode(&bytes[..10]),
            Err(FrameDefect::ShortHeader { available: 10 })
        );
    }

    #[test]
    fn bad_magic_is_reported() {
        let mut bytes = encoded(1, b"x");
        bytes[0] ^= 0xff;
        assert!(matches!(decode(&bytes), Err(FrameDefect::BadMagic { .. })));
        assert!(!starts_with_magic(&bytes));
    }

    #[test]
    fn short_payload_is_reported() {
        let bytes = encoded(1, b"hello");
        assert_eq!(
            decode(&bytes[..HEADER_BYTES + 2]),
            Err(FrameDefect::ShortPayload {
                needed: 5,
                available: 2
            })
        );
    }

    #[test]
    fn oversized_length_is_corrupt_without_reading_payload() {
        let mut bytes = encoded(1, b"x");
        let length = u32::try_from(MAX_RECORD_BYTES + 1).expect("fits");
        bytes[4..8].copy_from_slice(&length.to_le_bytes());
        assert_eq!(decode(&bytes), Err(FrameDefect::LengthTooLarge { length }));
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(FrameDefect::LengthTooLarge { .. })
        ));
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let bytes = encoded(42, b"payload bytes");
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut corrupt = bytes.clone();
                corrupt[index] ^= 1 << bit;
                assert!(
                    decode(&corrupt).is_err(),
                    "flip of bit {bit} at byte {index} undetected"
                );
            }
        }
    }

    #[test]
    fn maximal_payload_round_trips() {
        let payload = vec![0xa5; MAX_RECORD_BYTES];
        let bytes = encoded(3, &payload);
        assert_eq!(
            decode(&bytes).expect("valid").payload.len(),
            MAX_RECORD_BYTES
        );
    }

    #[test]
    #[should_panic(expected = "exceeds MAX_RECORD_BYTES")]
    fn encoding_oversized_payload_panics() {
        encoded(0, &vec![0; MAX_RECORD_BYTES + 1]);
    }
}
