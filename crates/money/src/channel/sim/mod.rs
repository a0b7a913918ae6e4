//! [`SimChannel`]: a simulated payment channel whose misbehaviour is configured
//! ([`SimChannelConfig`]), seeded and bounded, so one seed reproduces a run.
//!
//! `pay` answers instructions; with `auto_pay` a simulated customer then pays after
//! `pay_delay_ms` (or never: `decline_rate_ppm`), sometimes twice (`duplicate_payment_rate_ppm`),
//! and the channel delivers the callback to its [`CallbackSink`]: sometimes twice
//! (`duplicate_callback_rate_ppm`), late (`late_rate_ppm`), or never
//! (`drop_callback_rate_ppm`, so only `query` finds the payment). Every random decision of a
//! call is drawn when the call is made, a fixed number of draws per call, from one
//! `ChaCha8Rng`: the same seed and the same calls give the same story, and changing one rate
//! does not reshuffle the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::{Cents, ChannelName, OrderId, Payment, UnixMillis};

use self::book::Book;
pub use self::book::Minted;
use self::config::SimChannelConfig;
use self::customer::roll;
use super::{
    CallbackSink, ChannelError, ChannelFuture, PayInstructions, PaymentChannel, RefundReceipt,
};
use stampede_clock::Clock;

mod book;
mod books;
pub(super) mod config;
mod customer;
mod store;

pub use books::{books_file_name, channel_of_books_file, read_books_statement};

/// Most payments the simulator remembers (made, or promised to a customer who has not paid
/// yet); past it `pay` answers `Declined("simulator full")`. Four million is one payment per
/// unit of the largest campaigns times a few, like [`crate::payout::MAX_SIMULATED_PAYOUTS`].
/// Refunds are bounded by it too: a payment is refunded at most once.
pub const MAX_SIM_TRANSACTIONS: usize = 4_000_000;

/// Most simulated customers (each a task that pays, then delivers its callbacks) waiting at
/// once. A flash sale starts tens of thousands of payments in a second, and each waits
/// `pay_delay_ms`; 100,000 tasks is a few tens of MiB. Past it the customer pays at once and
/// the callbacks are dropped (counted): the query path must recover them, as it must in life.
pub const MAX_PENDING_DELIVERIES: usize = 100_000;

/// A line of a channel's statement (the core's type: reconciliation reads it directly).
pub use stampede_core::StatementLine;

/// A simulated payment channel. See the [module docs](self).
#[derive(Debug)]
pub struct SimChannel {
    /// Shared with the customer tasks, which outlive the call that spawned them.
    inner: Arc<Inner>,
}

struct Inner {
    config: SimChannelConfig,
    /// `config.name`, checked.
    name: ChannelName,
    clock: Arc<dyn Clock>,
    rng: Mutex<ChaCha8Rng>,
    book: Mutex<Book>,
    /// Orders with a payment session (one per order, at most [`MAX_SIM_TRANSACTIONS`]).
    sessions: Mutex<std::collections::HashSet<OrderId>>,
    /// The books on disk ([`SimChannel::open`]); `None`: in memory only.
    store: Option<Mutex<store::Store>>,
    /// Where callbacks go: the payments service in front of the engine of the moment.
    sink: Mutex<Option<Arc<dyn CallbackSink>>>,
    /// Calls still to fail by [`SimChannel::fail_next`].
    fail_next: AtomicU32,
    /// Customer tasks spawned and not finished (at most `max_pending`).
    pending: AtomicUsize,
    /// [`MAX_PENDING_DELIVERIES`], lower in tests.
    max_pending: usize,
    delivered: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimChannel")
            .field("config", &self.config)
            .field("payments", &self.book.lock().payment_count())
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .field("sink_set", &self.sink.lock().is_some())
            .finish_non_exhaustive()
    }
}

impl SimChannel {
    /// A channel with nothing paid yet and no sink (callbacks are dropped until
    /// [`set_sink`](Self::set_sink)). `clock` stamps `paid_at`.
    ///
    /// # Panics
    /// If `config` fails [`SimChannelConfig::validate`]; validate config at load time to
    /// report it as an error instead.
    pub fn new(config: SimChannelConfig, clock: Arc<dyn Clock>) -> Self {
        Self::with_limits(config, clock, MAX_SIM_TRANSACTIONS, MAX_PENDING_DELIVERIES)
    }

