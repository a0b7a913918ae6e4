//! A campaign's money: payments, refunds and `paying` orders, kept in its
//! [`PaymentBook`](crate::payment_book) and checked against its orders.

use super::{Campaign, OrderSlot};
use crate::channel_name::ChannelName;
use crate::money::{Cents, UnixMillis};
use crate::order::OrderState;
use crate::payment::Payment;
use crate::payment::PaymentKind;
use crate::payment_book::{PaymentEntry, RefundStatus};

impl Campaign {
    /// The payment recorded for (channel, txn_id).
    pub fn payment(&self, channel: &ChannelName, txn_id: &str) -> Option<&PaymentEntry> {
        self.book.find(channel, txn_id)
    }

    /// Every payment recorded in this campaign, in record order.
    pub fn payments(&self) -> &[PaymentEntry] {
        self.book.entries()
    }

    /// The position in [`Campaign::payments`] of the payment recorded for (channel, txn_id).
    pub(crate) fn payment_position(&self, channel: &ChannelName, txn_id: &str) -> Option<usize> {
        self.book.find_index(channel, txn_id).map(|at| at as usize)
    }

    /// The payment that paid the order at `index`.
    pub fn settled_payment_of(&self, index: u32) -> Option<&PaymentEntry> {
        self.book.settled_of(index)
    }

    /// The late and duplicate payments of the order at `index`.
    pub fn extra_payments_of(&self, index: u32) -> impl Iterator<Item = &PaymentEntry> {
        self.book.extras_of(index)
    }

    /// Refunds opened and not yet confirmed by their channel.
    pub fn pending_refund_count(&self) -> usize {
        self.book.pending_refund_count()
    }

    /// Every payment whose refund is still pending.
    pub fn pending_refunds(&self) -> impl Iterator<Item = &PaymentEntry> {
        self.book.pending_refunds()
    }

    /// The channels the order at `index` is `paying` on.
    pub fn paying_channels(&self, index: u32) -> &[ChannelName] {
        self.book.paying_channels(index)
    }

    pub(crate) fn extra_payment_count(&self, index: u32) -> usize {
        self.book.extra_count(index)
    }

    pub(crate) fn take_stale_paying(
        &mut self,
        due: UnixMillis,
        next: UnixMillis,
        max: usize,
    ) -> Vec<u32> {
        self.book.take_stale_paying(due, next, max)
    }

    fn slot_in(&self, index: u32, what: &'static str) -> Result<&OrderSlot, &'static str> {
        self.orders.get(index as usize).ok_or(what)
    }

    /// Whether the order at `index`, now in `from`, may start paying on `channel` at `at`:
    /// before its payment deadline, from `pending_payment`, or from `paying` on a channel not
    /// yet used (bounded).
    pub(crate) fn check_payment_start(
        &self,
        index: u32,
        from: OrderState,
        channel: &ChannelName,
        at: UnixMillis,
    ) -> Result<(), &'static str> {
        let slot = self.slot_in(index, "payment start of an order that does not exist")?;
        if slot.state != from {
            return Err("payment start from a state the order is not in");
        }
        if self
            .expires_at(index)
            .is_some_and(|deadline| deadline <= at)
        {
            return Err("payment start at or after the order's deadline");
        }
        let channels = self.book.paying_channels(index);
        match from {
            OrderState::PendingPayment => Ok(()),
            OrderState::Paying if channels.contains(channel) => {
                Err("payment started twice on one channel")
            }
            OrderState::Paying if channels.len() >= crate::MAX_CHANNELS_PER_ORDER => {
                Err("payment started on too many channels")
            }
            OrderState::Paying => Ok(()),
            _ => Err("payment start of an order that is not awaiting payment"),
        }
    }

