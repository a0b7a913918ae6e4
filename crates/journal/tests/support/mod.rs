//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test binary uses a subset of the helpers")]

use std::convert::Infallible;

use stampede_journal::{Durability, Journal, OpenError, Recovery, Storage, frame};

/// What opening a journal yielded: the journal, its recovery report, and every replayed payload.
pub(crate) type Opened<S> = (Journal<S>, Recovery, Vec<Vec<u8>>);

/// Opens `storage`, collecting every replayed payload and checking sequences are contiguous.
pub(crate) fn open_collect<S: Storage>(
    storage: S,
    durability: Durability,
) -> Result<Opened<S>, OpenError<Infallible>> {
    let mut replayed = Vec::new();
    let (journal, recovery) = Journal::open(storage, durability, |sequence, payload| {
        assert_eq!(
            sequence,
            replayed.len() as u64,
            "replay skipped or repeated a sequence"
        );
        replayed.push(payload.to_vec());
        Ok(())
    })?;
    assert_eq!(recovery.records, replayed.len() as u64);
    assert_eq!(journal.next_sequence(), recovery.records);
    Ok((journal, recovery, replayed))
}

/// The bytes a journal holding `payloads` (sequences from 0), appended one record per batch,
/// consists of.
pub(crate) fn encode_journal(payloads: &[Vec<u8>]) -> Vec<u8> {
    encode_journal_in_batches(payloads, 1)
}

/// The bytes a journal holding `payloads` (sequences from 0), appended in batches of
/// `batch_records` records (the last may be shorter), consists of.
///
/// # Panics
///
/// Panics if `batch_records` is 0.
pub(crate) fn encode_journal_in_batches(payloads: &[Vec<u8>], batch_records: usize) -> Vec<u8> {
    assert!(batch_records > 0, "batches hold at least one record");
    let mut bytes = Vec::new();
    for (sequence, payload) in payloads.iter().enumerate() {
        let sequence = sequence as u64;
        let batch_start = sequence - sequence % batch_records as u64;
        frame::encode_into(&mut bytes, sequence, batch_start, payload);
    }
    bytes
}

/// Byte offset at which record `index` starts in a journal holding `payloads`.
pub(crate) fn record_offset(payloads: &[Vec<u8>], index: usize) -> u64 {
    payloads[..index]
        .iter()
        .map(|payload| frame::encoded_bytes(payload.len()) as u64)
        .sum()
}

/// `count` distinct payloads of varied length.
pub(crate) fn sample_payloads(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| format!("record-{index}-{}", "x".repeat(index % 17)).into_bytes())
        .collect()
}

/// Borrows each payload as a slice, the shape `append_batch` takes.
pub(crate) fn as_slices(payloads: &[Vec<u8>]) -> Vec<&[u8]> {
    payloads.iter().map(Vec::as_slice).collect()
}
