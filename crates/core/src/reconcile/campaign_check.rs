//! One campaign against itself: every order and every payment read once, the sums and the
//! order ↔ payment pairing recomputed from them, nothing taken from the campaign's counters
//! except to compare. O(orders + payments) time, 2 bytes per order of scratch.

use std::collections::BTreeMap;

use crate::money::Cents;
use crate::order::OrderState;
use crate::payment::PaymentKind;
use crate::payment_book::{PaymentEntry, RefundStatus};

use super::arithmetic::{PacketFigures, StockFigures, packet_problems, stock_problem};
use super::books::{CampaignBooks, CampaignFigures};
use super::discrepancy::{Discrepancy, DiscrepancyCode, Findings};
use super::report::{CampaignSummary, PendingRefundLine, PendingRefunds, RedPacketSummary};

/// What the payments say about one order (saturating counters: past 255 the count is wrong
/// anyway, and a payment book holds at most 1 + [`crate::MAX_EXTRA_PAYMENTS_PER_ORDER`]).
#[derive(Clone, Copy, Debug, Default)]
struct Marks {
    settled: u8,
    pending_refunds: u8,
}

/// Adds `amount` to `sum`, saturating (a report never panics on absurd books).
fn state_slot(state: OrderState) -> usize {
    OrderState::ALL
        .iter()
        .position(|&s| s == state)
        .expect("ALL lists every state")
}

/// Checks one campaign; records discrepancies and pending refunds, returns its summary.
pub(crate) fn check_campaign<B: CampaignBooks>(
    books: &B,
    findings: &mut Findings,
    pending: &mut PendingRefunds,
) -> CampaignSummary {
    let figures = books.figures();
    let mut summary = empty_summary(&figures);
    let mut marks = vec![Marks::default(); books.order_count() as usize];
    for entry in books.payments() {
        check_payment(books, &figures, entry, &mut marks, &mut summary, findings);
        if entry.refund == Some(RefundStatus::Pending) && (entry.order_index as usize) < marks.len()
        {
            pending.push(|| PendingRefundLine {
                campaign_id: figures.id,
                order_id: books.order_id(entry.order_index),
                channel: entry.payment.channel.clone(),
                txn_id: entry.payment.txn_id.clone(),
                amount_cents: entry.payment.amount_cents,
                kind: entry.kind.code(),
                recorded_at: entry.recorded_at,
            });
        }
    }
    let scan = scan_orders(books, &figures, &marks, findings);
    summary.orders = u64::from(books.order_count());
    summary.live = scan.live;
    summary.released = scan.released;
    summary.paid_orders = scan.count(OrderState::Paid);
    summary.paid_cents = scan.cents(OrderState::Paid);
    summary.states = OrderState::ALL
        .iter()
        .filter(|&&s| scan.count(s) > 0)
        .map(|&s| (s.code(), scan.count(s)))
        .collect();

    let stock = StockFigures {
        total: figures.total,
        remaining: figures.remaining,
        created: summary.orders,
        live: scan.live,
        released: scan.released,
    };
    if let Some(problem) = stock_problem(&stock) {
        findings.push(DiscrepancyCode::StockMismatch, || {
            Discrepancy::new(DiscrepancyCode::StockMismatch, problem).campaign(figures.id)
        });
    }
    if let Some(pool) = figures.pool {
        let packets = PacketFigures {
            total_cents: pool.total_cents.0,
            drawn_cents: scan.drawn_cents.0,
            pool_remaining_cents: pool.remaining_cents.0,
            pool_remaining_count: pool.remaining_count,
            remaining: figures.remaining,
            claim_expired_cents: scan.cents(OrderState::ClaimExpired).0,
            refundable_cents: pool.refundable_cents,
        };
        for (code, problem) in packet_problems(&packets) {
            findings.push(code, || {
                Discrepancy::new(code, problem).campaign(figures.id)
            });
        }
        summary.red_packet = Some(RedPacketSummary {
            total_cents: pool.total_cents,
            drawn_cents: scan.drawn_cents,
            pool_remaining_cents: pool.remaining_cents,
            claimed: scan.count(OrderState::Claimed),
            claimed_cents: scan.cents(OrderState::Claimed),
            claim_expired: scan.count(OrderState::ClaimExpired),
            claim_expired_cents: scan.cents(OrderState::ClaimExpired),
        });
    }
    summary
}

fn empty_summary(figures: &CampaignFigures) -> CampaignSummary {
    CampaignSummary {
        campaign_id: figures.id,
        name: figures.name.clone(),
        kind: figures.kind,
        total: figures.total,
        remaining: figures.remaining,
        orders: 0,
        live: 0,
        released: 0,
        states: BTreeMap::new(),
        paid_orders: 0,
        paid_cents: Cents::ZERO,
        payments: 0,
        payments_cents: Cents::ZERO,
        late_payments: 0,
        duplicate_payments: 0,
        refunds_pending: 0,
        refunds_pending_cents: Cents::ZERO,
        refunded: 0,
        refunded_cents: Cents::ZERO,
        red_packet: None,
    }
}

