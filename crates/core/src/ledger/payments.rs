//! The ledger's money decisions: starting a payment, recording what a channel reported
//! (settling, late or duplicate), confirming refunds, and finding `paying` orders whose
//! callback is overdue. Same "decide, then apply" shape as the rest of the ledger.

use crate::campaign::payment_kind_for;
use crate::channel_name::ChannelName;
use crate::ids::{OrderId, UserId};
use crate::money::UnixMillis;
use crate::order::{InvalidTransition, OrderState};
use crate::outcome::OrderOutcome;
use crate::payment::{Payment, PaymentKind, PaymentOutcome};
use crate::payment_book::{PaymentEntry, validate_refund_id};
use crate::record::Record;

use super::{ApplyError, Ledger, TxnPlace, txn_pair};
use crate::decision::Decision;

/// A `paying` order to ask its channels about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StalePaying {
    /// The order.
    pub order_id: OrderId,
    /// The channels its payment was started on.
    pub channels: Vec<ChannelName>,
}

/// A late or duplicate payment whose refund the channel has not confirmed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRefund {
    /// The order it was paid for.
    pub order_id: OrderId,
    /// The payment to refund.
    pub payment: Payment,
}

impl Ledger {
    /// Decides the start of a payment of `order_id` by its user `by` on `channel`:
    /// `pending_payment` → `paying` (the record must be durable before answering). An order
    /// already `paying` on that channel answers `Moved` again without a record (the client may
    /// ask for its payment details twice); on another channel it records that channel too, so
    /// both are queried. Another user's order answers `NotFound`; an order past its payment
    /// deadline, or in any other state, answers `InvalidTransition` and changes nothing.
    pub fn start_payment(
        &mut self,
        order_id: OrderId,
        by: &UserId,
        channel: &ChannelName,
        now: UnixMillis,
    ) -> Decision<OrderOutcome> {
        let rejected = Decision::unchanged;
        let Some(order) = self.order(order_id) else {
            return rejected(OrderOutcome::NotFound);
        };
        if *by != order.user_id {
            return rejected(OrderOutcome::NotFound);
        }
        let invalid = InvalidTransition {
            from: order.state,
            to: OrderState::Paying,
        };
        if order.expires_at.is_some_and(|deadline| deadline <= now) {
            return rejected(OrderOutcome::InvalidTransition(invalid));
        }
        let (slot, index) = self.place_of(order_id).expect("the order exists");
        let campaign = &self.campaigns[slot as usize];
        if order.state == OrderState::Paying && campaign.paying_channels(index).contains(channel) {
            return rejected(OrderOutcome::Moved(order));
        }
        if campaign
            .check_payment_start(index, order.state, channel, now)
            .is_err()
        {
            return rejected(OrderOutcome::InvalidTransition(invalid));
        }
        let record = Record::PaymentStarted {
            campaign_id: order.campaign_id,
            order_id,
            from: order.state,
            channel: channel.to_owned(),
            at: now,
        };
        self.apply(&record)
            .expect("a freshly decided payment start applies");
        let after = self.order(order_id).expect("the order exists");
        Decision::recorded(OrderOutcome::Moved(after), record)
    }

