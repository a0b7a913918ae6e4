//! [`Book`]: the simulated channel's books, every payment made and every refund, bounded
//! by [`MAX_SIM_TRANSACTIONS`](super::MAX_SIM_TRANSACTIONS). Pure: no lock, no clock, no I/O.

use std::collections::HashMap;

use stampede_core::{Cents, ChannelName, OrderId, Payment, UnixMillis};

use super::StatementLine;
use crate::channel::{ChannelError, RefundReceipt};

/// Longest refund idempotency key, in bytes: keys are remembered, so they are bounded; an
/// order id or a txn id with a prefix fits with room to spare.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// The channel's books.
#[derive(Debug)]
pub(super) struct Book {
    /// In the order made.
    payments: Vec<Held>,
    by_order: HashMap<OrderId, Vec<usize>>,
    by_txn: HashMap<String, usize>,
    /// Idempotency key → (txn id refunded, receipt).
    refunds: HashMap<String, (String, RefundReceipt)>,
    /// Payments promised to customer tasks and not made yet.
    reserved: usize,
    /// [`MAX_SIM_TRANSACTIONS`](super::MAX_SIM_TRANSACTIONS), lower in tests.
    max_transactions: usize,
    txn_sequence: u64,
    refund_sequence: u64,
    /// What this channel's transaction ids carry after its name (see
    /// [`SimChannel::with_txn_scope`](super::SimChannel::with_txn_scope)); `None`: nothing.
    txn_scope: Option<String>,
}

#[derive(Debug)]
struct Held {
    order: OrderId,
    payment: Payment,
    refunded: bool,
}

impl Book {
    /// Empty books that hold at most `max_transactions` payments.
    pub(super) fn new(max_transactions: usize) -> Self {
        Self {
            payments: Vec::new(),
            by_order: HashMap::new(),
            by_txn: HashMap::new(),
            refunds: HashMap::new(),
            reserved: 0,
            max_transactions,
            txn_sequence: 0,
            refund_sequence: 0,
            txn_scope: None,
        }
    }

    /// Puts `scope` in every transaction id minted from now on.
    pub(super) fn set_txn_scope(&mut self, scope: String) {
        self.txn_scope = Some(scope);
    }

    /// The start every transaction id minted from now on shares, when scoped.
    pub(super) fn txn_prefix(&self, name: &ChannelName) -> Option<String> {
        (self.txn_scope.as_ref()).map(|scope| format!("{name}-{scope}-"))
    }

    /// Who minted `txn_id`, by the shape [`Book::record`]'s ids take: `<name>-<n>` unscoped,
    /// `<name>-<scope>-<n>` scoped (this book's scope, or another desk's). A book without a
    /// scope (a single node's) answers `Unscoped`: it takes no part in scoping.
    pub(super) fn minted_by(&self, name: &ChannelName, txn_id: &str) -> Minted {
        let rest = (txn_id.strip_prefix(name.as_str())).and_then(|r| r.strip_prefix('-'));
        let (Some(rest), Some(scope)) = (rest, &self.txn_scope) else {
            return Minted::Unscoped;
        };
        let ours = rest.strip_prefix(scope.as_str());
        if ours.is_some_and(|n| n.starts_with('-')) {
            Minted::Here
        } else if rest.bytes().all(|b| b.is_ascii_digit()) {
            Minted::Unscoped
        } else {
            Minted::OtherDesk
        }
    }

    /// Payments made.
    pub(super) fn payment_count(&self) -> usize {
        self.payments.len()
    }

    /// Refunds made (each idempotency key once).
    pub(super) fn refund_count(&self) -> usize {
        self.refunds.len()
    }

    /// Holds room for `payments` more payments (at least one is checked, so a full
    /// simulator declines every `pay`).
    pub(super) fn reserve(&mut self, payments: usize) -> Result<(), ChannelError> {
        if self.payments.len() + self.reserved + payments.max(1) > self.max_transactions {
            return Err(ChannelError::Declined("simulator full".into()));
        }
        self.reserved += payments;
        Ok(())
    }

    /// Gives back `payments` reserved and never to be made.
    pub(super) fn release(&mut self, payments: usize) {
        self.reserved = (self.reserved.checked_sub(payments))
            .expect("sim channel: released more than was reserved");
    }

