//! The simulated customer of a `pay`: what the dice decide it does (decline, pay once or
//! twice, pay late, its callbacks repeated or dropped), played out on a task of its own whose
//! payments are reserved in the books until made.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use stampede_core::{Cents, OrderId};

use super::Inner;
use super::config::PPM;

/// What a customer will do, drawn when `pay` is called.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub(super) pays: bool,
    pub(super) pays_twice: bool,
    pub(super) callback_twice: bool,
    pub(super) late: bool,
    pub(super) drop_callbacks: bool,
}

impl Plan {
    pub(super) fn payments(self) -> usize {
        usize::from(self.pays) * (1 + usize::from(self.pays_twice))
    }
    pub(super) fn callbacks(self) -> u64 {
        (self.payments() + usize::from(self.pays && self.callback_twice)) as u64
    }
}

impl Inner {
    /// Draws a customer's behaviour: always five draws, in this order.
    pub(super) fn plan(&self) -> Plan {
        let config = &self.config;
        let mut rng = self.rng.lock();
        Plan {
            pays: !roll(&mut rng, config.decline_rate_ppm),
            pays_twice: roll(&mut rng, config.duplicate_payment_rate_ppm),
            callback_twice: roll(&mut rng, config.duplicate_callback_rate_ppm),
            late: roll(&mut rng, config.late_rate_ppm),
            drop_callbacks: roll(&mut rng, config.drop_callback_rate_ppm),
        }
    }

    /// Spawns the customer, whose payments are reserved; with no room for another task the
    /// customer pays at once and its callbacks are dropped.
    pub(super) fn start_customer(this: &Arc<Self>, order: OrderId, amount: Cents, plan: Plan) {
        let previous = this.pending.fetch_add(1, Ordering::SeqCst);
        if previous >= this.max_pending {
            this.pending.fetch_sub(1, Ordering::SeqCst);
            let at = this.clock.now();
            let mut book = this.book.lock();
            for _ in 0..plan.payments() {
                this.record(&mut book, order, amount, at);
            }
            drop(book);
            this.drop_callbacks(plan.callbacks(), "overloaded");
            return;
        }
        let pending = PendingGuard {
            inner: Arc::clone(this),
            unpaid: plan.payments(),
        };
        tokio::spawn(customer(order, amount, plan, pending));
    }
}

/// The simulated customer: waits, pays (once or twice), and the channel delivers.
async fn customer(order: OrderId, amount: Cents, plan: Plan, mut pending: PendingGuard) {
    let inner = Arc::clone(&pending.inner);
    tokio::time::sleep(Duration::from_millis(inner.config.pay_delay_ms)).await;
    let (first, second) = {
        let at = inner.clock.now();
        let mut book = inner.book.lock();
        let first = inner.record(&mut book, order, amount, at);
        let second = plan
            .pays_twice
            .then(|| inner.record(&mut book, order, amount, at));
        pending.unpaid = 0;
        (first, second)
    };
    if plan.drop_callbacks {
        inner.drop_callbacks(plan.callbacks(), "simulated");
        return;
    }
    if plan.late {
        tokio::time::sleep(Duration::from_millis(inner.config.late_delay_ms)).await;
    }
    if plan.callback_twice {
        inner.deliver(order, first.clone()).await;
    }
    inner.deliver(order, first).await;
    if let Some(second) = second {
        inner.deliver(order, second).await;
    }
}

/// Counts one customer task, and the payments reserved for it; released when the task ends,
/// or is dropped unfinished with its runtime (then its reservations are given back).
struct PendingGuard {
    inner: Arc<Inner>,
    /// Payments reserved and not made yet.
    unpaid: usize,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.unpaid > 0 {
            self.inner.book.lock().release(self.unpaid);
        }
        self.inner.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `true` with probability `ppm` parts per million; always one draw.
pub(super) fn roll(rng: &mut ChaCha8Rng, ppm: u32) -> bool {
    rng.random_range(0..PPM) < ppm
}
