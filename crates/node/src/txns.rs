//! The cluster's transaction claims ([`stampede_cluster::TxnClaims`], a NATS key-value
//! bucket) as the payments service's [`TxnRegistry`]: one per node, shared by its shards.

use stampede_cluster::TxnClaims;
use stampede_core::{ChannelName, OrderId};
use stampede_money::{TxnClaim, TxnFuture, TxnRegistry};

/// [`TxnClaims`] for [`stampede_money::Payments`].
#[derive(Clone, Debug)]
pub(crate) struct NatsTxns(pub(crate) TxnClaims);

impl TxnRegistry for NatsTxns {
    fn claim<'a>(
        &'a self,
        channel: &'a ChannelName,
        txn_id: &'a str,
        order: OrderId,
    ) -> TxnFuture<'a> {
        Box::pin(async move {
            let claimed = self
                .0
                .claim(channel.as_str(), txn_id, &order.to_string())
                .await;
            match claimed {
                Ok(stampede_cluster::TxnClaim::Ours) => Ok(TxnClaim::Ours),
                Ok(stampede_cluster::TxnClaim::Other(holder)) => Ok(TxnClaim::Other(holder)),
                Err(error) => Err(error.to_string()),
            }
        })
    }
}
