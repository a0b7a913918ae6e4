//! Record encoding for the journal: one format byte, then the record in postcard (compact,
//! serde-driven, stable wire format).
//!
//! How the format may evolve without breaking journals already written:
//! - a new kind of record is a new variant **at the end** of [`Record`] (postcard writes the
//!   variant's index), and old journals still decode;
//! - changing the fields of an existing variant changes what its bytes mean: bump
//!   [`RECORD_FORMAT`] and keep a decoder for the old format (or a migration), so a journal
//!   written before is either read correctly or refused with a clear error — never misread.

use stampede_core::{Ledger, Record};

use crate::error::OpenError;

/// The record format this build writes (the first byte of every journal payload).
///
/// Format 2: the order key in `CampaignCreated` is an AES-128 key (128 bits) for the FF1
/// order-id cipher. Format 1 carried a 64-bit key for a home-made Feistel cipher; its ids
/// cannot be deciphered by FF1, so a format-1 journal is refused (no deployment wrote one).
pub(crate) const RECORD_FORMAT: u8 = 2;

/// Why a journal payload could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    /// Empty payload.
    #[error("empty record")]
    Empty,
    /// Written in a format this build does not read.
    #[error("record format {0}; this build reads format {RECORD_FORMAT}")]
    UnknownFormat(u8),
    /// The bytes do not decode as a record.
    #[error(transparent)]
    Postcard(#[from] postcard::Error),
}

/// Encodes a record, appending to `out` (straight into it: no buffer per record).
pub(crate) fn encode(record: &Record, out: &mut Vec<u8>) {
    out.push(RECORD_FORMAT);
    // Serialising our own enum into a Vec cannot fail (writing to a Vec does no I/O, and a
    // record has no unsupported types).
    postcard::to_io(record, &mut *out).expect("records always encode");
}

/// Decodes a record written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    match bytes.split_first() {
        None => Err(DecodeError::Empty),
        Some((&RECORD_FORMAT, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&other, _)) => Err(DecodeError::UnknownFormat(other)),
    }
}

/// Decodes one journal payload and applies it to `ledger`: what every replay does per record
/// (the engine's open and the read-only replay alike).
pub(crate) fn apply_payload(ledger: &mut Ledger, payload: &[u8]) -> Result<(), String> {
    let record = decode(payload).map_err(|e| format!("undecodable record: {e}"))?;
    ledger.apply(&record).map_err(|e| e.to_string())
}

/// The engine's error for a journal that replay refused.
pub(crate) fn recovery_error(error: stampede_journal::OpenError<String>) -> OpenError {
    match error {
        stampede_journal::OpenError::Apply { sequence, source } => {
            OpenError::Recovery(format!("record {sequence}: {source}"))
        }
        other => OpenError::Recovery(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_core::{CampaignId, Cents, OrderId, UnixMillis, UserId};

    #[test]
    fn round_trip() {
        let record = Record::Won {
            campaign_id: CampaignId(1),
            order_id: OrderId(u128::MAX),
            user_id: UserId::parse("user-1").unwrap(),
            amount_cents: Cents(990),
            won_at: UnixMillis(1_700_000_000_000),
        };
        let mut out = Vec::new();
        encode(&record, &mut out);
        assert!(
            out.len() < 64,
            "a win record is compact: {} bytes",
            out.len()
        );
        assert_eq!(out[0], RECORD_FORMAT);
        assert_eq!(decode(&out).unwrap(), record);
        assert!(decode(&out[..out.len() - 1]).is_err());
    }

    #[test]
    fn records_append_to_a_batch_buffer() {
        let first = Record::ClaimPaid {
            campaign_id: CampaignId(1),
            order_id: OrderId(2),
            payout_id: stampede_core::PayoutId::parse("p-1").unwrap(),
            at: UnixMillis(3),
        };
        let second = Record::Won {
            campaign_id: CampaignId(4),
            order_id: OrderId(5),
            user_id: UserId::parse("user-2").unwrap(),
            amount_cents: Cents(6),
            won_at: UnixMillis(7),
        };
        let mut batch = Vec::new();
        encode(&first, &mut batch);
        let split = batch.len();
        encode(&second, &mut batch);
        let mut alone = Vec::new();
        encode(&second, &mut alone);
        assert_eq!(&batch[split..], &alone[..], "appending changes no byte");
        assert_eq!(decode(&batch[..split]).unwrap(), first);
        assert_eq!(decode(&batch[split..]).unwrap(), second);
    }

    #[test]
    fn another_format_is_refused_by_name() {
        let record = Record::ClaimPaid {
            campaign_id: CampaignId(1),
            order_id: OrderId(2),
            payout_id: stampede_core::PayoutId::parse("p-1").unwrap(),
            at: UnixMillis(3),
        };
        let mut out = Vec::new();
        encode(&record, &mut out);
        out[0] = RECORD_FORMAT + 1;
        let error = decode(&out).unwrap_err().to_string();
        assert!(error.contains("record format 3"), "{error}");
        // A journal of the format before (a 64-bit order key) is refused, never misread.
        out[0] = 1;
        let error = decode(&out).unwrap_err().to_string();
        assert!(error.contains("record format 1"), "{error}");
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
    }
}