    /// Decides a verified channel payment of `order_id` and applies it, returning the record
    /// to journal first. What it comes to depends on the order:
    /// - `pending_payment` / `paying` → `paid` (a payment reaching a `paying` order whose
    ///   deadline passed but which has not expired yet is accepted: the money came first);
    /// - already `paid` by another transaction → a duplicate: recorded, refund opened, the
    ///   order stays `paid`;
    /// - closed (cancelled, expired, refunded) → late: recorded, refund opened, the order
    ///   moves to `refund_pending` and stays closed (its stock is not taken back).
    ///
    /// The same (channel, txn_id) again answers `AlreadyRecorded` without a record; a
    /// different amount answers `AmountMismatch`; a red packet `InvalidTransition`; past
    /// [`crate::MAX_EXTRA_PAYMENTS_PER_ORDER`] extra payments `TooManyPayments`; a channel
    /// name or transaction id that breaks the rules `InvalidPayment` (checked first: a
    /// channel's query answer reaches here unchecked). None of those changes anything.
    pub fn record_payment(
        &mut self,
        order_id: OrderId,
        payment: Payment,
        now: UnixMillis,
    ) -> Decision<PaymentOutcome> {
        let rejected = Decision::unchanged;
        if let Err(invalid) = payment.validate() {
            return rejected(PaymentOutcome::InvalidPayment(invalid));
        }
        let Some(order) = self.order(order_id) else {
            return rejected(PaymentOutcome::NotFound);
        };
        let (slot, index) = self.place_of(order_id).expect("the order exists");
        if let Some(place) = self.txn_place(&payment.channel, &payment.txn_id) {
            let entry = &self.campaigns[place.slot as usize].payments()[place.entry as usize];
            if place.slot != slot || entry.order_index != index {
                return rejected(PaymentOutcome::TxnConflict);
            }
            if entry.payment.amount_cents != payment.amount_cents {
                let expected = entry.payment.amount_cents;
                return rejected(PaymentOutcome::AmountMismatch { expected });
            }
            let kind = entry.kind;
            return rejected(PaymentOutcome::AlreadyRecorded { order, kind });
        }
        let campaign = &self.campaigns[slot as usize];
        if payment.amount_cents != order.amount_cents {
            return rejected(PaymentOutcome::AmountMismatch {
                expected: order.amount_cents,
            });
        }
        let Some(kind) = payment_kind_for(order.state) else {
            let invalid = InvalidTransition {
                from: order.state,
                to: OrderState::Paid,
            };
            return rejected(PaymentOutcome::InvalidTransition(invalid));
        };
        if kind != PaymentKind::Settled
            && campaign.extra_payment_count(index) >= crate::MAX_EXTRA_PAYMENTS_PER_ORDER
        {
            return rejected(PaymentOutcome::TooManyPayments);
        }
        let record = match kind {
            PaymentKind::Settled => Record::PaymentRecorded {
                campaign_id: order.campaign_id,
                order_id,
                from: order.state,
                payment,
                at: now,
            },
            PaymentKind::Late | PaymentKind::Duplicate => Record::ExtraPaymentRecorded {
                campaign_id: order.campaign_id,
                order_id,
                kind,
                from: order.state,
                payment,
                at: now,
            },
        };
        self.apply(&record)
            .expect("a freshly decided payment applies");
        let order = self.order(order_id).expect("the order exists");
        Decision::recorded(PaymentOutcome::Recorded { order, kind }, record)
    }

    /// Decides the channel's confirmation of the refund of (channel, txn_id) paid for
    /// `order_id`; answers `false` (nothing to journal) if that payment has no pending refund
    /// (already confirmed, or unknown), or if `refund_id` breaks [`crate::validate_refund_id`]
    /// (the refund stays pending and is asked for again).
    pub fn confirm_refund(
        &mut self,
        order_id: OrderId,
        payment: &Payment,
        refund_id: String,
        now: UnixMillis,
    ) -> Decision<bool> {
        let unchanged = Decision::unchanged(false);
        if validate_refund_id(&refund_id).is_err() {
            return unchanged;
        }
        let Some((slot, index)) = self.place_of(order_id) else {
            return unchanged;
        };
        let campaign = &self.campaigns[slot as usize];
        if campaign
            .check_refund(index, &payment.channel, &payment.txn_id)
            .is_err()
        {
            return unchanged;
        }
        let record = Record::RefundConfirmed {
            campaign_id: campaign.id(),
            order_id,
            channel: payment.channel.clone(),
            txn_id: payment.txn_id.clone(),
            refund_id,
            at: now,
        };
        self.apply(&record)
            .expect("a freshly decided refund applies");
        Decision::recorded(true, record)
    }

    /// `paying` orders that started paying (or were last queried) `older_than_millis` ago or
    /// more, at most `max`, oldest first; each is queued to be offered again after another
    /// `older_than_millis` if still `paying`. Not journaled: after a restart every `paying`
    /// order is due again from its start.
    pub fn take_stale_paying(
        &mut self,
        now: UnixMillis,
        older_than_millis: u64,
        max: usize,
    ) -> Vec<StalePaying> {
        let due = UnixMillis(now.0.saturating_sub(older_than_millis));
        let mut stale = Vec::new();
        for campaign in &mut self.campaigns {
            if stale.len() >= max {
                break;
            }
            for index in campaign.take_stale_paying(due, now, max - stale.len()) {
                stale.push(StalePaying {
                    order_id: campaign.order_id(index),
                    channels: campaign.paying_channels(index).to_vec(),
                });
            }
        }
        stale
    }

    /// Late and duplicate payments whose refund is not confirmed yet, at most `max`.
    pub fn pending_refunds(&self, max: usize) -> Vec<PendingRefund> {
        self.campaigns
            .iter()
            .filter(|c| c.pending_refund_count() > 0)
            .flat_map(|c| {
                c.pending_refunds().map(|e| PendingRefund {
                    order_id: c.order_id(e.order_index),
                    payment: e.payment.clone(),
                })
            })
            .take(max)
            .collect()
    }

    /// Refunds opened and not yet confirmed, across campaigns.
    pub fn pending_refund_count(&self) -> usize {
        self.campaigns
            .iter()
            .map(|c| c.pending_refund_count())
            .sum()
    }

