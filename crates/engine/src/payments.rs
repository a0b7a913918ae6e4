//! The engine's side of payments: refunds confirmed through the writer, and the reads the
//! payment jobs need (`paying` orders whose callback is overdue, refunds still owed).
//!
//! Channel calls are I/O, so they never run in the writer: the API's payment jobs call the
//! channels and come back here to journal what they learned.

use stampede_core::{Command, OrderId, Outcome, Payment, PendingRefund, StalePaying};

use crate::engine::Engine;
use crate::error::{EngineError, mismatched};

impl Engine {
    /// Records the channel's confirmation of the refund of `payment` (a late or duplicate
    /// payment of `order`), durable before the answer. `Ok(false)`: nothing to confirm (already
    /// refunded, or no such refund).
    pub async fn confirm_refund(
        &self,
        order: OrderId,
        payment: Payment,
        refund_id: String,
    ) -> Result<bool, EngineError> {
        let command = Command::ConfirmRefund {
            order,
            payment,
            refund_id,
        };
        match self.decide(command).await? {
            Outcome::RefundConfirmed(confirmed) => Ok(confirmed),
            other => Err(mismatched("refund confirmation", &other)),
        }
    }

    /// `paying` orders whose payment started (or was last offered here) `older_than_millis`
    /// ago or more, at most `max`; each is offered again after another `older_than_millis`
    /// while it stays `paying`. Takes the ledger lock briefly.
    pub fn take_stale_paying(&self, older_than_millis: u64, max: usize) -> Vec<StalePaying> {
        let now = self.now();
        self.shared
            .ledger
            .lock()
            .take_stale_paying(now, older_than_millis, max)
    }

    /// Refunds opened and not confirmed yet, at most `max` (O(payments) when any is pending),
    /// answered only once every one of them is durable.
    ///
    /// The ledger shows a batch's decisions before its append is durable, and a poisoned
    /// engine shows a failed batch's decisions until it restarts. A refund is money leaving
    /// through a channel, so refunding a payment whose record is then lost would let the
    /// restarted engine settle an order with money already given back. So the list is read
    /// through [`Engine::read_durable`]: answered once the batch it saw is durable, `Degraded`
    /// if that takes longer than `journal_reply_timeout`, `Unavailable` once the journal
    /// failed.
    pub async fn pending_refunds(&self, max: usize) -> Result<Vec<PendingRefund>, EngineError> {
        self.read_durable(|ledger| ledger.pending_refunds(max))
            .await
    }

    /// [`Engine::pending_refunds`] with no wait for the shard's tip: a follower answers from
    /// the log as it has applied it (every record durable, perhaps a moment behind the
    /// leader), with no round trip to NATS; a writer answers as `pending_refunds` does. For a
    /// follower's periodic refund job, which a stale list only delays.
    pub async fn pending_refunds_applied(
        &self,
        max: usize,
    ) -> Result<Vec<PendingRefund>, EngineError> {
        if self.remote.is_some() {
            return Ok(self.inspect(|ledger| ledger.pending_refunds(max)));
        }
        self.pending_refunds(max).await
    }

    /// Resolves once a batch that opened a refund is durable (or one was since the last
    /// wait): the writer wakes the refund job itself.
    pub async fn refunds_woken(&self) {
        self.shared.refunds_wake.notified().await;
    }
}
