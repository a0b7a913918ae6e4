//! Unit tests of the per-campaign checks, on plain books that break each rule.

use super::*;
use crate::channel_name::ChannelName;
use crate::ids::CampaignId;
use crate::money::UnixMillis;
use crate::payment::Payment;
use crate::reconcile::books::PoolFigures;
use crate::reconcile::books::plain::PlainBooks;
use crate::reconcile::report::CampaignKind;
use OrderState::*;

fn entry(order_index: u32, txn: &str, amount: u64, kind: PaymentKind) -> PaymentEntry {
    PaymentEntry {
        order_index,
        payment: Payment {
            channel: ChannelName::parse("sim").unwrap(),
            txn_id: txn.into(),
            amount_cents: Cents(amount),
            paid_at: UnixMillis(1),
        },
        kind,
        refund: (kind != PaymentKind::Settled).then_some(RefundStatus::Pending),
        recorded_at: UnixMillis(2),
    }
}

fn check(books: &PlainBooks) -> (Findings, PendingRefunds, CampaignSummary) {
    let mut findings = Findings::default();
    let mut pending = PendingRefunds::default();
    let summary = check_campaign(books, &mut findings, &mut pending);
    (findings, pending, summary)
}

fn codes(findings: &Findings) -> Vec<DiscrepancyCode> {
    let (listed, _, _) = findings.clone().into_parts();
    listed.into_iter().map(|d| d.code).collect()
}

/// Total 10: paid (settled), paid with a duplicate, cancelled with a late payment whose
/// refund was confirmed, expired, pending.
fn consistent() -> PlainBooks {
    let mut books = PlainBooks::seckill(
        10,
        7,
        &[
            (Paid, 100),
            (Paid, 100),
            (Refunded, 100),
            (Expired, 100),
            (PendingPayment, 100),
        ],
    );
    let mut late = entry(2, "t3", 100, PaymentKind::Late);
    late.refund = Some(RefundStatus::Refunded {
        refund_id: "r3".into(),
        at: UnixMillis(3),
    });
    books.payments = vec![
        entry(0, "t1", 100, PaymentKind::Settled),
        entry(1, "t2", 100, PaymentKind::Settled),
        entry(1, "t2b", 100, PaymentKind::Duplicate),
        late,
    ];
    books
}

#[test]
fn consistent_books_are_clean_and_summed() {
    let (findings, pending, s) = check(&consistent());
    assert_eq!(codes(&findings), []);
    assert_eq!((s.orders, s.live, s.released, s.remaining), (5, 3, 2, 7));
    assert_eq!((s.paid_orders, s.paid_cents), (2, Cents(200)));
    assert_eq!((s.payments, s.payments_cents), (4, Cents(400)));
    assert_eq!((s.late_payments, s.duplicate_payments), (1, 1));
    assert_eq!(
        (s.refunds_pending, s.refunds_pending_cents),
        (1, Cents(100))
    );
    assert_eq!((s.refunded, s.refunded_cents), (1, Cents(100)));
    assert_eq!(s.states["paid"], 2);
    assert_eq!(s.states.get("cancelled"), None);
    assert_eq!(pending.total, 1);
    assert_eq!(pending.listed[0].txn_id, "t2b");
    assert_eq!(pending.listed[0].kind, "duplicate_payment");
}

#[test]
fn paid_without_payment_and_settled_twice() {
    let mut books = consistent();
    books.payments.remove(0);
    books
        .payments
        .push(entry(1, "t2c", 100, PaymentKind::Settled));
    let (findings, _, _) = check(&books);
    assert_eq!(
        codes(&findings),
        [
            DiscrepancyCode::PaidWithoutPayment,
            DiscrepancyCode::OrderSettledTwice
        ]
    );
}

