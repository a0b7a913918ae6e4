//! The payout seam: how a red packet's money leaves, and a simulated provider.
//!
//! A payout call is I/O, so it never runs in the writer thread: [`crate::Engine::claim`]
//! journals `claiming` through the writer, calls the provider from the caller's task, then
//! journals the result through the writer. The idempotency key is the order id, so a repeated
//! call (a retry, a restart) can never pay a packet twice, and a `claiming` order left by a
//! crash is resolved with [`Payout::query`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use stampede_core::{Cents, OrderId, PayoutId, UserId};

/// A payout call's future (boxed so the trait stays object-safe; a real provider is async).
pub type PayoutFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The provider's answer to a successful payout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutReceipt {
    /// The provider's id of the payout.
    pub payout_id: PayoutId,
}

/// Why a payout call did not answer a receipt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// Definitely not paid (declined, invalid account): the claim goes back to `won`.
    #[error("payout declined: {0}")]
    Declined(String),
    /// Outcome unknown (timeout, provider down): the claim stays `claiming` and is resolved
    /// later through [`Payout::query`].
    #[error("payout outcome unknown: {0}")]
    Unknown(String),
}

/// A payment provider that pays red packets out.
pub trait Payout: Send + Sync + std::fmt::Debug {
    /// Pays `amount` to `user` for `order`. A repeated call with the same `idempotency_key`
    /// pays nothing more and answers the first receipt.
    fn pay<'a>(
        &'a self,
        order: OrderId,
        user: &'a UserId,
        amount: Cents,
        idempotency_key: &'a str,
    ) -> PayoutFuture<'a, Result<PayoutReceipt, PayoutError>>;

    /// The payout made under `idempotency_key`, if any (`Ok(None)`: definitely none).
    fn query<'a>(
        &'a self,
        idempotency_key: &'a str,
    ) -> PayoutFuture<'a, Result<Option<PayoutReceipt>, PayoutError>>;
}

/// Most payouts the simulated provider remembers: one per packet of the largest campaign
/// ([`stampede_core::MAX_PACKETS`]) times a few campaigns; past it, new payouts are declined.
pub const MAX_SIMULATED_PAYOUTS: usize = 4_000_000;

/// Longest latency the simulated provider may be given ([`SimulatedPayout::with_latency`]):
/// 60 s, well past the claims' payout timeout.
pub const MAX_SIMULATED_PAYOUT_LATENCY_MS: u64 = 60_000;

/// An in-process provider: payouts in a map keyed by idempotency key. Failures can be
/// injected for tests.
#[derive(Debug, Default)]
pub struct SimulatedPayout {
    payouts: Mutex<HashMap<String, PayoutReceipt>>,
    /// Put in every payout id after `sim-` (a cluster node's id), so two nodes' providers
    /// never mint the same id.
    prefix: String,
    /// How long a payout call takes before the payout is made (a call dropped sooner, as by
    /// the claims' timeout, pays nothing).
    latency: std::time::Duration,
    sequence: AtomicU64,
    decline_next: AtomicBool,
    fail_after_paying_next: AtomicBool,
}

impl SimulatedPayout {
    /// An empty provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty provider whose payout ids are `sim-<prefix>-<n>` (a cluster node's id: one
    /// provider per node, shared by its shards, like the one provider a real deployment
    /// calls from every node).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            prefix: format!("{prefix}-"),
            ..Self::default()
        }
    }

    /// The same provider, each payout call taking `latency` before the payout is made (at
    /// most [`MAX_SIMULATED_PAYOUT_LATENCY_MS`]; the config checks it).
    pub fn with_latency(self, latency: std::time::Duration) -> Self {
        Self { latency, ..self }
    }

    /// Payouts made so far (each idempotency key counts once).
    pub fn payout_count(&self) -> usize {
        self.payouts.lock().len()
    }

    /// Declines the next new payout (a definite failure).
    pub fn decline_next(&self) {
        self.decline_next.store(true, Ordering::SeqCst);
    }

    /// Makes the next new payout, then answers `Unknown` (the answer was lost).
    pub fn fail_after_paying_next(&self) {
        self.fail_after_paying_next.store(true, Ordering::SeqCst);
    }

    fn pay_now(&self, key: &str) -> Result<PayoutReceipt, PayoutError> {
        let mut payouts = self.payouts.lock();
        if let Some(receipt) = payouts.get(key) {
            return Ok(receipt.clone());
        }
        if self.decline_next.swap(false, Ordering::SeqCst) {
            return Err(PayoutError::Declined("injected decline".into()));
        }
        if payouts.len() >= MAX_SIMULATED_PAYOUTS {
            return Err(PayoutError::Declined("simulated provider is full".into()));
        }
        let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let payout_id =
            PayoutId::parse(format!("sim-{}{n}", self.prefix)).expect("a short ascii id");
        let receipt = PayoutReceipt { payout_id };
        payouts.insert(key.to_owned(), receipt.clone());
        if self.fail_after_paying_next.swap(false, Ordering::SeqCst) {
            return Err(PayoutError::Unknown("injected lost answer".into()));
        }
        Ok(receipt)
    }
}

impl Payout for SimulatedPayout {
    fn pay<'a>(
        &'a self,
        _order: OrderId,
        _user: &'a UserId,
        _amount: Cents,
        idempotency_key: &'a str,
    ) -> PayoutFuture<'a, Result<PayoutReceipt, PayoutError>> {
        if self.latency.is_zero() {
            return Box::pin(std::future::ready(self.pay_now(idempotency_key)));
        }
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            self.pay_now(idempotency_key)
        })
    }

    fn query<'a>(
        &'a self,
        idempotency_key: &'a str,
    ) -> PayoutFuture<'a, Result<Option<PayoutReceipt>, PayoutError>> {
        let found = self.payouts.lock().get(idempotency_key).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_provider_puts_its_prefix_in_every_payout_id() {
        let (order, user) = (OrderId(7), UserId::parse("u").unwrap());
        let pay = |provider: &SimulatedPayout, key: &str| {
            futures_executor(provider.pay(order, &user, Cents(1), key))
                .unwrap()
                .payout_id
        };
        let node = SimulatedPayout::with_prefix("node-2");
        assert_eq!(pay(&node, "a").as_str(), "sim-node-2-1");
        assert_eq!(pay(&node, "b").as_str(), "sim-node-2-2");
        assert_eq!(
            pay(&node, "a").as_str(),
            "sim-node-2-1",
            "same key, same payout"
        );
        assert_eq!(pay(&SimulatedPayout::new(), "a").as_str(), "sim-1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_provider_pays_after_its_latency_and_not_if_the_call_is_dropped() {
        let (order, user) = (OrderId(7), UserId::parse("u").unwrap());
        let slow = SimulatedPayout::new().with_latency(std::time::Duration::from_secs(6));
        let cut = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            slow.pay(order, &user, Cents(1), "a"),
        );
        assert!(cut.await.is_err(), "cut off by the timeout");
        assert_eq!(
            futures_executor(slow.query("a")).unwrap(),
            None,
            "nothing paid"
        );
        let paid = slow.pay(order, &user, Cents(1), "a").await.unwrap();
        assert_eq!(futures_executor(slow.query("a")).unwrap(), Some(paid));
    }

    /// The simulated provider's futures are ready at once.
    fn futures_executor<T>(future: PayoutFuture<'_, T>) -> T {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = future;
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => unreachable!("a simulated payout is ready at once"),
        }
    }
}