/// One payment against its order: it names an order, carries its amount, fits its state and
/// kind, and has a refund exactly when it is late or duplicate.
fn check_payment<B: CampaignBooks>(
    books: &B,
    figures: &CampaignFigures,
    entry: &PaymentEntry,
    marks: &mut [Marks],
    summary: &mut CampaignSummary,
    findings: &mut Findings,
) {
    summary.payments += 1;
    summary.payments_cents = summary
        .payments_cents
        .saturating_add(entry.payment.amount_cents);
    match &entry.refund {
        Some(RefundStatus::Pending) => {
            summary.refunds_pending += 1;
            summary.refunds_pending_cents = summary
                .refunds_pending_cents
                .saturating_add(entry.payment.amount_cents);
        }
        Some(RefundStatus::Refunded { .. }) => {
            summary.refunded += 1;
            summary.refunded_cents = summary
                .refunded_cents
                .saturating_add(entry.payment.amount_cents);
        }
        None => {}
    }
    match entry.kind {
        PaymentKind::Settled => {}
        PaymentKind::Late => summary.late_payments += 1,
        PaymentKind::Duplicate => summary.duplicate_payments += 1,
    }
    let report = |findings: &mut Findings, code: DiscrepancyCode, detail: String| {
        findings.push(code, || {
            let d = Discrepancy::new(code, detail)
                .campaign(figures.id)
                .txn(&entry.payment.channel, &entry.payment.txn_id);
            if entry.order_index < books.order_count() {
                d.order(books.order_id(entry.order_index))
            } else {
                d
            }
        });
    };
    let Some(mark) = marks.get_mut(entry.order_index as usize) else {
        let detail = format!(
            "payment names order #{} of a campaign with {} orders",
            entry.order_index,
            books.order_count()
        );
        report(findings, DiscrepancyCode::PaymentUnknownOrder, detail);
        return;
    };
    let (state, amount) = books.order(entry.order_index);
    if entry.payment.amount_cents != amount {
        let detail = format!(
            "payment of {} cents for an order of {} cents",
            entry.payment.amount_cents, amount
        );
        report(findings, DiscrepancyCode::AmountMismatch, detail);
    }
    if entry.refund == Some(RefundStatus::Pending) {
        mark.pending_refunds = mark.pending_refunds.saturating_add(1);
    }
    let has_refund = entry.refund.is_some();
    let fits = match entry.kind {
        PaymentKind::Settled => {
            mark.settled = mark.settled.saturating_add(1);
            state == OrderState::Paid
        }
        PaymentKind::Duplicate => state == OrderState::Paid,
        PaymentKind::Late => !state.is_live(),
    };
    if !fits {
        let detail = format!(
            "{} payment of an order that is {}",
            entry.kind.code(),
            state.code()
        );
        report(findings, DiscrepancyCode::PaymentWithoutPaidOrder, detail);
    }
    if has_refund == (entry.kind == PaymentKind::Settled) {
        let detail = if has_refund {
            "a settling payment carries a refund".to_owned()
        } else {
            format!("{} payment without a refund", entry.kind.code())
        };
        report(findings, DiscrepancyCode::ExtraPaymentWithoutRefund, detail);
    }
}

/// Per-state counts and sums recomputed from the orders.
struct OrderScan {
    counts: [u64; OrderState::ALL.len()],
    cents: [Cents; OrderState::ALL.len()],
    live: u64,
    released: u64,
    drawn_cents: Cents,
}

impl OrderScan {
    fn count(&self, state: OrderState) -> u64 {
        self.counts[state_slot(state)]
    }
    fn cents(&self, state: OrderState) -> Cents {
        self.cents[state_slot(state)]
    }
}

/// Every order once: counts and sums per state, and each order against what its payments
/// said (a paid order has exactly one settling payment; a refund state agrees with its
/// refunds; a claimed packet, and only a claimed one, has a payout).
fn scan_orders<B: CampaignBooks>(
    books: &B,
    figures: &CampaignFigures,
    marks: &[Marks],
    findings: &mut Findings,
) -> OrderScan {
    let mut scan = OrderScan {
        counts: [0; OrderState::ALL.len()],
        cents: [Cents::ZERO; OrderState::ALL.len()],
        live: 0,
        released: 0,
        drawn_cents: Cents::ZERO,
    };
    let red_packet = figures.pool.is_some();
    for (index, mark) in (0..books.order_count()).zip(marks) {
        let (state, amount) = books.order(index);
        let slot = state_slot(state);
        scan.counts[slot] += 1;
        scan.cents[slot] = scan.cents[slot].saturating_add(amount);
        scan.drawn_cents = scan.drawn_cents.saturating_add(amount);
        if state.is_live() {
            scan.live += 1;
        } else {
            scan.released += 1;
        }
        let mut report = |code: DiscrepancyCode, detail: String| {
            findings.push(code, || {
                Discrepancy::new(code, detail)
                    .campaign(figures.id)
                    .order(books.order_id(index))
            });
        };
        match (state, mark.settled) {
            (OrderState::Paid, 0) => report(
                DiscrepancyCode::PaidWithoutPayment,
                "order is paid but no payment settled it".into(),
            ),
            (OrderState::Paid, 1) => {}
            (OrderState::Paid, n) => report(
                DiscrepancyCode::OrderSettledTwice,
                format!("order settled by {n} payments"),
            ),
            _ => {}
        }
        let pending = mark.pending_refunds > 0;
        match state {
            OrderState::RefundPending if !pending => report(
                DiscrepancyCode::RefundStateMismatch,
                "order is refund_pending without a pending refund".into(),
            ),
            OrderState::Refunded if pending => report(
                DiscrepancyCode::RefundStateMismatch,
                "order is refunded with a refund still pending".into(),
            ),
            _ => {}
        }
        let has_payout = red_packet && books.has_payout(index);
        if red_packet && has_payout != (state == OrderState::Claimed) {
            let has = if has_payout { "has" } else { "has no" };
            report(
                DiscrepancyCode::ClaimPayoutMismatch,
                format!("packet is {} and {has} a payout", state.code()),
            );
        }
    }
    scan
}

#[cfg(test)]
mod tests;