    /// Makes one payment out of a reservation.
    pub(super) fn record(
        &mut self,
        name: &ChannelName,
        order: OrderId,
        amount: Cents,
        at: UnixMillis,
    ) -> Payment {
        self.reserved = (self.reserved.checked_sub(1))
            .expect("sim channel: a payment made without a reservation");
        self.txn_sequence += 1;
        let payment = Payment {
            channel: name.clone(),
            txn_id: match &self.txn_scope {
                None => format!("{name}-{}", self.txn_sequence),
                Some(scope) => format!("{name}-{scope}-{}", self.txn_sequence),
            },
            amount_cents: amount,
            paid_at: at,
        };
        debug_assert_eq!(payment.validate(), Ok(()));
        let index = self.payments.len();
        self.by_order.entry(order).or_default().push(index);
        self.by_txn.insert(payment.txn_id.clone(), index);
        self.payments.push(Held {
            order,
            payment: payment.clone(),
            refunded: false,
        });
        assert!(
            self.payments.len() + self.reserved <= self.max_transactions,
            "sim channel: more payments than MAX_SIM_TRANSACTIONS"
        );
        payment
    }

    /// Puts back a payment read from the channel's store (in the order made).
    pub(super) fn restore_payment(&mut self, order: OrderId, payment: Payment) {
        let index = self.payments.len();
        self.by_order.entry(order).or_default().push(index);
        self.by_txn.insert(payment.txn_id.clone(), index);
        self.payments.push(Held {
            order,
            payment,
            refunded: false,
        });
        self.txn_sequence += 1;
    }

    /// Puts back a refund read from the channel's store.
    pub(super) fn restore_refund(&mut self, key: String, txn_id: String, receipt: RefundReceipt) {
        if let Some(&index) = self.by_txn.get(&txn_id) {
            self.payments[index].refunded = true;
        }
        self.refunds.insert(key, (txn_id, receipt));
        self.refund_sequence += 1;
    }

    pub(super) fn payments_of(&self, order: OrderId) -> Vec<Payment> {
        let indexes = self.by_order.get(&order).map_or(&[][..], Vec::as_slice);
        indexes
            .iter()
            .map(|&i| self.payments[i].payment.clone())
            .collect()
    }

    pub(super) fn refund(
        &mut self,
        name: &ChannelName,
        payment: &Payment,
        key: &str,
    ) -> Result<RefundReceipt, ChannelError> {
        let decline = |why: &str| Err(ChannelError::Declined(why.to_owned()));
        if let Some((txn_id, receipt)) = self.refunds.get(key) {
            if *txn_id != payment.txn_id {
                return decline("idempotency key already used for another transaction");
            }
            return Ok(receipt.clone());
        }
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
            return decline("idempotency key must be 1 to 128 bytes");
        }
        let index = self.by_txn.get(&payment.txn_id).copied();
        let Some(index) = index.filter(|_| payment.channel == *name) else {
            return decline("unknown transaction");
        };
        let held = &mut self.payments[index];
        if held.payment.amount_cents != payment.amount_cents {
            return decline("amount differs from the transaction's");
        }
        if held.refunded {
            return decline("already refunded");
        }
        held.refunded = true;
        self.refund_sequence += 1;
        let receipt = RefundReceipt {
            refund_id: format!("{name}r-{}", self.refund_sequence),
        };
        self.refunds
            .insert(key.to_owned(), (payment.txn_id.clone(), receipt.clone()));
        Ok(receipt)
    }

    /// Every payment, refunded ones included, in time order (ties in the order made).
    pub(super) fn statement(&self) -> Vec<StatementLine> {
        let mut lines: Vec<StatementLine> = (self.payments.iter())
            .map(|held| StatementLine {
                txn_id: held.payment.txn_id.clone(),
                order_id: held.order,
                amount_cents: held.payment.amount_cents,
                at: held.payment.paid_at,
            })
            .collect();
        lines.sort_by_key(|line| line.at); // stable: ties stay in the order made
        lines
    }
}

/// Which desk minted a transaction id of a simulated channel ([`Book::minted_by`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Minted {
    /// This channel, under its own scope.
    Here,
    /// The same channel of another desk (another node or shard): a scope not this one's.
    OtherDesk,
    /// No scope (a single node's id, or not this channel's shape at all).
    Unscoped,
}