    /// [`new`](Self::new) with lower bounds, so tests can reach them.
    pub(crate) fn with_limits(
        config: SimChannelConfig,
        clock: Arc<dyn Clock>,
        max_transactions: usize,
        max_pending: usize,
    ) -> Self {
        if let Err(error) = config.validate() {
            panic!("SimChannel::new: {error}");
        }
        let name = config.name.clone();
        assert!(max_transactions <= MAX_SIM_TRANSACTIONS && max_pending <= MAX_PENDING_DELIVERIES);
        let book = Book::new(max_transactions);
        let inner = Inner {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
            config,
            name,
            clock,
            book: Mutex::new(book),
            sessions: Mutex::default(),
            store: None,
            sink: Mutex::new(None),
            fail_next: AtomicU32::new(0),
            pending: AtomicUsize::new(0),
            max_pending,
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// [`new`](Self::new), keeping the channel's books in the file at `path` (created if
    /// missing) and starting from what it holds: the channel remembers its payments and
    /// refunds across restarts of our server, as a real channel does, and so the payment
    /// session of every order it holds a payment for (a session whose customer had not paid
    /// yet is not stored: it ends with the process, as its customer task does).
    ///
    /// # Errors
    /// The file cannot be read or written, or holds a line it cannot read.
    pub fn open(
        config: SimChannelConfig,
        clock: Arc<dyn Clock>,
        path: &std::path::Path,
    ) -> std::io::Result<Self> {
        let mut channel = Self::new(config, clock);
        let (store, loaded) = store::Store::open(path, &channel.inner.name)?;
        let inner = Arc::get_mut(&mut channel.inner).expect("a new channel is not shared yet");
        let book = inner.book.get_mut();
        if loaded.payments.len() > MAX_SIM_TRANSACTIONS {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "sim channel store holds more than MAX_SIM_TRANSACTIONS payments",
            ));
        }
        // An order the channel holds a payment for had its payment session: a `pay` for it
        // after the restart answers that session again and starts no second customer, as
        // before the restart. Bounded like the payments, checked above.
        let sessions = inner.sessions.get_mut();
        for (order, payment) in loaded.payments {
            sessions.insert(order);
            book.restore_payment(order, payment);
        }
        for (key, txn, receipt) in loaded.refunds {
            book.restore_refund(key, txn, receipt);
        }
        inner.store = Some(Mutex::new(store));
        Ok(channel)
    }

    /// Puts `scope` in every transaction id the channel mints (`<name>-<scope>-<n>` instead of
    /// `<name>-<n>`): on a cluster each node runs its own desk for a shard, and ids minted by
    /// two desks must never meet in the shard's ledger (a txn is recorded for one order only),
    /// while each desk's statement covers just the ids it minted ([`Self::txn_prefix`]).
    ///
    /// # Panics
    /// If the channel is shared already: the scope is set before it is used.
    #[must_use]
    pub fn with_txn_scope(mut self, scope: &str) -> Self {
        let inner = Arc::get_mut(&mut self.inner)
            .expect("SimChannel::with_txn_scope: the scope is set before the channel is shared");
        inner.book.get_mut().set_txn_scope(scope.to_owned());
        self
    }

    /// The start of every transaction id this channel mints, when it has a scope
    /// ([`Self::with_txn_scope`]): what its statement covers. `None`: it covers every id.
    pub fn txn_prefix(&self) -> Option<String> {
        self.inner.book.lock().txn_prefix(&self.inner.name)
    }

    /// Which desk minted `txn_id` (a scoped channel's own ids, another desk's, or unscoped).
    pub fn minted_by(&self, txn_id: &str) -> Minted {
        self.inner.book.lock().minted_by(&self.inner.name, txn_id)
    }

    /// Where callbacks go from now on, in place of any earlier sink: a cluster node keeps
    /// one desk per shard for its life, and its channels deliver to the payments service of
    /// whichever engine (leader or follower) serves the shard now; a customer task still
    /// waiting delivers to the sink of the moment it delivers.
    pub fn set_sink(&self, sink: Arc<dyn CallbackSink>) {
        *self.inner.sink.lock() = Some(sink);
    }

    /// Test hook: the customer pays `amount` for `order` now, and no callback is delivered
    /// (deliver one with [`deliver_callback`](Self::deliver_callback)). No latency, no
    /// injected failure; `Declined` only when the simulator is full.
    pub fn pay_now(&self, order: OrderId, amount: Cents) -> Result<Payment, ChannelError> {
        let at = self.inner.clock.now();
        let mut book = self.inner.book.lock();
        book.reserve(1)?;
        Ok(self.inner.record(&mut book, order, amount, at))
    }

    /// Test hook: delivers a callback for `payment` to the sink now; `false` if no sink is set.
    pub async fn deliver_callback(&self, order: OrderId, payment: Payment) -> bool {
        self.inner.deliver(order, payment).await
    }

    /// Makes the next `calls` calls (`pay`, `query` or `refund`) answer `Unavailable`,
    /// before doing anything.
    pub fn fail_next(&self, calls: u32) {
        self.inner.fail_next.store(calls, Ordering::SeqCst);
    }

    /// The payments made for `order`, oldest first (no latency, no failure).
    pub fn payments_of(&self, order: OrderId) -> Vec<Payment> {
        self.inner.book.lock().payments_of(order)
    }

    /// Payments made so far.
    pub fn payment_count(&self) -> usize {
        self.inner.book.lock().payment_count()
    }

