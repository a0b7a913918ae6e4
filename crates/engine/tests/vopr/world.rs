//! The world outside the process: a payment channel and a payout provider. Each keeps its own
//! books, which outlive every crash of ours (another company's database would), so after a
//! restart the simulation can hold the recovered ledger to what really happened to money.

use std::collections::BTreeMap;

use stampede_core::{
    Cents, OrderId, Payment, PayoutId, Statement, StatementLine, UnixMillis, refund_key,
};

/// The channel's name, as payments record it.
pub(crate) const CHANNEL: &str = "sim";
/// Most payments a customer makes at the channel for one order: one settles it, the rest are
/// duplicates or late, well under the ledger's `MAX_EXTRA_PAYMENTS_PER_ORDER` (8) so each is
/// recorded.
pub(crate) const MAX_PAYMENTS_PER_ORDER: usize = 4;

/// A payment the channel took.
#[derive(Clone, Debug)]
pub(crate) struct Taken {
    /// The order the customer paid.
    pub order: OrderId,
    /// The payment as the channel reports it.
    pub payment: Payment,
    /// Whether a delivery of its callback was acknowledged (the channel retries until then).
    pub acknowledged: bool,
}

/// The payment channel's books: what it took, and what it refunded under which key.
#[derive(Debug, Default)]
pub(crate) struct Channel {
    taken: Vec<Taken>,
    /// txn id → index in `taken`.
    by_txn: BTreeMap<String, usize>,
    /// Refund key → (txn id, the refund id answered for that key).
    refunds: BTreeMap<String, (String, String)>,
}

impl Channel {
    /// The customer pays `order` now.
    pub(crate) fn pay(&mut self, order: OrderId, amount: Cents, now: UnixMillis) -> Payment {
        let payment = Payment {
            channel: stampede_core::ChannelName::parse(CHANNEL).unwrap(),
            txn_id: format!("t-{}", self.taken.len()),
            amount_cents: amount,
            paid_at: now,
        };
        self.by_txn.insert(payment.txn_id.clone(), self.taken.len());
        self.taken.push(Taken {
            order,
            payment: payment.clone(),
            acknowledged: false,
        });
        payment
    }

    /// Every payment taken, in the order made.
    pub(crate) fn taken(&self) -> &[Taken] {
        &self.taken
    }

    /// The payment with this txn id, if the channel took it.
    pub(crate) fn find(&self, txn: &str) -> Option<&Taken> {
        self.by_txn.get(txn).map(|&i| &self.taken[i])
    }

    /// Whether the channel took exactly `payment` for `order`.
    pub(crate) fn is_genuine(&self, order: OrderId, payment: &Payment) -> bool {
        self.find(&payment.txn_id)
            .is_some_and(|taken| taken.order == order && taken.payment == *payment)
    }

    /// Payments taken for `order` (what a query answers).
    pub(crate) fn payments_of(&self, order: OrderId) -> Vec<Payment> {
        (self.taken.iter())
            .filter(|t| t.order == order)
            .map(|t| t.payment.clone())
            .collect()
    }

    /// Notes that a delivery of the callback of `txn` was acknowledged.
    pub(crate) fn acknowledge(&mut self, txn: &str) {
        if let Some(&i) = self.by_txn.get(txn) {
            self.taken[i].acknowledged = true;
        }
    }

    /// Refunds `payment` of `order` under its refund key: a new key refunds once, a repeated
    /// key answers the first receipt and refunds nothing more.
    ///
    /// # Panics
    /// If the channel never took that payment for that order (the engine asked to give back
    /// money it never received), or if the payment was already refunded under another key.
    pub(crate) fn refund(&mut self, order: OrderId, payment: &Payment) -> String {
        assert!(
            self.is_genuine(order, payment),
            "refund of a payment the channel never took for {order}: {payment:?}"
        );
        let key = refund_key(payment);
        if let Some((_, receipt)) = self.refunds.get(&key) {
            return receipt.clone();
        }
        assert!(
            self.refunded(&payment.txn_id).is_none(),
            "a second refund of {} under another key",
            payment.txn_id
        );
        let receipt = format!("r-{}", self.refunds.len());
        self.refunds
            .insert(key, (payment.txn_id.clone(), receipt.clone()));
        receipt
    }

    /// The refund id of `txn`'s refund, if the channel refunded it.
    pub(crate) fn refunded(&self, txn: &str) -> Option<&str> {
        (self.refunds.values())
            .find(|(refunded, _)| refunded == txn)
            .map(|(_, receipt)| receipt.as_str())
    }

    /// Number of refunds made.
    pub(crate) fn refund_count(&self) -> usize {
        self.refunds.len()
    }

    /// The channel's statement of everything it took.
    pub(crate) fn statement(&self) -> Statement {
        Statement {
            channel: stampede_core::ChannelName::parse(CHANNEL).unwrap(),
            lines: (self.taken.iter())
                .map(|t| StatementLine {
                    txn_id: t.payment.txn_id.clone(),
                    order_id: t.order,
                    amount_cents: t.payment.amount_cents,
                    at: t.payment.paid_at,
                })
                .collect(),
            covers_until: None,
            txn_prefix: None,
        }
    }
}

/// The payout provider's books: one payout per packet, its idempotency key the order id.
#[derive(Debug, Default)]
pub(crate) struct Provider {
    paid: BTreeMap<OrderId, (PayoutId, Cents)>,
}

impl Provider {
    /// Pays `order` out (or answers the payout already made under its key).
    pub(crate) fn pay(&mut self, order: OrderId, amount: Cents) -> PayoutId {
        let count = self.paid.len();
        let (payout, paid) = self.paid.entry(order).or_insert_with(|| {
            let id = PayoutId::parse(format!("po-{count}")).expect("a valid payout id");
            (id, amount)
        });
        assert_eq!(*paid, amount, "a packet paid out with another amount");
        payout.clone()
    }

    /// The payout made for `order`, if any (what a query answers).
    pub(crate) fn query(&self, order: OrderId) -> Option<PayoutId> {
        self.paid.get(&order).map(|(payout, _)| payout.clone())
    }

    /// Every payout made.
    pub(crate) fn paid(&self) -> &BTreeMap<OrderId, (PayoutId, Cents)> {
        &self.paid
    }
}
