//! The payments service: start a payment on a channel, record what a channel reports (an
//! HTTP callback, a query's answer, a simulated channel's in-process delivery), and ask the
//! channels about `paying` orders. Every answer is an outcome value; the API turns them into
//! responses and the jobs into retries.
//!
//! A payment's money moves outside the engine, so the order of steps is what keeps the books
//! right: `pay` journals `paying` before the channel is called; a reported payment is recorded
//! (and answered) only once durable; a late or duplicate payment opens a refund in the same
//! record, and the writer wakes the refund job once it is durable ([`crate::jobs`]).

use std::sync::{Arc, Weak};
use std::time::Duration;

use stampede_core::{
    ChannelName, InvalidTransition, Order, OrderId, OrderOutcome, OrderState, Payment, PaymentKind,
    PaymentOutcome, StalePaying, UserId,
};
use stampede_engine::{Engine, EngineError};

use crate::channel::{CallbackSink, ChannelFuture, PayInstructions};
use crate::desk::{DeskError, PaymentDesk};
use crate::metrics::PaymentMetrics;
use crate::txns::{TxnClaim, TxnRegistry};

/// What starting a payment came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayOutcome {
    /// The order is `paying` on the channel (durable), which answered how to pay.
    Started {
        /// The order after.
        order: Order,
        /// What the client needs to pay on the channel.
        instructions: PayInstructions,
    },
    /// No such order, or not the requester's.
    NotFound,
    /// The order cannot be paid (closed, paid, past its deadline, a red packet).
    InvalidTransition(InvalidTransition),
    /// No channel of that name.
    UnknownChannel,
    /// The channel (or every channel) is out of rotation, or its call failed: try again later.
    ChannelUnavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

/// What recording a reported payment came to: the ledger's outcome, after it was counted and
/// logged.
pub type Recorded = PaymentOutcome;

/// The payments service (shared: the HTTP handlers, the jobs and the simulated channels'
/// in-process deliveries all hold it).
pub struct Payments {
    engine: Engine,
    /// Shared: a cluster node keeps one desk per shard across the shard's engines.
    desk: Arc<PaymentDesk>,
    /// On a cluster node, where a transaction is claimed by its order across shards before
    /// it is recorded; `None` on a single node (its ledger sees every campaign).
    txns: Option<Arc<dyn TxnRegistry>>,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("desk", &self.desk)
            .finish_non_exhaustive()
    }
}

impl Payments {
    /// The service over `engine` and `desk`; every simulated channel of the desk delivers
    /// its callbacks into this service's [`Payments::record`] from now on (through a weak
    /// handle: the service holds the channels, not the other way round). A desk outlives
    /// its services on a cluster node, whose shard changes engines with its role: the
    /// newest service over it takes its callbacks.
    pub fn new(engine: Engine, desk: Arc<PaymentDesk>) -> Arc<Self> {
        Self::with_txns(engine, desk, None)
    }

    /// [`Payments::new`] for a cluster shard: every payment's transaction is claimed for its
    /// order in `txns` before it is recorded ([`crate::txns`]).
    pub fn with_txns(
        engine: Engine,
        desk: Arc<PaymentDesk>,
        txns: Option<Arc<dyn TxnRegistry>>,
    ) -> Arc<Self> {
        let payments = Arc::new(Self { engine, desk, txns });
        for sim in payments.desk.sims() {
            sim.set_sink(Arc::new(Delivery(Arc::downgrade(&payments))));
        }
        payments
    }

    /// The engine payments are journaled through.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The channels and their router.
    pub fn desk(&self) -> &PaymentDesk {
        &self.desk
    }

    /// The channels' payment counters.
    pub fn metrics(&self) -> &PaymentMetrics {
        self.desk.metrics()
    }

    /// Starts a payment of `order` for its user `by`: on `channel` if named, else on a
    /// channel the router picks among the healthy ones by weight. `pending_payment` →
    /// `paying` is journaled before the channel is called; asking again answers the same.
    pub async fn pay(
        &self,
        order: OrderId,
        by: &UserId,
        channel: Option<&ChannelName>,
    ) -> Result<PayOutcome, EngineError> {
        let routed = match self.desk.route(channel) {
            Ok(routed) => routed,
            Err(e) => return Ok(desk_refusal(e)),
        };
        let name = routed.name().clone();
        let order = match self.engine.start_payment(order, by, &name).await {
            Ok(OrderOutcome::Moved(order)) => order,
            other => {
                // The channel was not called: its health learns nothing.
                routed.release();
                return Ok(match other? {
                    OrderOutcome::NotFound => PayOutcome::NotFound,
                    OrderOutcome::InvalidTransition(invalid) => {
                        PayOutcome::InvalidTransition(invalid)
                    }
                    OrderOutcome::Moved(_) => unreachable!("matched above"),
                });
            }
        };
        Ok(
            match self.desk.pay(routed, order.id, order.amount_cents).await {
                Ok(instructions) => PayOutcome::Started {
                    order,
                    instructions,
                },
                Err(e) => desk_refusal(e),
            },
        )
    }

