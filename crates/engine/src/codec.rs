//! Record encoding for the journal: postcard (compact, serde-driven, stable wire format).

use stampede_core::Record;

/// Encodes a record, appending to `out`.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    // Serialising our own enum into a Vec cannot fail (no I/O, no unsupported types).
    let bytes = postcard::to_stdvec(record).expect("records always encode");
    out.extend_from_slice(&bytes);
}

/// Decodes a record written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Record, postcard::Error> {
    postcard::from_bytes(bytes)
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
        assert_eq!(decode(&out).unwrap(), record);
        assert!(decode(&out[..out.len() - 1]).is_err());
    }
}