    /// Refunds made so far (each idempotency key counts once).
    pub fn refund_count(&self) -> usize {
        self.inner.book.lock().refund_count()
    }

    /// Customer tasks still waiting to pay or to deliver.
    pub fn pending_deliveries(&self) -> usize {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Callbacks delivered to the sink (duplicates included).
    pub fn delivered_callbacks(&self) -> u64 {
        self.inner.delivered.load(Ordering::SeqCst)
    }

    /// Callbacks not delivered: simulated drops, no sink set, or no room for a task.
    pub fn dropped_callbacks(&self) -> u64 {
        self.inner.dropped.load(Ordering::SeqCst)
    }

    /// Every successful payment, refunded ones included, in time order (ties in the order
    /// made): what the channel's settlement file would say.
    pub fn statement(&self) -> Vec<StatementLine> {
        self.inner.book.lock().statement()
    }
}

impl PaymentChannel for SimChannel {
    fn name(&self) -> &ChannelName {
        &self.inner.name
    }

    fn pay<'a>(
        &'a self,
        order: OrderId,
        amount: Cents,
    ) -> ChannelFuture<'a, Result<PayInstructions, ChannelError>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.call().await?;
            if amount == Cents(0) {
                return Err(ChannelError::Declined("amount must be positive".into()));
            }
            // Like a real channel with the merchant's order number, one payment session per
            // order: asking again answers the same instructions and starts no second customer
            // (a customer paying twice is `duplicate_payment_rate_ppm`, or two channels).
            if !inner.sessions.lock().contains(&order) {
                let plan = inner.plan();
                let payments = if inner.config.auto_pay {
                    plan.payments()
                } else {
                    0
                };
                {
                    let mut sessions = inner.sessions.lock();
                    if sessions.len() >= MAX_SIM_TRANSACTIONS {
                        return Err(ChannelError::Declined("simulator full".into()));
                    }
                    if !sessions.insert(order) {
                        // A concurrent pay of the same order started the session first.
                        return Ok(inner.instructions(order, amount));
                    }
                }
                if let Err(full) = inner.book.lock().reserve(payments) {
                    inner.sessions.lock().remove(&order);
                    return Err(full);
                }
                if payments > 0 {
                    Inner::start_customer(inner, order, amount, plan);
                }
            }
            Ok(inner.instructions(order, amount))
        })
    }

    fn query<'a>(
        &'a self,
        order: OrderId,
    ) -> ChannelFuture<'a, Result<Vec<Payment>, ChannelError>> {
        Box::pin(async move {
            self.inner.call().await?;
            Ok(self.payments_of(order))
        })
    }

    fn refund<'a>(
        &'a self,
        payment: &'a Payment,
        idempotency_key: &'a str,
    ) -> ChannelFuture<'a, Result<RefundReceipt, ChannelError>> {
        Box::pin(async move {
            self.inner.call().await?;
            let name = &self.inner.name;
            let mut book = self.inner.book.lock();
            let before = book.refund_count();
            let receipt = book.refund(name, payment, idempotency_key)?;
            if let Some(store) = &self.inner.store
                && book.refund_count() > before
            {
                store
                    .lock()
                    .refund(idempotency_key, &payment.txn_id, &receipt);
            }
            Ok(receipt)
        })
    }
}

impl Inner {
    /// What a client needs to pay `order` on this channel.
    fn instructions(&self, order: OrderId, amount: Cents) -> PayInstructions {
        PayInstructions {
            channel: self.name.clone(),
            pay_url: format!("sim://{}/pay/{order}?amount_cents={}", self.name, amount.0),
            amount_cents: amount,
        }
    }

    /// Makes one payment out of a reservation and keeps it in the store, if any.
    fn record(&self, book: &mut Book, order: OrderId, amount: Cents, at: UnixMillis) -> Payment {
        let payment = book.record(&self.name, order, amount, at);
        if let Some(store) = &self.store {
            store.lock().payment(order, &payment);
        }
        payment
    }

    /// What every call does first: wait the latency, then fail if injected or drawn.
    async fn call(&self) -> Result<(), ChannelError> {
        if self.config.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.config.latency_ms)).await;
        }
        let drawn = roll(&mut self.rng.lock(), self.config.failure_rate_ppm);
        let injected = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if injected || drawn {
            return Err(ChannelError::Unavailable("simulated outage".into()));
        }
        Ok(())
    }

    async fn deliver(&self, order: OrderId, payment: Payment) -> bool {
        let Some(sink) = self.sink.lock().clone() else {
            self.drop_callbacks(1, "no_sink");
            return false;
        };
        sink.deliver(order, payment).await;
        self.delivered.fetch_add(1, Ordering::SeqCst);
        true
    }

    fn drop_callbacks(&self, count: u64, reason: &'static str) {
        self.dropped.fetch_add(count, Ordering::SeqCst);
        metrics::counter!("stampede_channel_callbacks_dropped_total",
            "channel" => self.name.to_string(), "reason" => reason)
        .increment(count);
    }
}
