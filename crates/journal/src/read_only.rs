//! Replaying a journal without touching it, for tools that read a journal a server may be
//! appending to (`stampede reconcile`): the same scan as recovery, but a torn tail is reported
//! and ignored, never truncated, and nothing is ever written or synced.

use crate::error::OpenError;
use crate::frame::FrameDefect;
use crate::recovery;
use crate::storage::Storage;

/// What [`replay_read_only`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlyReplay {
    /// Records replayed (sequences `0..records`).
    pub records: u64,
    /// Bytes of valid frames replayed.
    pub bytes: u64,
    /// Bytes after them that were ignored: a torn last batch, or a batch a live writer was
    /// appending when the scan read the length (0 when the journal ended cleanly).
    pub ignored_tail_bytes: u64,
    /// Checksum-valid frames among the ignored bytes.
    pub ignored_valid_frames: u64,
    /// Why the tail was ignored, when it was.
    pub tail_defect: Option<FrameDefect>,
}

/// Calls `on_record(sequence, payload)` for every valid record in order, stopping at the first
/// bad frame; if what follows is a torn tail (see the crate docs' recovery rules) it is
/// ignored with a `tracing` warning. `storage` is only read: its length once, then its bytes.
///
/// # Errors
///
/// - [`OpenError::Io`] if storage fails (or shrinks while being read);
/// - [`OpenError::CorruptMiddle`] if a bad frame is followed by a valid record of a later
///   batch, or [`OpenError::Fork`] if the history forks (records before either were already
///   passed to `on_record`);
/// - [`OpenError::Apply`] if `on_record` returns an error.
pub fn replay_read_only<S: Storage, E>(
    storage: &mut S,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<ReadOnlyReplay, OpenError<E>> {
    replay_read_only_from(storage, 0, on_record)
}

/// [`replay_read_only`] of storage whose first record has sequence `first_sequence` (a
/// segment after the first); [`ReadOnlyReplay::records`] is then the sequence after the last.
pub(crate) fn replay_read_only_from<S: Storage, E>(
    storage: &mut S,
    first_sequence: u64,
    on_record: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<ReadOnlyReplay, OpenError<E>> {
    let scanned = recovery::scan_from(storage, first_sequence, on_record)?;
    let mut replay = ReadOnlyReplay {
        records: scanned.records,
        bytes: scanned.bytes,
        ignored_tail_bytes: 0,
        ignored_valid_frames: 0,
        tail_defect: None,
    };
    if let Some(torn) = scanned.torn {
        tracing::warn!(
            offset = torn.offset,
            ignored_bytes = torn.bytes,
            ignored_valid_frames = torn.valid_frames,
            defect = %torn.defect,
            "journal: ignoring a torn tail at offset {} ({} bytes, not truncated: read-only): {}",
            torn.offset,
            torn.bytes,
            torn.defect,
        );
        replay.ignored_tail_bytes = torn.bytes;
        replay.ignored_valid_frames = torn.valid_frames;
        replay.tail_defect = Some(torn.defect);
    }
    Ok(replay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;
    use crate::memory_storage::MemoryStorage;

    fn journal(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (sequence, payload) in (0_u64..).zip(payloads) {
            frame::encode_into(&mut bytes, sequence, sequence, payload);
        }
        bytes
    }

    /// What a read-only replay returned, the payloads it saw, and the bytes after it.
    type Read = (
        Result<ReadOnlyReplay, OpenError<String>>,
        Vec<Vec<u8>>,
        Vec<u8>,
    );

    fn read(bytes: &[u8]) -> Read {
        let mut storage = MemoryStorage::with_bytes(bytes.to_vec(), 0);
        let mut seen = Vec::new();
        let result = replay_read_only(&mut storage, |_, payload| {
            seen.push(payload.to_vec());
            Ok::<_, String>(())
        });
        (result, seen, storage.bytes())
    }

    #[test]
    fn a_clean_journal_is_replayed_whole() {
        let bytes = journal(&[b"a", b"bb"]);
        let (result, seen, after) = read(&bytes);
        let replay = result.unwrap();
        assert_eq!(seen, [b"a".to_vec(), b"bb".to_vec()]);
        assert_eq!((replay.records, replay.bytes), (2, bytes.len() as u64));
        assert_eq!(replay.ignored_tail_bytes, 0);
        assert_eq!(after, bytes);
    }

    #[test]
    fn a_torn_tail_is_ignored_and_left_in_place() {
        let clean = journal(&[b"a", b"bb", b"ccc"]);
        let mut bytes = clean[..clean.len() - 2].to_vec();
        bytes.extend_from_slice(b"junk");
        let (result, seen, after) = read(&bytes);
        let replay = result.unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(replay.records, 2);
        assert_eq!(replay.bytes + replay.ignored_tail_bytes, bytes.len() as u64);
        assert!(matches!(
            replay.tail_defect,
            Some(FrameDefect::ChecksumMismatch { .. })
        ));
        assert_eq!(after, bytes, "read-only: not truncated");
    }

    #[test]
    fn a_corrupt_middle_is_an_error_and_left_in_place() {
        let mut bytes = journal(&[b"a", b"bb", b"ccc"]);
        bytes[frame::HEADER_BYTES + 30] ^= 0x01;
        let (result, seen, after) = read(&bytes);
        assert!(matches!(result, Err(OpenError::CorruptMiddle { .. })));
        assert_eq!(seen.len(), 1);
        assert_eq!(after, bytes);
    }
}
