//! Ledger snapshots: the whole state of a [`crate::Ledger`] as self-contained, versioned bytes
//! ([`crate::Ledger::snapshot`], [`crate::Ledger::restore`]), independent of any journal: the
//! file journal keeps them in snapshot files, a cluster's shard leader in an object store.
//!
//! # Format
//!
//! ```text
//! magic [u8; 4] = "StSn" | format u8 = SNAPSHOT_FORMAT | crc32c u32 (LE, of the body) | body
//! ```
//!
//! The body is the [`image::LedgerImage`] in postcard. Only primary data is written (see
//! `image.rs`); indexes and counts are rebuilt on restore, so they cannot disagree with the
//! data they index. Restore checks the magic, the format, the checksum, every field that a
//! later call could trip over, and then every invariant of the ledger: bytes that are not a
//! snapshot this build wrote are an error, never a panic and never a ledger that breaks a rule.

pub(crate) mod image;

use std::borrow::Cow;

use image::LedgerImage;

/// The four bytes every snapshot starts with.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"StSn";

/// The snapshot format this build writes (the byte after the magic). Bump it with any change
/// to the image types; a snapshot of a format this build does not read is refused by name.
///
/// Format 2 added the keyed wins, as the image's last field. This build also reads format 1:
/// its body is a format-2 body without that field, so it decodes as one with the field
/// empty (one zero byte, postcard's empty list, appended; see [`unseal`]).
pub const SNAPSHOT_FORMAT: u8 = 2;

/// The older format this build still reads: format 1, before keyed wins.
const FORMAT_WITHOUT_KEYED_WINS: u8 = 1;

/// Bytes before the body: magic, format, checksum.
const HEADER_BYTES: usize = SNAPSHOT_MAGIC.len() + 1 + 4;

/// Why bytes could not be restored as a ledger.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Shorter than the header, or not starting with [`SNAPSHOT_MAGIC`].
    #[error("not a ledger snapshot ({0} bytes, no \"StSn\" header)")]
    NotASnapshot(usize),
    /// Written in a format this build does not read.
    #[error("snapshot format {0}; this build reads formats 1 and {SNAPSHOT_FORMAT}")]
    UnknownFormat(u8),
    /// The body's checksum does not match: torn or damaged.
    #[error("snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// The checksum in the header.
        stored: u32,
        /// The checksum of the body as read.
        computed: u32,
    },
    /// The body does not decode (or has bytes after the image).
    #[error("snapshot body does not decode: {0}")]
    Decode(String),
    /// The image decodes but describes a ledger that cannot be (a field out of range, a
    /// broken invariant).
    #[error("snapshot describes an impossible ledger: {0}")]
    Invalid(String),
}

/// The bytes of `image`: header, then body.
pub(crate) fn seal(image: &LedgerImage<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES);
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.push(SNAPSHOT_FORMAT);
    out.extend_from_slice(&[0; 4]);
    // Serialising our own types into a Vec cannot fail (no I/O, no unsupported types).
    let mut out = postcard::to_extend(image, out).expect("a ledger image always encodes");
    let checksum = crc32c::crc32c(&out[HEADER_BYTES..]);
    out[HEADER_BYTES - 4..HEADER_BYTES].copy_from_slice(&checksum.to_le_bytes());
    out
}

/// The body of the snapshot in `bytes`, header and checksum checked, laid out as this
/// format's body: a format-1 body is copied with its missing last field (the keyed wins)
/// appended empty.
pub(crate) fn unseal(bytes: &[u8]) -> Result<Cow<'_, [u8]>, SnapshotError> {
    if bytes.len() < HEADER_BYTES || bytes[..4] != SNAPSHOT_MAGIC {
        return Err(SnapshotError::NotASnapshot(bytes.len()));
    }
    let format = bytes[4];
    if format != SNAPSHOT_FORMAT && format != FORMAT_WITHOUT_KEYED_WINS {
        return Err(SnapshotError::UnknownFormat(format));
    }
    let mut stored = [0; 4];
    stored.copy_from_slice(&bytes[5..HEADER_BYTES]);
    let stored = u32::from_le_bytes(stored);
    let body = &bytes[HEADER_BYTES..];
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    if format == FORMAT_WITHOUT_KEYED_WINS {
        let mut body = body.to_vec();
        body.push(0);
        return Ok(Cow::Owned(body));
    }
    Ok(Cow::Borrowed(body))
}

/// The image a body from [`unseal`] holds; borrows the user ids from it.
pub(crate) fn decode(body: &[u8]) -> Result<LedgerImage<'_>, SnapshotError> {
    let (image, rest) =
        postcard::take_from_bytes(body).map_err(|e| SnapshotError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotError::Decode(format!(
            "{} bytes after the image",
            rest.len()
        )));
    }
    Ok(image)
}