#[test]
fn payments_that_fit_no_order() {
    let mut books = consistent();
    // A settling payment of a pending order, a duplicate of an expired one, a late one of
    // an open one, and one naming an order that does not exist.
    books
        .payments
        .push(entry(4, "x1", 100, PaymentKind::Settled));
    books
        .payments
        .push(entry(3, "x2", 100, PaymentKind::Duplicate));
    books.payments.push(entry(4, "x3", 100, PaymentKind::Late));
    books
        .payments
        .push(entry(9, "x4", 100, PaymentKind::Settled));
    let (findings, _, s) = check(&books);
    assert_eq!(
        codes(&findings),
        [
            DiscrepancyCode::PaymentWithoutPaidOrder,
            DiscrepancyCode::PaymentWithoutPaidOrder,
            DiscrepancyCode::PaymentWithoutPaidOrder,
            DiscrepancyCode::PaymentUnknownOrder,
        ]
    );
    let (listed, _, _) = findings.into_parts();
    assert_eq!(listed[0].txn_id.as_deref(), Some("x1"));
    assert_eq!(listed[3].order_id, None, "no order to name");
    assert_eq!(s.payments, 8);
}

#[test]
fn refunds_and_amounts() {
    let mut books = consistent();
    books.payments[2].refund = None; // a duplicate never refunded
    books.payments[0].refund = Some(RefundStatus::Pending); // a refund on a settlement
    books.payments[1].payment.amount_cents = Cents(99);
    let (findings, _, _) = check(&books);
    assert_eq!(
        codes(&findings),
        [
            DiscrepancyCode::ExtraPaymentWithoutRefund,
            DiscrepancyCode::AmountMismatch,
            DiscrepancyCode::ExtraPaymentWithoutRefund,
        ]
    );
}

#[test]
fn refund_states_must_agree_with_refunds() {
    let mut books = consistent();
    books.orders[2].0 = RefundPending; // its late payment's refund was confirmed
    let (findings, _, _) = check(&books);
    assert_eq!(codes(&findings), [DiscrepancyCode::RefundStateMismatch]);
    let mut books = consistent();
    books.payments[3].refund = Some(RefundStatus::Pending); // order says refunded
    let (findings, _, _) = check(&books);
    assert_eq!(codes(&findings), [DiscrepancyCode::RefundStateMismatch]);
}

#[test]
fn stock_counter_that_drifted_is_found() {
    let mut books = consistent();
    books.figures.remaining = 8;
    let (findings, _, _) = check(&books);
    assert_eq!(codes(&findings), [DiscrepancyCode::StockMismatch]);
    // An order that became live again after giving its item back.
    let mut books = consistent();
    books.orders[3].0 = PendingPayment;
    let (findings, _, _) = check(&books);
    assert_eq!(codes(&findings), [DiscrepancyCode::StockMismatch]);
}

fn packets() -> PlainBooks {
    let mut books = PlainBooks::seckill(4, 1, &[(Claimed, 40), (ClaimExpired, 25), (Won, 10)]);
    books.figures.kind = CampaignKind::RedPacket;
    books.figures.id = CampaignId(8);
    books.figures.pool = Some(PoolFigures {
        total_cents: Cents(100),
        remaining_cents: Cents(25),
        remaining_count: 1,
        refundable_cents: 25,
    });
    books.payouts = vec![true, false, false];
    books
}

#[test]
fn red_packets_add_up() {
    let (findings, _, s) = check(&packets());
    assert_eq!(codes(&findings), []);
    let r = s.red_packet.unwrap();
    assert_eq!(
        (r.drawn_cents, r.pool_remaining_cents),
        (Cents(75), Cents(25))
    );
    assert_eq!((r.claimed, r.claimed_cents), (1, Cents(40)));
    assert_eq!((r.claim_expired, r.claim_expired_cents), (1, Cents(25)));
}

#[test]
fn red_packet_corruptions_are_found() {
    let mut books = packets();
    books.orders[2].1 = Cents(11);
    books.payouts = vec![false, false, true];
    let (findings, _, _) = check(&books);
    assert_eq!(
        codes(&findings),
        [
            DiscrepancyCode::ClaimPayoutMismatch,
            DiscrepancyCode::ClaimPayoutMismatch,
            DiscrepancyCode::RedPacketSumMismatch,
        ]
    );
    let mut books = packets();
    books.orders[1].0 = Won;
    books.payments.push(entry(0, "p", 40, PaymentKind::Settled));
    let (findings, _, _) = check(&books);
    assert_eq!(
        codes(&findings),
        [
            DiscrepancyCode::PaymentWithoutPaidOrder,
            DiscrepancyCode::RefundableMismatch,
        ]
    );
}
