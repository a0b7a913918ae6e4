//! One channel transaction pays one order, across every shard of the cluster.
//!
//! A single node's ledger refuses a transaction id already recorded for another order in any
//! campaign (`txn_conflict`). A cluster's ledgers are one per shard, so that check stops at
//! the shard: a channel that reused a transaction id for orders of two shards would have both
//! recorded, one payment counted twice. Before a payment is recorded, its (channel, txn id)
//! is claimed for its order in a key-value bucket every node shares (create-if-absent, on the
//! log's replicas): the first order keeps it, a retry for the same order finds its own claim,
//! and any other order is answered `txn_conflict`.

use async_nats::jetstream::kv;
use async_nats::jetstream::stream;

use crate::connection::Connection;
use crate::error::NatsError;
use crate::limits::{TXN_CLAIM_MAX_AGE, TXN_CLAIM_TRIES, TXN_CLAIMS_MAX_BYTES};

/// The cluster's claims on channel transactions.
#[derive(Clone, Debug)]
pub struct TxnClaims {
    store: kv::Store,
}

/// What claiming a transaction for an order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnClaim {
    /// The transaction is this order's (claimed now, or by an earlier try).
    Ours,
    /// Another order holds it (its id as claimed).
    Other(String),
}

impl TxnClaims {
    /// The bucket (`<cluster>_txns`), created with `replicas` replicas if absent.
    ///
    /// # Errors
    /// [`NatsError`] if JetStream refuses or does not answer.
    pub async fn open(connection: &Connection, replicas: usize) -> Result<Self, NatsError> {
        let bucket = connection.names().txn_bucket();
        let jetstream = connection.jetstream();
        if let Ok(store) = jetstream.get_key_value(&bucket).await {
            return Ok(Self { store });
        }
        let store = jetstream
            .create_key_value(kv::Config {
                bucket,
                history: 1,
                max_age: TXN_CLAIM_MAX_AGE,
                max_bytes: TXN_CLAIMS_MAX_BYTES,
                num_replicas: replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|error| NatsError::new("creating the transaction bucket", error))?;
        Ok(Self { store })
    }

    /// Claims `channel`'s transaction `txn_id` for `order`.
    ///
    /// # Errors
    /// [`NatsError`] if the bucket does not answer (or is full): nothing is known, the
    /// payment must not be recorded now.
    pub async fn claim(
        &self,
        channel: &str,
        txn_id: &str,
        order: &str,
    ) -> Result<TxnClaim, NatsError> {
        let key = key(channel, txn_id);
        for _ in 0..TXN_CLAIM_TRIES {
            match self
                .store
                .create(&key, order.as_bytes().to_vec().into())
                .await
            {
                Ok(_) => return Ok(TxnClaim::Ours),
                Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Err(error) => return Err(NatsError::new("claiming a transaction", error)),
            }
            let held = self
                .store
                .get(&key)
                .await
                .map_err(|error| NatsError::new("reading a transaction's claim", error))?;
            match held {
                Some(held) if held.as_ref() == order.as_bytes() => return Ok(TxnClaim::Ours),
                Some(held) => return Ok(TxnClaim::Other(String::from_utf8_lossy(&held).into())),
                // Expired (or purged) between the create and the read: claim it again.
                None => {}
            }
        }
        Err(NatsError::new(
            "claiming a transaction",
            "its claim kept changing under the create",
        ))
    }
}

/// The bucket key of a transaction: `<hex channel>.<hex txn id>` (channel names and
/// transaction ids may hold characters a key may not; hex keeps them apart exactly).
fn key(channel: &str, txn_id: &str) -> String {
    let mut key = String::with_capacity(2 * (channel.len() + txn_id.len()) + 1);
    hex(channel, &mut key);
    key.push('.');
    hex(txn_id, &mut key);
    key
}

fn hex(s: &str, out: &mut String) {
    use std::fmt::Write;
    for byte in s.bytes() {
        let _ = write!(out, "{byte:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_channel_and_transaction_apart_exactly() {
        assert_eq!(key("sim", "t-1"), "73696d.742d31");
        assert_ne!(key("ab", "c"), key("a", "bc"));
    }
}
