//! Background money work, once a second (and at once when a refund is opened):
//!
//! - **Query**: an order `paying` for `payment_query_after_secs` without a callback is asked
//!   about on each of its channels; what a channel holds is recorded like a callback (a lost
//!   callback never strands a paid order). Again every as many seconds while it stays
//!   `paying`, and for every `paying` order after a restart.
//! - **Refund**: every late or duplicate payment whose refund is pending is refunded on its
//!   channel (idempotent by the payment's refund key, so a retry or a restart never refunds
//!   twice) and the channel's confirmation is journaled. A channel that is down is retried
//!   with backoff; one that declines is retried slowly and logged as an error.
//!
//! Bounded: at most [`MAX_QUERIES_PER_TICK`] orders and [`MAX_REFUNDS_PER_TICK`] refunds per
//! pass, [`CONCURRENT_CALLS`] channel calls at once; the backoff map holds only refunds of
//! the current scan ([`MAX_REFUND_SCAN`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use stampede_core::{OrderId, Payment, PendingRefund, StalePaying, validate_refund_id};
use tokio::task::JoinSet;

use crate::payment_desk::DeskError;
use crate::payment_metrics::RefundCount;
use crate::state::AppState;

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
/// Longest wait before retrying a refund the channel could not take.
pub const MAX_REFUND_BACKOFF: Duration = Duration::from_secs(60);

/// Starts the jobs; they stop when the returned handle is aborted.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PAYMENT_JOB_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = RefundBackoff::default();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    query_stale(&state).await;
                    refund_pending(&state, &mut backoff).await;
                }
                _ = state.engine.refunds_woken() => {
                    refund_pending(&state, &mut backoff).await;
                }
            }
        }
    })
}

/// Asks the channels of every overdue `paying` order and records what they hold. Answers how
/// many payments were recorded.
pub async fn query_stale(state: &Arc<AppState>) -> usize {
    let after = state.payments.query_after.as_millis() as u64;
    let stale = state.engine.take_stale_paying(after, MAX_QUERIES_PER_TICK);
    let mut calls = JoinSet::new();
    let mut recorded = 0;
    for order in stale {
        while calls.len() >= CONCURRENT_CALLS {
            recorded += calls.join_next().await.and_then(Result::ok).unwrap_or(0);
        }
        let state = Arc::clone(state);
        calls.spawn(async move { query_order(&state, &order).await });
    }
    while let Some(done) = calls.join_next().await {
        recorded += done.unwrap_or(0);
    }
    recorded
}

/// Asks each channel of `order` for its payments and records them (a retry of a known
/// transaction changes nothing). Answers how many were new.
pub async fn query_order(state: &AppState, order: &StalePaying) -> usize {
    let mut recorded = 0;
    for channel in &order.channels {
        match state.payments.query(channel, order.order_id).await {
            Ok(payments) => {
                for payment in payments {
                    recorded += usize::from(record_found(state, order.order_id, payment).await);
                }
            }
            Err(error) => {
                state.payments.metrics().query_failed(channel);
                tracing::debug!(order = %order.order_id, %channel, ?error, "payment query failed; next pass retries");
            }
        }
    }
    recorded
}

/// Records a payment a query found (like a callback); `true` if it was new.
async fn record_found(state: &AppState, order: OrderId, payment: Payment) -> bool {
    let channel = payment.channel.clone();
    match crate::handlers::payments::record(state, order, payment).await {
        Ok(recorded) if recorded.new => {
            state.payments.metrics().found_by_query(&channel);
            true
        }
        Ok(_) => false,
        Err(error) => {
            tracing::warn!(%order, ?error, "payment found by query not recorded; next pass retries");
            false
        }
    }
}

/// When each pending refund may be tried again, and how long it waited last.
#[derive(Debug, Default)]
pub struct RefundBackoff {
    next: HashMap<(String, String), (Duration, Duration)>,
}

