//! The payment desk: the configured channels behind a health-aware router, and the calls
//! made through it (pay, query, refund), each bounded by the call timeout and reported to the
//! channel's health.
//!
//! Channel calls are I/O and never run in the writer: what a channel answers is journaled
//! through the engine afterwards (see [`crate::payments`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use stampede_clock::SharedClock;
use stampede_core::{ChannelName, OrderId, Payment};

use crate::channel::router::{AdmitError, ChannelHealth, Routed, call_with_health};
use crate::channel::{
    ChannelError, ChannelRouter, Minted, PayInstructions, PaymentChannel, RefundReceipt,
    SimChannel, SimChannelConfig, books_file_name,
};
use crate::metrics::PaymentMetrics;
use stampede_admission::breaker::BreakerConfig;

/// Most orders whose read-triggered channel query is remembered (to throttle it); when full,
/// reads stop triggering queries until old entries age out (the periodic job still runs).
pub const MAX_READ_QUERY_ORDERS: usize = 100_000;
/// Least time between two read-triggered queries of one order.
pub const READ_QUERY_INTERVAL: Duration = Duration::from_secs(2);

/// What the desk is built from (the server's config, validated).
#[derive(Clone, Debug)]
pub struct DeskConfig {
    /// The simulated channels, in configured order (at least one).
    pub channels: Vec<SimChannelConfig>,
    /// Where each channel keeps its own books (`<dir>/channel-<name>.log`).
    pub books_dir: PathBuf,
    /// Longest `pay` / `query` / `refund` call; longer counts as a failure for its health.
    pub call_timeout: Duration,
    /// How long an order may stay `paying` before the query job asks its channels.
    pub query_after: Duration,
    /// Seed for the router's weighted picks (`0`: from the OS).
    pub rng_seed: u64,
    /// On a cluster node, this desk among the shard's desks (`<node>.s<shard>`), put in every
    /// transaction id its simulated channels mint ([`SimChannel::with_txn_scope`]); `None`
    /// on a single node (ids `<channel>-<n>`, as ever).
    pub txn_scope: Option<String>,
}

/// The channels, their router and the clock the calls are timed on.
pub struct PaymentDesk {
    router: ChannelRouter,
    sims: Vec<Arc<SimChannel>>,
    clock: SharedClock,
    call_timeout: Duration,
    /// How long an order may stay `paying` before the query job asks its channels.
    pub query_after: Duration,
    /// Order → when a read last triggered a query of it (monotonic).
    read_queries: Mutex<std::collections::HashMap<OrderId, Duration>>,
    /// Each configured channel's payment counters, registered once.
    metrics: PaymentMetrics,
}

impl std::fmt::Debug for PaymentDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentDesk")
            .field("channels", &self.sims.len())
            .finish_non_exhaustive()
    }
}

/// Why a call could not be made.
#[derive(Debug)]
pub enum DeskError {
    /// No channel of that name.
    UnknownChannel,
    /// Every channel (or the named one) is out of rotation.
    NoChannel {
        /// When to try again.
        retry_after: Duration,
    },
    /// The channel answered an error (declined, or unavailable / timed out).
    Channel(ChannelError),
}

