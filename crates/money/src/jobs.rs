//! Background money work, once a second (and at once when a refund is opened):
//!
//! - **Query**: an order `paying` for `payment_query_after_secs` without a callback is asked
//!   about on each of its channels (on a cluster, by the leader, and by every follower of its
//!   own simulated channels: [`crate::PaymentDesk::queries_here`]); what a channel holds is recorded like a callback (a lost
//!   callback never strands a paid order). Again every as many seconds while it stays
//!   `paying`, and for every `paying` order after a restart.
//! - **Refund**: every late or duplicate payment whose refund is pending is refunded on its
//!   channel (on a cluster, by the node whose desk minted its transaction id, the shard's
//!   leader or a follower: [`crate::PaymentDesk::refunds_here`]) (idempotent by the payment's refund key, so a retry or a restart never refunds
//!   twice) and the channel's confirmation is journaled. A refund that fails (the channel is
//!   down, declines, or answers a receipt the ledger refuses) is retried with backoff, each
//!   step logged once ([`crate::refund_backoff`]); refunds stuck at the longest wait are
//!   counted in `stampede_refunds_stuck` and summed up in the log once an hour.
//!
//! Bounded: at most [`MAX_QUERIES_PER_TICK`] orders and [`MAX_REFUNDS_PER_TICK`] refunds per
//! pass, [`CONCURRENT_CALLS`] channel calls at once; the backoff map holds only refunds of
//! the current scan ([`MAX_REFUND_SCAN`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use stampede_core::{PendingRefund, validate_refund_id};
use tokio::task::JoinSet;

use crate::desk::DeskError;
use crate::metrics::RefundCount;
use crate::payments::Payments;
use crate::refund_backoff::{BackoffStep, MAX_REFUND_BACKOFF, RefundBackoff, RefundKey};

/// How often the jobs run when nothing wakes them.
pub const PAYMENT_JOB_TICK: Duration = Duration::from_secs(1);
/// Most `paying` orders queried per pass; the rest wait for the next pass.
pub const MAX_QUERIES_PER_TICK: usize = 256;
/// Most refunds attempted per pass.
pub const MAX_REFUNDS_PER_TICK: usize = 256;
/// Most pending refunds looked at per pass (those waiting out a backoff included); the
/// backoff map never holds more. Only if this many refunds are all backing off (a channel
/// declining every refund) do later ones wait for a slot.
pub const MAX_REFUND_SCAN: usize = 4_096;
/// Most channel calls in flight at once from these jobs.
pub const CONCURRENT_CALLS: usize = 16;

/// Whose refunds a refund pass makes ([`crate::PaymentDesk::refunds_here`]), and where it
/// reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundScope {
    /// The job of the shard's writer (a single node's, or a cluster shard's leader): it also
    /// reports `stampede_refunds_pending`.
    pub leading: bool,
    /// The cluster shard, labelling the gauges (`None` on a single node).
    pub shard: Option<u32>,
}

impl RefundScope {
    /// A single node's jobs.
    pub const SINGLE: Self = Self {
        leading: true,
        shard: None,
    };
}

/// Starts the jobs of a shard's writer, a single node's or a cluster shard's leader (the
/// refund backoff on the desk's monotonic clock); they stop when the returned handle is
/// aborted.
pub fn spawn(payments: Arc<Payments>, shard: Option<u32>) -> tokio::task::JoinHandle<()> {
    let scope = RefundScope {
        leading: true,
        shard,
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PAYMENT_JOB_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = RefundBackoff::default();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    query_stale(&payments, true).await;
                    let now = payments.desk().monotonic_now();
                    refund_pending(&payments, &mut backoff, now, scope).await;
                }
                _ = payments.engine().refunds_woken() => {
                    let now = payments.desk().monotonic_now();
                    refund_pending(&payments, &mut backoff, now, scope).await;
                }
            }
        }
    })
}

