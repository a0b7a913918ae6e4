//! Checks of a ledger against itself and against the world's books, run after every step and
//! every reopen ([`ledger`]), and once everything has settled at the end ([`settled`]).

use stampede_core::{Ledger, OrderState, PaymentKind, RefundStatus, UnixMillis, reconcile};

use crate::model::orders;
use crate::world::{Channel, Provider};

/// Every step: the ledger's own invariants (stock, per-user limits, red-packet money, the
/// payment index), reconciliation of the ledger against itself, and the money rules against
/// the world: the ledger holds only payments the channel took, for the order they were made
/// for; a payment the channel refunded never settles an order; a packet the provider paid out
/// is `claiming` or `claimed` under that payout, and a `claimed` packet was paid out.
pub(crate) fn ledger(ledger: &Ledger, channel: &Channel, provider: &Provider, now: UnixMillis) {
    ledger.assert_invariants();
    let report = reconcile(ledger, &[], now);
    assert_eq!(
        report.discrepancy_total, 0,
        "the ledger does not reconcile:\n{report}"
    );
    for campaign in ledger.campaigns() {
        for entry in campaign.payments() {
            let order = campaign.order_at(entry.order_index).expect("paid order").id;
            let txn = &entry.payment.txn_id;
            let taken = channel.find(txn);
            assert!(
                taken.is_some_and(|t| t.order == order && t.payment == entry.payment),
                "the ledger holds {txn} for {order}, which the channel never took"
            );
            if entry.kind == PaymentKind::Settled {
                assert_eq!(
                    channel.refunded(txn),
                    None,
                    "{txn}, refunded at the channel, settles {order}"
                );
            }
        }
    }
    for (order, (payout, _)) in provider.paid() {
        let state = ledger.order(*order).map(|o| o.state);
        match state {
            Some(OrderState::Claiming) => {}
            Some(OrderState::Claimed) => assert_eq!(
                ledger.payout_id(*order).as_ref(),
                Some(payout),
                "{order} claimed under another payout than the provider's"
            ),
            other => panic!("{order} was paid out by the provider and is {other:?}"),
        }
    }
    for campaign in ledger.campaigns().filter(|c| c.pool().is_some()) {
        for order in orders(campaign).filter(|o| o.state == OrderState::Claimed) {
            assert!(
                provider.query(order.id).is_some(),
                "{} is claimed but the provider never paid it",
                order.id
            );
        }
    }
}

/// After a durable step: the writer's expiry pass left no order past its deadline.
pub(crate) fn nothing_overdue(ledger: &Ledger, now: UnixMillis) {
    for campaign in ledger.campaigns() {
        for order in orders(campaign) {
            assert!(
                order.expires_at.is_none_or(|deadline| deadline > now),
                "{} is {:?} past its deadline after an expiry pass",
                order.id,
                order.state
            );
        }
    }
}

/// What the ledger holds once everything settled, summed over campaigns.
#[derive(Debug, Default)]
struct Totals {
    payments: usize,
    recorded_cents: u64,
    refunded_cents: u64,
    paid_cents: u64,
    claimed_cents: u64,
    refunds: usize,
}

/// Once every deadline passed, every payment was delivered, every refund confirmed and every
/// claim resolved: every seckill item is back in stock unless paid (returned exactly once),
/// every packet is `claimed` (paid out once, by the provider) or `claim_expired`, money
/// balances in the ledger and at the channel (`taken − refunded == paid orders`), every late
/// or duplicate payment was refunded exactly once and no settling one was, and the ledger
/// reconciles against the channel's statement.
pub(crate) fn settled(ledger: &Ledger, channel: &Channel, provider: &Provider, now: UnixMillis) {
    let mut totals = Totals::default();
    for campaign in ledger.campaigns() {
        let mut paid = 0;
        for (index, order) in orders(campaign).enumerate() {
            let settled = matches!(
                order.state,
                OrderState::Paid
                    | OrderState::Cancelled
                    | OrderState::Expired
                    | OrderState::Refunded
                    | OrderState::Claimed
                    | OrderState::ClaimExpired
            );
            assert!(settled, "{} still {:?} at the end", order.id, order.state);
            let settling = campaign.settled_payment_of(index as u32).is_some();
            assert_eq!(settling, order.state == OrderState::Paid, "{}", order.id);
            if order.state == OrderState::Paid {
                paid += 1;
                totals.paid_cents += order.amount_cents.0;
            }
            if order.state == OrderState::Claimed {
                let payout = provider.paid().get(&order.id);
                assert_eq!(
                    payout.map(|(id, cents)| (Some(id.clone()), *cents)),
                    Some((ledger.payout_id(order.id), order.amount_cents)),
                    "{} claimed without its payout",
                    order.id
                );
                totals.claimed_cents += order.amount_cents.0;
            }
        }
        match campaign.pool() {
            None => assert_eq!(
                campaign.remaining() + paid,
                campaign.total(),
                "{}: stock not returned exactly once",
                campaign.id()
            ),
            Some(pool) => {
                let drawn: u64 = orders(campaign).map(|o| o.amount_cents.0).sum();
                let total = match campaign.spec() {
                    stampede_core::CampaignSpec::RedPacket(r) => r.total_cents.0,
                    stampede_core::CampaignSpec::Seckill(_) => unreachable!("a pool"),
                };
                assert_eq!(drawn + pool.remaining_cents.0, total, "packets lost money");
            }
        }
        for entry in campaign.payments() {
            let txn = &entry.payment.txn_id;
            totals.payments += 1;
            totals.recorded_cents += entry.payment.amount_cents.0;
            match (&entry.refund, entry.kind) {
                (None, PaymentKind::Settled) => {
                    assert_eq!(channel.refunded(txn), None, "settling {txn} refunded");
                }
                (Some(RefundStatus::Refunded { refund_id, .. }), _) => {
                    assert_eq!(Some(refund_id.as_str()), channel.refunded(txn), "{txn}");
                    totals.refunded_cents += entry.payment.amount_cents.0;
                    totals.refunds += 1;
                }
                (refund, kind) => panic!("{kind:?} payment {txn} ends with {refund:?}"),
            }
        }
    }
    assert_eq!(
        totals.recorded_cents - totals.refunded_cents,
        totals.paid_cents,
        "the ledger's money does not balance: {totals:?}"
    );
    let taken = channel.taken();
    assert_eq!(
        totals.payments,
        taken.len(),
        "a payment the channel took is not recorded"
    );
    assert_eq!(
        totals.refunds,
        channel.refund_count(),
        "refunds differ from the channel's"
    );
    let taken_cents: u64 = taken.iter().map(|t| t.payment.amount_cents.0).sum();
    assert_eq!(
        taken_cents - totals.refunded_cents,
        totals.paid_cents,
        "the channel kept other money than the paid orders'"
    );
    let paid_out: u64 = provider.paid().values().map(|(_, cents)| cents.0).sum();
    assert_eq!(
        paid_out, totals.claimed_cents,
        "the provider paid out other money"
    );
    assert_eq!(ledger.pending_refunds(1), vec![], "refunds left");
    let report = reconcile(ledger, &[channel.statement()], now);
    assert_eq!(
        report.discrepancy_total, 0,
        "the ledger and the channel disagree:\n{report}"
    );
}