    /// Applies a checked payment start: the order is `paying` on `channel` (too).
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_payment_start`] would reject it: the ledger checks
    /// first, once.
    pub(crate) fn apply_payment_start(
        &mut self,
        index: u32,
        from: OrderState,
        channel: &ChannelName,
        at: UnixMillis,
    ) {
        debug_assert_eq!(
            self.check_payment_start(index, from, channel, at),
            Ok(()),
            "payment start checked"
        );
        self.orders[index as usize].state = OrderState::Paying;
        self.book.start_paying(index, channel, at);
        self.assert_counts();
    }

    /// Whether `payment` may be recorded as `kind` for the order at `index`, now in `from`:
    /// the amount matches, and `from` fits the kind (`pending_payment` or `paying` for a
    /// settling payment, `paid` for a duplicate, a closed seckill state for a late one, within
    /// [`crate::MAX_EXTRA_PAYMENTS_PER_ORDER`]). That the transaction is new, in this campaign
    /// and every other, the ledger checks with its transaction index (one lookup for both).
    pub(crate) fn check_payment(
        &self,
        index: u32,
        from: OrderState,
        kind: PaymentKind,
        payment: &Payment,
    ) -> Result<(), &'static str> {
        let slot = self.slot_in(index, "payment of an order that does not exist")?;
        if slot.state != from {
            return Err("payment of an order in another state");
        }
        if slot.amount_cents != payment.amount_cents {
            return Err("payment amount differs from the order");
        }
        if kind != PaymentKind::Settled
            && self.book.extra_count(index) >= crate::MAX_EXTRA_PAYMENTS_PER_ORDER
        {
            return Err("too many late or duplicate payments for one order");
        }
        if payment_kind_for(from) != Some(kind) {
            return Err("payment kind does not fit the order's state");
        }
        Ok(())
    }

    /// Applies a checked payment. A settling one moves the order to `paid` (it stays live); a
    /// late one moves the closed order to `refund_pending` (still closed: no stock moves); a
    /// duplicate one leaves the order `paid`. Late and duplicate payments open a refund.
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_payment`] would reject it: the ledger checks
    /// first, once.
    pub(crate) fn apply_payment(
        &mut self,
        index: u32,
        from: OrderState,
        kind: PaymentKind,
        payment: &Payment,
        at: UnixMillis,
    ) {
        debug_assert_eq!(
            self.check_payment(index, from, kind, payment),
            Ok(()),
            "payment checked"
        );
        let to = match kind {
            PaymentKind::Settled => OrderState::Paid,
            PaymentKind::Late => OrderState::RefundPending,
            PaymentKind::Duplicate => OrderState::Paid,
        };
        self.orders[index as usize].state = to;
        self.book.insert(PaymentEntry {
            order_index: index,
            payment: payment.clone(),
            kind,
            refund: (kind != PaymentKind::Settled).then_some(RefundStatus::Pending),
            recorded_at: at,
        });
        self.assert_counts();
    }

    /// Whether the refund of (channel, txn_id) of the order at `index` may be confirmed.
    pub(crate) fn check_refund(
        &self,
        index: u32,
        channel: &ChannelName,
        txn_id: &str,
    ) -> Result<(), &'static str> {
        self.slot_in(index, "refund of an order that does not exist")?;
        self.book.check_refund(index, channel, txn_id)
    }

    /// Applies a checked refund confirmation; a `refund_pending` order whose refunds are all
    /// confirmed becomes `refunded`.
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_refund`] would reject it: the ledger checks
    /// first, once.
    pub(crate) fn apply_refund(
        &mut self,
        index: u32,
        channel: &ChannelName,
        txn_id: &str,
        refund_id: String,
        at: UnixMillis,
    ) {
        debug_assert_eq!(
            self.check_refund(index, channel, txn_id),
            Ok(()),
            "refund checked"
        );
        self.book.confirm_refund(channel, txn_id, refund_id, at);
        let slot = &mut self.orders[index as usize];
        if slot.state == OrderState::RefundPending && !self.book.has_pending_refund(index) {
            slot.state = OrderState::Refunded;
        }
        self.assert_counts();
    }

    /// Payments against orders: a paid order has exactly one settling payment and nothing
    /// else does; every extra payment is on a `paid` (duplicate) or closed (late) order; a
    /// `refund_pending` order has a pending refund and a `refunded` one has none; exactly the
    /// `paying` orders have channels and a place in the query schedule; amounts match.
    pub(super) fn check_payment_invariants(&self) -> Result<(), String> {
        self.book.check_invariants()?;
        ensure!(
            self.book
                .paying_orders()
                .all(|i| (i as usize) < self.orders.len()),
            "a paying entry for an order that does not exist"
        );
        ensure!(
            self.book
                .entries()
                .iter()
                .all(|e| (e.order_index as usize) < self.orders.len()),
            "a payment for an order that does not exist"
        );
        let queued = self.book.queued();
        for (i, slot) in self.orders.iter().enumerate() {
            let i = i as u32;
            let settled = self.book.settled_of(i);
            ensure!(
                settled.is_some() == (slot.state == OrderState::Paid),
                "a paid order without its payment, or a payment on an unpaid order"
            );
            for e in settled.into_iter().chain(self.book.extras_of(i)) {
                ensure!(e.order_index == i, "a payment filed under another order");
                ensure!(
                    e.payment.amount_cents == slot.amount_cents,
                    "payment amount differs from the order's"
                );
            }
            let pending = self.book.has_pending_refund(i);
            match slot.state {
                OrderState::RefundPending => ensure!(pending, "refund_pending without a refund"),
                OrderState::Refunded => ensure!(!pending, "refunded with a refund pending"),
                OrderState::Paid => {}
                _ => ensure!(
                    self.book.extra_count(i) == 0,
                    "extra payment on an open order"
                ),
            }
            let paying = !self.book.paying_channels(i).is_empty();
            ensure!(
                paying == (slot.state == OrderState::Paying),
                "paying channels out of step"
            );
            if paying {
                ensure!(queued.contains(&i), "a paying order never queried");
            }
        }
        Ok(())
    }

    /// State and amount of the order at `index`: what reconciliation scans, without deriving
    /// the id or cloning the user.
    pub(crate) fn state_and_amount(&self, index: u32) -> Option<(OrderState, Cents)> {
        self.orders
            .get(index as usize)
            .map(|slot| (slot.state, slot.amount_cents))
    }
}

/// What a payment reaching an order in `state` comes to (`None`: it cannot be recorded, e.g.
/// a red packet).
pub(crate) fn payment_kind_for(state: OrderState) -> Option<PaymentKind> {
    match state {
        OrderState::PendingPayment | OrderState::Paying => Some(PaymentKind::Settled),
        OrderState::Paid => Some(PaymentKind::Duplicate),
        OrderState::Cancelled
        | OrderState::Expired
        | OrderState::RefundPending
        | OrderState::Refunded => Some(PaymentKind::Late),
        OrderState::Won | OrderState::Claiming | OrderState::Claimed | OrderState::ClaimExpired => {
            None
        }
    }
}