/// Starts the jobs of a cluster shard's follower, once a tick: its desk's scoped simulated
/// channels asked about stale `paying` orders (a session started through this node is in
/// their books alone), and the pending refunds of payments this node's desk minted, from the
/// log as applied here. What they find goes to the leader like any command. Stops when
/// aborted.
pub fn spawn_follower_jobs(payments: Arc<Payments>, shard: u32) -> tokio::task::JoinHandle<()> {
    let scope = RefundScope {
        leading: false,
        shard: Some(shard),
    };
    // The shard's leader reports what the shard owes; this node may have, before it stepped down.
    metrics::gauge!("stampede_refunds_pending", "shard" => shard.to_string()).set(0.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PAYMENT_JOB_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = RefundBackoff::default();
        loop {
            tick.tick().await;
            query_stale(&payments, false).await;
            let now = payments.desk().monotonic_now();
            refund_pending(&payments, &mut backoff, now, scope).await;
        }
    })
}

/// Asks the channels of every overdue `paying` order (those this job asks:
/// [`crate::PaymentDesk::queries_here`]) and records what they hold. Answers how many
/// payments were recorded.
pub async fn query_stale(payments: &Arc<Payments>, leading: bool) -> usize {
    let after = payments.desk().query_after.as_millis() as u64;
    let stale = payments
        .engine()
        .take_stale_paying(after, MAX_QUERIES_PER_TICK);
    let mut calls = JoinSet::new();
    let mut recorded = 0;
    for mut order in stale {
        let desk = payments.desk();
        order
            .channels
            .retain(|channel| desk.queries_here(channel, leading));
        if order.channels.is_empty() {
            continue;
        }
        while calls.len() >= CONCURRENT_CALLS {
            recorded += calls.join_next().await.and_then(Result::ok).unwrap_or(0);
        }
        let payments = Arc::clone(payments);
        calls.spawn(async move { payments.query_order(&order).await });
    }
    while let Some(done) = calls.join_next().await {
        recorded += done.unwrap_or(0);
    }
    recorded
}

/// What one refund pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefundPass {
    /// Refunds confirmed and journaled.
    pub confirmed: usize,
    /// Failed refunds whose wait grew (one warning each).
    pub stepped_up: usize,
    /// Failed refunds that reached the longest wait in this pass (one error each).
    pub newly_stuck: usize,
    /// Refunds at the longest wait after this pass.
    pub stuck: usize,
    /// Whether the hourly summary of stuck refunds was logged.
    pub reported: bool,
}

impl RefundPass {
    /// Lines this pass logged at warning or error level.
    pub fn logged(&self) -> usize {
        self.stepped_up + self.newly_stuck + usize::from(self.reported)
    }
}

