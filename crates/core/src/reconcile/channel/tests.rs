//! Unit tests of the statement checks, on plain books.

use super::*;
use crate::ids::CampaignId;
use crate::money::UnixMillis;
use crate::order::OrderState;
use crate::payment::Payment;
use crate::payment_book::PaymentEntry;
use crate::reconcile::books::plain::PlainBooks;

fn books() -> PlainBooks {
    let mut books = PlainBooks::seckill(
        3,
        0,
        &[
            (OrderState::Paid, 100),
            (OrderState::Paid, 100),
            (OrderState::Paid, 100),
        ],
    );
    books.payments = (0..3)
        .map(|i| PaymentEntry {
            order_index: i,
            payment: Payment {
                channel: ChannelName::parse(if i == 2 { "other" } else { "sim" }).unwrap(),
                txn_id: format!("t{i}"),
                amount_cents: Cents(100),
                paid_at: UnixMillis(1),
            },
            kind: PaymentKind::Settled,
            refund: None,
            recorded_at: UnixMillis(1),
        })
        .collect();
    books
}

fn line(txn: &str, order: u128, amount: u64) -> StatementLine {
    StatementLine {
        txn_id: txn.into(),
        order_id: OrderId(order),
        amount_cents: Cents(amount),
        at: UnixMillis(5),
    }
}

fn sim(lines: Vec<StatementLine>) -> Statement {
    Statement {
        covers_until: None,
        txn_prefix: None,
        channel: ChannelName::parse("sim").unwrap(),
        lines,
    }
}

/// Orders 1000.. live in campaign 0, as `PlainBooks` names them.
fn first_campaign(id: OrderId) -> Option<Place> {
    (1000..1003)
        .contains(&id.0)
        .then(|| (0, (id.0 - 1000) as u32))
}

fn check(statements: &[Statement]) -> (Vec<DiscrepancyCode>, Vec<StatementSummary>) {
    let mut findings = Findings::default();
    let summaries = check_statements(&[books()], statements, first_campaign, &mut findings);
    let (listed, _, _) = findings.into_parts();
    (listed.into_iter().map(|d| d.code).collect(), summaries)
}

#[test]
fn a_matching_statement_is_clean() {
    let (codes, summaries) = check(&[sim(vec![line("t0", 1000, 100), line("t1", 1001, 100)])]);
    assert_eq!(codes, []);
    let s = &summaries[0];
    assert_eq!((s.lines, s.matched, s.matched_cents), (2, 2, Cents(200)));
    assert_eq!((s.books_payments, s.books_cents), (2, Cents(200)));
}

#[test]
fn every_statement_discrepancy_is_found() {
    let (codes, summaries) = check(&[sim(vec![
        line("t0", 1000, 90),  // wrong amount
        line("t0", 1000, 90),  // again
        line("t9", 1001, 100), // not in the books, our order
        line("t8", 5, 100),    // not in the books, not our order
        line("t8", 5, 100),    // again
        line("t2", 1002, 100), // in the books, but on another channel
    ])]);
    assert_eq!(
        codes,
        [
            DiscrepancyCode::StatementAmountMismatch,
            DiscrepancyCode::StatementDuplicateTxn,
            DiscrepancyCode::PaidButNotOpened,
            DiscrepancyCode::PaidButNotOpened,
            DiscrepancyCode::StatementDuplicateTxn,
            DiscrepancyCode::PaidButNotOpened,
            DiscrepancyCode::OpenedButNotPaid,
        ]
    );
    let s = &summaries[0];
    assert_eq!((s.lines, s.matched, s.paid_but_not_opened), (6, 0, 3));
    assert_eq!((s.amount_mismatches, s.duplicate_lines), (1, 2));
    assert_eq!(s.opened_but_not_paid, 1, "t1 is on no line");
}

#[test]
fn wrong_order_and_unknown_order_details() {
    let mut findings = Findings::default();
    let statements = [sim(vec![line("t0", 1001, 100), line("zz", 4, 1)])];
    check_statements(&[books()], &statements, |_| None, &mut findings);
    let (listed, _, _) = findings.into_parts();
    assert_eq!(listed[0].code, DiscrepancyCode::StatementOrderMismatch);
    assert!(listed[0].detail.contains(&OrderId(1000).to_string()));
    assert_eq!(listed[1].code, DiscrepancyCode::PaidButNotOpened);
    assert!(
        listed[1].detail.contains("not ours"),
        "{}",
        listed[1].detail
    );
    assert_eq!(listed[2].code, DiscrepancyCode::OpenedButNotPaid);
    assert_eq!(listed[2].txn_id.as_deref(), Some("t1"));
    assert_eq!(listed[2].order_id, Some(OrderId(1001)));
}