impl PaymentDesk {
    /// The channels `config` names, on `clock`.
    pub fn new(config: DeskConfig, clock: SharedClock) -> anyhow::Result<Self> {
        // Each channel keeps its own books in the data directory, as a real channel keeps
        // them in its own database: they outlive a restart of this server.
        let sims = config
            .channels
            .iter()
            .map(|c| {
                let path = config.books_dir.join(books_file_name(&c.name));
                SimChannel::open(c.clone(), Arc::clone(&clock), &path)
                    .map(|sim| match &config.txn_scope {
                        Some(scope) => sim.with_txn_scope(scope),
                        None => sim,
                    })
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("payment channel books {}: {e}", path.display()))
            })
            .collect::<anyhow::Result<Vec<Arc<SimChannel>>>>()?;
        let weighted = config
            .channels
            .iter()
            .zip(&sims)
            .map(|(c, sim)| (Arc::clone(sim) as Arc<dyn PaymentChannel>, c.weight))
            .collect();
        let router = ChannelRouter::new(weighted, BreakerConfig::default(), config.rng_seed)?;
        let metrics = PaymentMetrics::register(sims.iter().map(|sim| sim.name()));
        Ok(Self {
            router,
            sims,
            clock,
            call_timeout: config.call_timeout,
            query_after: config.query_after,
            read_queries: Mutex::new(std::collections::HashMap::new()),
            metrics,
        })
    }

    /// The channels' payment counters.
    pub fn metrics(&self) -> &PaymentMetrics {
        &self.metrics
    }

    /// The simulated channels (their in-process deliveries are wired by [`crate::Payments`]).
    pub fn sims(&self) -> &[Arc<SimChannel>] {
        &self.sims
    }

    /// Whether this desk's refund job refunds `payment` (`leading`: the job of the shard's
    /// leader, else a follower's). A cluster node's desks mint transaction ids carrying the
    /// node and shard ([`SimChannel::with_txn_scope`]), and only the desk that minted a
    /// payment's id has it in its channel's books, so only it can refund it: a payment
    /// minted here is refunded here whatever the node's role; one minted by another node's
    /// desk is left to that node; any other (a single node's, a channel without scoped ids)
    /// by the leader.
    pub fn refunds_here(&self, payment: &Payment, leading: bool) -> bool {
        let sim = self.sims.iter().find(|sim| *sim.name() == payment.channel);
        match sim.map(|sim| sim.minted_by(&payment.txn_id)) {
            Some(Minted::Here) => true,
            Some(Minted::OtherDesk) => false,
            Some(Minted::Unscoped) | None => leading,
        }
    }

    /// Whether this desk's query job asks `channel` about stale `paying` orders (`leading`:
    /// the shard's leader's job, which asks every channel). A follower asks only its scoped
    /// simulated channels: a payment session started through this node's desk is in their
    /// books alone, and asking them is in-process (a real channel is asked once, by the
    /// leader).
    pub fn queries_here(&self, channel: &ChannelName, leading: bool) -> bool {
        leading || (self.sims.iter()).any(|sim| sim.name() == channel && sim.txn_prefix().is_some())
    }

    /// Now on the desk's monotonic clock.
    pub fn monotonic_now(&self) -> Duration {
        self.clock.monotonic()
    }

    /// Each simulated channel's statement up to `cutoff` (lines after it dropped, and the
    /// statement says it covers no later payment), covering the transactions this desk's
    /// channels mint (all of the channel's on a single node; this desk's own on a cluster).
    pub fn statements(&self, cutoff: stampede_core::UnixMillis) -> Vec<stampede_core::Statement> {
        self.sims
            .iter()
            .map(|sim| {
                let mut lines = sim.statement();
                lines.retain(|l| l.at <= cutoff);
                stampede_core::Statement {
                    channel: sim.name().to_owned(),
                    lines,
                    covers_until: Some(cutoff),
                    txn_prefix: sim.txn_prefix(),
                }
            })
            .collect()
    }

    /// Whether a channel of this name is configured.
    pub fn has_channel(&self, name: &ChannelName) -> bool {
        self.router.get(name).is_some()
    }

    /// The simulated channel named `name` (tests, statements).
    pub fn sim(&self, name: &ChannelName) -> Option<&Arc<SimChannel>> {
        self.sims.iter().find(|s| s.name() == name)
    }

    /// Every channel's health now.
    pub fn health(&self) -> Vec<ChannelHealth> {
        self.router.snapshot(self.clock.monotonic())
    }

    /// Chooses the channel for a new payment: `name` if given (and in rotation), else a
    /// weighted pick among healthy channels. The caller reports the returned permit.
    pub fn route(&self, name: Option<&ChannelName>) -> Result<Routed, DeskError> {
        let now = self.clock.monotonic();
        match name {
            Some(name) => self.router.admit(name, now).map_err(admit_error),
            None => self.router.pick(now).ok_or(DeskError::NoChannel {
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    /// Asks the routed channel to start a payment.
    pub async fn pay(
        &self,
        routed: Routed,
        order: OrderId,
        amount: stampede_core::Cents,
    ) -> Result<PayInstructions, DeskError> {
        let channel = routed.channel();
        call_with_health(
            routed,
            &self.clock,
            self.call_timeout,
            channel.pay(order, amount),
        )
        .await
        .map_err(DeskError::Channel)
    }

    /// Every payment channel `name` holds for `order`.
    pub async fn query(
        &self,
        name: &ChannelName,
        order: OrderId,
    ) -> Result<Vec<Payment>, DeskError> {
        let routed = self
            .router
            .admit(name, self.clock.monotonic())
            .map_err(admit_error)?;
        let channel = routed.channel();
        call_with_health(routed, &self.clock, self.call_timeout, channel.query(order))
            .await
            .map_err(DeskError::Channel)
    }

    /// Refunds `payment` on its channel (idempotent by [`stampede_core::refund_key`]).
    pub async fn refund(&self, payment: &Payment) -> Result<RefundReceipt, DeskError> {
        let routed = self
            .router
            .admit(&payment.channel, self.clock.monotonic())
            .map_err(admit_error)?;
        let channel = routed.channel();
        let key = stampede_core::refund_key(payment);
        call_with_health(
            routed,
            &self.clock,
            self.call_timeout,
            channel.refund(payment, &key),
        )
        .await
        .map_err(DeskError::Channel)
    }

    /// Whether a read of `order` may trigger a channel query now (at most once per
    /// [`READ_QUERY_INTERVAL`] per order, at most [`MAX_READ_QUERY_ORDERS`] remembered).
    pub fn read_query_allowed(&self, order: OrderId) -> bool {
        let now = self.clock.monotonic();
        let mut seen = self.read_queries.lock();
        if let Some(&last) = seen.get(&order) {
            if now.saturating_sub(last) < READ_QUERY_INTERVAL {
                return false;
            }
        } else if seen.len() >= MAX_READ_QUERY_ORDERS {
            seen.retain(|_, &mut last| now.saturating_sub(last) < READ_QUERY_INTERVAL);
            if seen.len() >= MAX_READ_QUERY_ORDERS {
                return false;
            }
        }
        seen.insert(order, now);
        true
    }
}

fn admit_error(e: AdmitError) -> DeskError {
    match e {
        AdmitError::UnknownChannel(_) => DeskError::UnknownChannel,
        AdmitError::OutOfRotation { retry_after, .. } => DeskError::NoChannel { retry_after },
    }
}
