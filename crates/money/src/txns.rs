//! Where a cluster's shards agree that one channel transaction pays one order.
//!
//! A single node's ledger refuses a transaction id recorded for another order in any of its
//! campaigns (`txn_conflict`); a cluster has a ledger per shard, so [`crate::Payments`] asks
//! a [`TxnRegistry`] shared by every node before it records a payment (a NATS key-value
//! bucket on a cluster node; none on a single node, whose ledger sees every campaign).

use std::future::Future;
use std::pin::Pin;

use stampede_core::{ChannelName, OrderId};

/// A registry call's future.
pub type TxnFuture<'a> = Pin<Box<dyn Future<Output = Result<TxnClaim, String>> + Send + 'a>>;

/// What claiming a channel transaction for an order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnClaim {
    /// The transaction is this order's: claimed now, or by an earlier try of it.
    Ours,
    /// Another order holds it (its id, as the registry keeps it).
    Other(String),
}

/// The cluster-wide claims on channel transactions.
pub trait TxnRegistry: Send + Sync + std::fmt::Debug {
    /// Claims `channel`'s transaction `txn_id` for `order`. An error means nothing is known
    /// (the registry did not answer): the payment must not be recorded now (a retry is safe).
    fn claim<'a>(
        &'a self,
        channel: &'a ChannelName,
        txn_id: &'a str,
        order: OrderId,
    ) -> TxnFuture<'a>;
}