    /// Records a verified payment of `order` (from an HTTP callback, a channel's in-process
    /// delivery or a query), counting and logging what it came to. A late or duplicate
    /// payment is recorded and its refund opened; the refund job pays it back.
    ///
    /// On a cluster node the transaction is first claimed for `order` across the shards: held
    /// by another order, it is answered [`PaymentOutcome::TxnConflict`] and not recorded; a
    /// registry that does not answer makes this `Unavailable` (nothing recorded, a retry is
    /// safe). A payment the ledger will refuse as invalid is not claimed.
    pub async fn record(&self, order: OrderId, payment: Payment) -> Result<Recorded, EngineError> {
        let channel = payment.channel.clone();
        let got_cents = payment.amount_cents.0;
        let outcome = match self.claim_txn(order, &payment).await? {
            Some(conflict) => conflict,
            None => self.engine.record_payment(order, payment).await?,
        };
        let metrics = self.metrics();
        metrics.callback(&channel, outcome.code());
        match &outcome {
            PaymentOutcome::Recorded { kind, .. } if *kind != PaymentKind::Settled => {
                // The writer wakes the refund job once this record is durable.
                tracing::warn!(%order, %channel, kind = kind.code(), "payment did not pay its order; refund opened");
            }
            PaymentOutcome::AmountMismatch { expected } => {
                metrics.amount_mismatch(&channel);
                tracing::warn!(
                    %order,
                    %channel,
                    expected_cents = expected.0,
                    got_cents,
                    "payment amount differs from the order; rejected"
                );
            }
            PaymentOutcome::InvalidPayment(invalid) => {
                tracing::warn!(%order, %channel, %invalid, "payment with a bad channel or txn_id; not recorded");
            }
            PaymentOutcome::TooManyPayments => {
                tracing::error!(%order, %channel, "too many extra payments for one order; not recorded");
            }
            _ => {}
        }
        Ok(outcome)
    }

    /// Claims `payment`'s transaction for `order` in the cluster's registry, if there is
    /// one: `Some(TxnConflict)` when another order holds it, `None` to go on recording.
    async fn claim_txn(
        &self,
        order: OrderId,
        payment: &Payment,
    ) -> Result<Option<Recorded>, EngineError> {
        let Some(txns) = &self.txns else {
            return Ok(None);
        };
        if payment.validate().is_err() {
            return Ok(None); // the ledger answers `InvalidPayment`
        }
        match txns.claim(&payment.channel, &payment.txn_id, order).await {
            Ok(TxnClaim::Ours) => Ok(None),
            Ok(TxnClaim::Other(holder)) => {
                tracing::warn!(%order, channel = %payment.channel, txn_id = %payment.txn_id, %holder, "transaction already paid another order (on another shard); not recorded");
                Ok(Some(PaymentOutcome::TxnConflict))
            }
            Err(why) => Err(EngineError::Unavailable(format!(
                "the cluster's transaction claims did not answer: {why}"
            ))),
        }
    }

    /// Asks each channel of `order` for its payments and records them (a retry of a known
    /// transaction changes nothing). Answers how many were new.
    pub async fn query_order(&self, order: &StalePaying) -> usize {
        let mut recorded = 0;
        for channel in &order.channels {
            match self.desk.query(channel, order.order_id).await {
                Ok(payments) => {
                    for payment in payments {
                        recorded += usize::from(self.record_found(order.order_id, payment).await);
                    }
                }
                Err(error) => {
                    self.metrics().query_failed(channel);
                    tracing::debug!(order = %order.order_id, %channel, ?error, "payment query failed; next pass retries");
                }
            }
        }
        recorded
    }

    /// Before an order is shown: if it is `paying`, asks its channels about it (at most once
    /// per [`crate::desk::READ_QUERY_INTERVAL`] per order), so a payment whose callback was
    /// lost shows `paid`.
    pub async fn refresh_if_paying(&self, order: &Order) {
        if order.state != OrderState::Paying || !self.desk.read_query_allowed(order.id) {
            return;
        }
        let channels = self.engine.inspect(|l| l.paying_channels(order.id));
        let stale = StalePaying {
            order_id: order.id,
            channels,
        };
        self.query_order(&stale).await;
    }

    /// Records a payment a query found (like a callback); `true` if it was new.
    async fn record_found(&self, order: OrderId, payment: Payment) -> bool {
        let channel = payment.channel.clone();
        match self.record(order, payment).await {
            Ok(PaymentOutcome::Recorded { .. }) => {
                self.metrics().found_by_query(&channel);
                true
            }
            Ok(PaymentOutcome::AlreadyRecorded { .. }) => false,
            Ok(refused) => {
                tracing::warn!(%order, outcome = refused.code(), "payment found by query not recorded");
                false
            }
            Err(error) => {
                tracing::warn!(%order, ?error, "payment found by query not recorded; next pass retries");
                false
            }
        }
    }
}

/// A desk refusal as a payment outcome (a failing channel logged here: the client only
/// learns to come back later).
fn desk_refusal(e: DeskError) -> PayOutcome {
    match e {
        DeskError::UnknownChannel => PayOutcome::UnknownChannel,
        DeskError::NoChannel { retry_after } => PayOutcome::ChannelUnavailable { retry_after },
        DeskError::Channel(error) => {
            tracing::warn!(%error, "payment channel call failed");
            PayOutcome::ChannelUnavailable {
                retry_after: Duration::from_secs(1),
            }
        }
    }
}

/// Delivers a simulated channel's callbacks into [`Payments::record`], the same path as the
/// HTTP callback endpoint.
struct Delivery(Weak<Payments>);

impl CallbackSink for Delivery {
    fn deliver(&self, order: OrderId, payment: Payment) -> ChannelFuture<'static, ()> {
        let payments = self.0.clone();
        Box::pin(async move {
            let Some(payments) = payments.upgrade() else {
                return;
            };
            if let Err(error) = payments.record(order, payment).await {
                tracing::debug!(%order, ?error, "in-process channel callback not recorded");
            }
        })
    }
}