#[test]
fn statements_of_one_channel_are_checked_together() {
    let (codes, summaries) = check(&[
        sim(vec![line("t0", 1000, 100)]),
        Statement {
            covers_until: None,
            txn_prefix: None,
            channel: ChannelName::parse("other").unwrap(),
            lines: vec![line("t2", 1002, 100)],
        },
        sim(vec![line("t1", 1001, 100)]),
    ]);
    assert_eq!(codes, []);
    assert_eq!(summaries.len(), 2);
    assert_eq!(
        (summaries[0].channel.as_str(), summaries[0].statements),
        ("sim", 2)
    );
    assert_eq!(summaries[1].matched, 1);
}

#[test]
fn a_payment_of_another_order_is_an_order_mismatch() {
    // Same campaign: the line names order 1001, the books paid order 1000 with t0.
    let (codes, summaries) = check(&[sim(vec![line("t0", 1001, 100), line("t1", 1001, 100)])]);
    assert_eq!(codes, [DiscrepancyCode::StatementOrderMismatch]);
    assert_eq!(summaries[0].order_mismatches, 1);
    // Another campaign: the line's order lives in campaign 1, the payment in campaign 0.
    let mut other = books();
    other.payments.clear();
    let mut findings = Findings::default();
    let statements = [sim(vec![line("t0", 2000, 100), line("t1", 1001, 100)])];
    let locate = |id: OrderId| match id.0 {
        2000.. => Some((1, (id.0 - 2000) as u32)),
        _ => first_campaign(id),
    };
    let summaries = check_statements(&[books(), other], &statements, locate, &mut findings);
    assert_eq!(findings.count(DiscrepancyCode::StatementOrderMismatch), 1);
    assert_eq!(findings.count(DiscrepancyCode::PaidButNotOpened), 0);
    assert_eq!(summaries[0].matched, 1);
}

#[test]
fn a_transaction_in_two_campaigns_matches_once() {
    let mut second = books();
    second.figures.id = CampaignId(9);
    let mut findings = Findings::default();
    let statements = [sim(vec![line("t0", 1000, 100), line("t1", 1001, 100)])];
    let summaries = check_statements(
        &[books(), second],
        &statements,
        first_campaign,
        &mut findings,
    );
    assert_eq!(findings.count(DiscrepancyCode::OpenedButNotPaid), 2);
    let (listed, _, _) = findings.into_parts();
    assert!(listed.iter().all(|d| d.campaign_id == Some(CampaignId(9))));
    assert_eq!(summaries[0].books_payments, 4);
    assert_eq!(summaries[0].matched, 2);
}

#[test]
fn payments_after_the_statement_s_cut_off_are_not_expected_on_it() {
    // t1 was paid at 1 ms; a statement covering up to 0 ms does not owe it, one covering up
    // to 1 ms does.
    let cut = |until| Statement {
        covers_until: Some(UnixMillis(until)),
        ..sim(vec![line("t0", 1000, 100)])
    };
    let (codes, _) = check(&[cut(0)]);
    assert_eq!(codes, []);
    let (codes, _) = check(&[cut(1)]);
    assert_eq!(codes, [DiscrepancyCode::OpenedButNotPaid]);
    // Two statements of one channel: the later cut-off counts; `None` means everything.
    let (codes, _) = check(&[cut(0), sim(vec![])]);
    assert_eq!(codes, [DiscrepancyCode::OpenedButNotPaid]);
}

#[test]
fn a_statement_covering_some_transactions_is_compared_only_with_those() {
    // The sim channel's payments are t0 and t1. A desk whose statement covers "t1…" shows
    // only t1: t0 is another desk's, counted apart, not `opened_but_not_paid`.
    let desk = |lines| Statement {
        txn_prefix: Some("t1".into()),
        ..sim(lines)
    };
    let (codes, summaries) = check(&[desk(vec![line("t1", 1001, 100)])]);
    assert_eq!(codes, []);
    let s = &summaries[0];
    assert_eq!((s.books_payments, s.other_desks_payments), (1, 1));
    assert_eq!(s.txn_prefix.as_deref(), Some("t1"));
    // A covered payment missing from its desk's statement is still found.
    let (codes, _) = check(&[desk(vec![])]);
    assert_eq!(codes, [DiscrepancyCode::OpenedButNotPaid]);
    // Every line is checked, covered or not: one the books lack is `paid_but_not_opened`.
    let (codes, _) = check(&[desk(vec![line("t1", 1001, 100), line("x9", 1000, 100)])]);
    assert_eq!(codes, [DiscrepancyCode::PaidButNotOpened]);
    // A statement covering everything beside it makes the channel's group cover everything.
    let (codes, summaries) = check(&[desk(vec![line("t1", 1001, 100)]), sim(vec![])]);
    assert_eq!(codes, [DiscrepancyCode::OpenedButNotPaid]);
    assert_eq!(summaries[0].other_desks_payments, 0);
}