    /// The channels `order_id` is `paying` on (empty if it is not `paying`).
    pub fn paying_channels(&self, order_id: OrderId) -> Vec<ChannelName> {
        self.place_of(order_id)
            .map(|(slot, index)| {
                self.campaigns[slot as usize]
                    .paying_channels(index)
                    .to_vec()
            })
            .unwrap_or_default()
    }

    /// Every payment recorded for `order_id`: the settling one first, then late or duplicate
    /// ones in record order.
    pub fn payments_of(&self, order_id: OrderId) -> Vec<PaymentEntry> {
        let Some((slot, index)) = self.place_of(order_id) else {
            return Vec::new();
        };
        let campaign = &self.campaigns[slot as usize];
        campaign
            .settled_payment_of(index)
            .into_iter()
            .chain(campaign.extra_payments_of(index))
            .cloned()
            .collect()
    }

    /// Where (channel, txn_id) was recorded, in any campaign.
    pub(super) fn txn_place(&self, channel: &ChannelName, txn_id: &str) -> Option<TxnPlace> {
        self.txn_index
            .find(channel.as_str(), txn_id, txn_pair(&self.campaigns))
    }

    /// Applies one of the payment records (checked fully first).
    pub(super) fn apply_payment_record(&mut self, record: &Record) -> Result<(), ApplyError> {
        let (campaign_id, order_id) = match record {
            Record::PaymentStarted {
                campaign_id,
                order_id,
                ..
            }
            | Record::PaymentRecorded {
                campaign_id,
                order_id,
                ..
            }
            | Record::ExtraPaymentRecorded {
                campaign_id,
                order_id,
                ..
            }
            | Record::RefundConfirmed {
                campaign_id,
                order_id,
                ..
            } => (*campaign_id, *order_id),
            _ => unreachable!("only payment records come here"),
        };
        let fail = |why: &str| ApplyError(format!("order {order_id}: {why}"));
        let (slot, index) = self
            .place_of(order_id)
            .ok_or_else(|| fail("payment record of an unknown order"))?;
        let recorded = match record {
            Record::PaymentRecorded { payment, .. }
            | Record::ExtraPaymentRecorded { payment, .. } => Some(payment),
            _ => None,
        };
        let txn_hash = recorded.map(|p| self.txn_index.hash(p.channel.as_str(), &p.txn_id));
        if let (Some(payment), Some(hash)) = (recorded, txn_hash)
            && let Some(place) = self.txn_index.find_hashed(
                hash,
                payment.channel.as_str(),
                &payment.txn_id,
                txn_pair(&self.campaigns),
            )
        {
            return Err(fail(if place.slot == slot {
                "payment transaction recorded twice"
            } else {
                "transaction already recorded in another campaign"
            }));
        }
        let campaign = &mut self.campaigns[slot as usize];
        if campaign.id() != campaign_id {
            return Err(fail("not in the campaign the record names"));
        }
        match record {
            Record::PaymentStarted {
                from, channel, at, ..
            } => {
                campaign
                    .check_payment_start(index, *from, channel, *at)
                    .map_err(fail)?;
                campaign.apply_payment_start(index, *from, channel, *at);
            }
            Record::PaymentRecorded {
                from, payment, at, ..
            } => {
                payment.validate().map_err(|e| fail(&e.to_string()))?;
                campaign
                    .check_payment(index, *from, PaymentKind::Settled, payment)
                    .map_err(fail)?;
                campaign.apply_payment(index, *from, PaymentKind::Settled, payment, *at);
            }
            Record::ExtraPaymentRecorded {
                kind,
                from,
                payment,
                at,
                ..
            } => {
                payment.validate().map_err(|e| fail(&e.to_string()))?;
                if *kind == PaymentKind::Settled {
                    return Err(fail("a settling payment recorded as an extra one"));
                }
                campaign
                    .check_payment(index, *from, *kind, payment)
                    .map_err(fail)?;
                campaign.apply_payment(index, *from, *kind, payment, *at);
            }
            Record::RefundConfirmed {
                channel,
                txn_id,
                refund_id,
                at,
                ..
            } => {
                validate_refund_id(refund_id).map_err(|e| fail(&e.to_string()))?;
                campaign
                    .check_refund(index, channel, txn_id)
                    .map_err(fail)?;
                campaign.apply_refund(index, channel, txn_id, refund_id.clone(), *at);
            }
            _ => unreachable!("only payment records come here"),
        }
        if let Some(hash) = txn_hash {
            let entry = self.campaigns[slot as usize].payments().len() - 1;
            let entry = u32::try_from(entry).expect("payments bounded by the stock");
            self.txn_index
                .insert(hash, TxnPlace { slot, entry }, txn_pair(&self.campaigns));
        }
        Ok(())
    }
}