/// Refunds every pending refund whose backoff has passed; answers how many were confirmed.
pub async fn refund_pending(state: &Arc<AppState>, backoff: &mut RefundBackoff) -> usize {
    // Look past refunds waiting out a backoff, so they cannot starve the ones behind them.
    let scan = (MAX_REFUNDS_PER_TICK + backoff.next.len()).min(MAX_REFUND_SCAN);
    let pending = match state.engine.pending_refunds(scan).await {
        Ok(pending) => pending,
        Err(error) => {
            // Not known to be durable (the journal failed or is slow): refund nothing now.
            tracing::debug!(
                ?error,
                "pending refunds not confirmed durable; next pass retries"
            );
            return 0;
        }
    };
    let now = state.payments.monotonic_now();
    // Forget refunds that are no longer pending (the map stays within one scan).
    let keys: std::collections::HashSet<(&str, &str)> = pending
        .iter()
        .map(|p| (p.payment.channel.as_str(), p.payment.txn_id.as_str()))
        .collect();
    backoff
        .next
        .retain(|key, _| keys.contains(&(key.0.as_str(), key.1.as_str())));
    drop(keys);
    let due: Vec<PendingRefund> = pending
        .into_iter()
        .filter(|p| {
            backoff
                .next
                .get(&(p.payment.channel.clone(), p.payment.txn_id.clone()))
                .is_none_or(|&(at, _)| at <= now)
        })
        .take(MAX_REFUNDS_PER_TICK)
        .collect();
    let mut calls = JoinSet::new();
    let mut results = Vec::new();
    for refund in due {
        while calls.len() >= CONCURRENT_CALLS {
            results.extend(calls.join_next().await.and_then(Result::ok));
        }
        let state = Arc::clone(state);
        calls.spawn(async move {
            let outcome = refund_one(&state, &refund).await;
            (refund, outcome)
        });
    }
    while let Some(done) = calls.join_next().await {
        results.extend(done.ok());
    }
    let mut confirmed = 0;
    for (refund, outcome) in results {
        let key = (
            refund.payment.channel.clone(),
            refund.payment.txn_id.clone(),
        );
        match outcome {
            RefundOutcome::Confirmed => {
                confirmed += 1;
                backoff.next.remove(&key);
            }
            RefundOutcome::Retry { declined } => {
                let last = backoff.next.get(&key).map_or(Duration::ZERO, |&(_, d)| d);
                let wait = if declined {
                    MAX_REFUND_BACKOFF
                } else {
                    (last * 2).clamp(PAYMENT_JOB_TICK, MAX_REFUND_BACKOFF)
                };
                backoff.next.insert(key, (now + wait, wait));
            }
        }
    }
    confirmed
}

enum RefundOutcome {
    Confirmed,
    Retry { declined: bool },
}

async fn refund_one(state: &AppState, refund: &PendingRefund) -> RefundOutcome {
    let channel = refund.payment.channel.as_str();
    let counts = state.payments.metrics();
    match state.payments.refund(&refund.payment).await {
        Ok(receipt) if validate_refund_id(&receipt.refund_id).is_err() => {
            // The ledger would not confirm it (nothing to journal): back off as for a decline.
            counts.refund(channel, RefundCount::InvalidReceipt);
            tracing::error!(order = %refund.order_id, %channel, txn_id = %refund.payment.txn_id,
                "channel answered a refund with a bad refund_id; it stays refund_pending");
            RefundOutcome::Retry { declined: true }
        }
        Ok(receipt) => {
            match state
                .engine
                .confirm_refund(refund.order_id, refund.payment.clone(), receipt.refund_id)
                .await
            {
                Ok(_) => {
                    counts.refund(channel, RefundCount::Refunded);
                    RefundOutcome::Confirmed
                }
                Err(error) => {
                    // The channel refunded; journaling failed. The retry asks the channel
                    // again under the same key, which answers the same receipt.
                    tracing::warn!(order = %refund.order_id, ?error, "refund confirmation not journaled; retrying");
                    RefundOutcome::Retry { declined: false }
                }
            }
        }
        Err(DeskError::Channel(stampede_engine::ChannelError::Declined(why))) => {
            counts.refund(channel, RefundCount::Declined);
            tracing::error!(order = %refund.order_id, %channel, txn_id = %refund.payment.txn_id, %why,
                "channel declined a refund; it stays refund_pending (see reconciliation)");
            RefundOutcome::Retry { declined: true }
        }
        Err(error) => {
            counts.refund(channel, RefundCount::Unavailable);
            tracing::debug!(order = %refund.order_id, ?error, "refund not possible now; backing off");
            RefundOutcome::Retry { declined: false }
        }
    }
}