/// Refunds every pending refund in `scope` whose backoff has passed at `now` (a monotonic
/// reading).
pub async fn refund_pending(
    payments: &Arc<Payments>,
    backoff: &mut RefundBackoff,
    now: Duration,
    scope: RefundScope,
) -> RefundPass {
    let mut pass = RefundPass::default();
    // Look past refunds waiting out a backoff, so they cannot starve the ones behind them.
    let scan = (MAX_REFUNDS_PER_TICK + backoff.len()).min(MAX_REFUND_SCAN);
    let pending = match payments.engine().pending_refunds_applied(scan).await {
        Ok(mut pending) => {
            let desk = payments.desk();
            pending.retain(|p| desk.refunds_here(&p.payment, scope.leading));
            pending
        }
        Err(error) => {
            // Not known to be durable (the journal failed or is slow): refund nothing now.
            tracing::debug!(
                ?error,
                "pending refunds not confirmed durable; next pass retries"
            );
            return pass;
        }
    };
    // Forget refunds that are no longer pending (the map stays within one scan).
    let keys: HashSet<(&str, &str)> = pending
        .iter()
        .map(|p| (p.payment.channel.as_str(), p.payment.txn_id.as_str()))
        .collect();
    backoff.retain(&keys);
    drop(keys);
    let due: Vec<PendingRefund> = pending
        .into_iter()
        .filter(|p| backoff.is_due(&refund_key(p), now))
        .take(MAX_REFUNDS_PER_TICK)
        .collect();
    let mut calls = JoinSet::new();
    let mut results = Vec::new();
    for refund in due {
        while calls.len() >= CONCURRENT_CALLS {
            results.extend(calls.join_next().await.and_then(Result::ok));
        }
        let payments = Arc::clone(payments);
        calls.spawn(async move {
            let outcome = refund_one(&payments, &refund).await;
            (refund, outcome)
        });
    }
    while let Some(done) = calls.join_next().await {
        results.extend(done.ok());
    }
    for (refund, outcome) in results {
        let key = refund_key(&refund);
        let why = match outcome {
            RefundOutcome::Confirmed => {
                pass.confirmed += 1;
                backoff.succeeded(&key);
                continue;
            }
            RefundOutcome::Failed(why) => why,
        };
        let (order, channel, txn_id) = (refund.order_id, &key.0, &key.1);
        match backoff.failed(key.clone(), now) {
            BackoffStep::SteppedUp { wait } => {
                pass.stepped_up += 1;
                tracing::warn!(%order, %channel, %txn_id, %why, retry_in_secs = wait.as_secs(),
                    "refund not made; it stays refund_pending and is retried");
            }
            BackoffStep::Stuck => {
                pass.newly_stuck += 1;
                tracing::error!(%order, %channel, %txn_id, %why,
                    retry_every_secs = MAX_REFUND_BACKOFF.as_secs(),
                    "refund stuck: retried at the longest wait from now on, summed up hourly \
                     (see GET /v1/admin/channels and the reconciliation)");
            }
            BackoffStep::StillStuck => {}
        }
    }
    pass.stuck = backoff.stuck();
    let gauge = |name: &'static str| match scope.shard {
        None => metrics::gauge!(name),
        Some(shard) => metrics::gauge!(name, "shard" => shard.to_string()),
    };
    gauge("stampede_refunds_stuck").set(pass.stuck as f64);
    if scope.leading {
        let owed = payments.engine().inspect(|l| l.pending_refund_count());
        gauge("stampede_refunds_pending").set(owed as f64);
    }
    if let Some(stuck) = backoff.stuck_report(now) {
        pass.reported = true;
        tracing::error!(
            stuck,
            retry_every_secs = MAX_REFUND_BACKOFF.as_secs(),
            "refunds stuck at the longest wait, still retried"
        );
    }
    pass
}

fn refund_key(refund: &PendingRefund) -> RefundKey {
    (
        refund.payment.channel.clone(),
        refund.payment.txn_id.clone(),
    )
}

/// What one refund attempt came to.
enum RefundOutcome {
    Confirmed,
    /// Not made (or not journaled); why, for the log.
    Failed(String),
}

async fn refund_one(payments: &Payments, refund: &PendingRefund) -> RefundOutcome {
    let channel = &refund.payment.channel;
    let counts = payments.metrics();
    match payments.desk().refund(&refund.payment).await {
        Ok(receipt) if validate_refund_id(&receipt.refund_id).is_err() => {
            // The ledger would not confirm it (nothing to journal).
            counts.refund(channel, RefundCount::InvalidReceipt);
            RefundOutcome::Failed("the channel answered a bad refund_id".into())
        }
        Ok(receipt) => {
            match payments
                .engine()
                .confirm_refund(refund.order_id, refund.payment.clone(), receipt.refund_id)
                .await
            {
                Ok(_) => {
                    counts.refund(channel, RefundCount::Refunded);
                    RefundOutcome::Confirmed
                }
                // The channel refunded; journaling failed. The retry asks the channel again
                // under the same key, which answers the same receipt.
                Err(error) => {
                    RefundOutcome::Failed(format!("refund confirmation not journaled: {error}"))
                }
            }
        }
        Err(DeskError::Channel(crate::channel::ChannelError::Declined(why))) => {
            counts.refund(channel, RefundCount::Declined);
            RefundOutcome::Failed(format!("the channel declined: {why}"))
        }
        Err(error) => {
            counts.refund(channel, RefundCount::Unavailable);
            RefundOutcome::Failed(format!("the channel is unavailable: {error:?}"))
        }
    }
}
