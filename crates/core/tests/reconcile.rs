//! Reconciliation through the public API: a ledger that went through every order path
//! (paid, duplicate, late, refunded, cancelled, expired, red packets claimed and expired)
//! reconciles clean against truthful statements, and every statement discrepancy is found,
//! listed within its bound and reported the same way every time.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::reconcile::{
    DiscrepancyCode, MAX_LISTED_DISCREPANCIES, Statement, StatementLine,
};
use stampede_core::*;

mod support;
use support::*;

fn pay(channel: &str, txn: &str, amount: u64) -> Payment {
    Payment {
        channel: support::channel(channel),
        txn_id: txn.into(),
        amount_cents: Cents(amount),
        paid_at: UnixMillis(1),
    }
}

fn recorded(ledger: &mut Ledger, order: OrderId, payment: Payment, now: u64) -> Record {
    let Decision { outcome, record } = ledger.record_payment(order, payment, UnixMillis(now));
    assert!(
        matches!(outcome, PaymentOutcome::Recorded { .. }),
        "{outcome:?}"
    );
    record.unwrap()
}

fn packets(count: u64, total: u64, claim_window_secs: u64) -> CampaignSpec {
    CampaignSpec::RedPacket(RedPacketSpec {
        common: CommonSpec {
            name: "packets".into(),
            starts_at: None,
            ends_at: None,
        },
        total_cents: Cents(total),
        count,
        min_cents: Cents(1),
        claim_window_secs,
    })
}

/// A ledger through every path, its records, and the payments a truthful channel reports.
struct Scenario {
    ledger: Ledger,
    records: Vec<Record>,
    /// (channel, txn, order, amount) of every payment recorded.
    paid: Vec<(ChannelName, String, OrderId, u64)>,
    seckill: CampaignId,
}

fn scenario() -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (mut ledger, seckill, mut records) = ledger_with(seckill(10, 1, false), &mut rng);
    let mut paid = Vec::new();
    let mut won = |ledger: &mut Ledger, records: &mut Vec<Record>, who: &str, now: u64| {
        let (order, record) = win(ledger, seckill, who, now, &mut rng);
        records.push(record);
        order
    };
    let alice = won(&mut ledger, &mut records, "alice", 0);
    let bob = won(&mut ledger, &mut records, "bob", 0);
    let carol = won(&mut ledger, &mut records, "carol", 0);
    let dave = won(&mut ledger, &mut records, "dave", 0);
    let _erin = won(&mut ledger, &mut records, "erin", 5_000);

    // alice pays through `paying`.
    let started = ledger.start_payment(alice, &user("alice"), &channel("sim"), UnixMillis(1));
    records.push(started.record.unwrap());
    records.push(recorded(&mut ledger, alice, pay("sim", "t1", 100), 2));
    // bob pays twice: the duplicate's refund stays pending.
    records.push(recorded(&mut ledger, bob, pay("sim", "t2", 100), 3));
    records.push(recorded(&mut ledger, bob, pay("sim", "t2b", 100), 4));
    // carol cancels, then pays late: refunded.
    records.push(ledger.cancel(carol, None, UnixMillis(5)).record.unwrap());
    records.push(recorded(&mut ledger, carol, pay("sim", "t3", 100), 6));
    let refund = ledger.confirm_refund(carol, &pay("sim", "t3", 100), "r3".into(), UnixMillis(7));
    records.push(refund.record.unwrap());
    // dave's order expires; he pays late on another channel: refund pending.
    records.extend(ledger.expire_due(UnixMillis(WINDOW_MS), 100));
    assert_eq!(ledger.order(dave).unwrap().state, OrderState::Expired);
    records.push(recorded(
        &mut ledger,
        dave,
        pay("wechat", "w4", 100),
        WINDOW_MS + 1,
    ));
    for (channel, txn, order) in [
        ("sim", "t1", alice),
        ("sim", "t2", bob),
        ("sim", "t2b", bob),
        ("sim", "t3", carol),
        ("wechat", "w4", dave),
    ] {
        paid.push((support::channel(channel), txn.to_owned(), order, 100));
    }

    // Red packets: two claimed, one expired unclaimed, one still won.
    let created = ledger
        .create_campaign(packets(4, 1_000, 2), UnixMillis(11_000), &mut rng)
        .record
        .unwrap();
    let Record::CampaignCreated { id: packets_id, .. } = created else {
        unreachable!()
    };
    records.push(created);
    let mut packet = |ledger: &mut Ledger, records: &mut Vec<Record>, who: &str, now: u64| {
        let (order, record) = win(ledger, packets_id, who, now, &mut rng);
        records.push(record);
        order
    };
    let p1 = packet(&mut ledger, &mut records, "p1", 11_000);
    let p2 = packet(&mut ledger, &mut records, "p2", 11_000);
    let _p3 = packet(&mut ledger, &mut records, "p3", 11_000);
    for order in [p1, p2] {
        let Decision { record, .. } = ledger.start_claim(order, None, UnixMillis(11_500));
        records.push(record.unwrap());
        let payout = PayoutResult::Paid(PayoutId::parse(format!("po-{order}")).unwrap());
        records.push(
            ledger
                .finish_claim(order, &payout, UnixMillis(11_600))
                .record
                .unwrap(),
        );
    }
    records.extend(ledger.expire_due(UnixMillis(14_000), 100));
    let _p4 = packet(&mut ledger, &mut records, "p4", 14_500);
    ledger.assert_invariants();
    Scenario {
        ledger,
        records,
        paid,
        seckill,
    }
}

fn statements(paid: &[(ChannelName, String, OrderId, u64)]) -> Vec<Statement> {
    let mut by_channel: Vec<Statement> = Vec::new();
    for (channel, txn, order, amount) in paid {
        let line = StatementLine {
            txn_id: txn.clone(),
            order_id: *order,
            amount_cents: Cents(*amount),
            at: UnixMillis(9),
        };
        match by_channel.iter_mut().find(|s| &s.channel == channel) {
            Some(s) => s.lines.push(line),
            None => by_channel.push(Statement {
                covers_until: None,
                txn_prefix: None,
                channel: channel.clone(),
                lines: vec![line],
            }),
        }
    }
    by_channel
}

#[test]
fn a_ledger_through_every_path_reconciles_clean() {
    let s = scenario();
    let report = reconcile(&s.ledger, &statements(&s.paid), UnixMillis(20_000));
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.generated_at, UnixMillis(20_000));

    let seckill = &report.campaigns[0];
    assert_eq!(seckill.campaign_id, s.seckill);
    assert_eq!((seckill.total, seckill.remaining), (10, 7));
    assert_eq!((seckill.orders, seckill.live, seckill.released), (5, 3, 2));
    assert_eq!((seckill.paid_orders, seckill.paid_cents), (2, Cents(200)));
    assert_eq!((seckill.payments, seckill.payments_cents), (5, Cents(500)));
    assert_eq!((seckill.late_payments, seckill.duplicate_payments), (2, 1));
    assert_eq!((seckill.refunds_pending, seckill.refunded), (2, 1));
    assert_eq!(seckill.refunds_pending_cents, Cents(200));
    for (state, n) in [
        ("paid", 2),
        ("refunded", 1),
        ("refund_pending", 1),
        ("pending_payment", 1),
    ] {
        assert_eq!(seckill.states[state], n, "{state}");
    }
    assert!(seckill.red_packet.is_none());

    let packets = &report.campaigns[1];
    assert_eq!((packets.total, packets.remaining, packets.live), (4, 0, 4));
    let money = packets.red_packet.unwrap();
    assert_eq!(money.total_cents, Cents(1_000));
    assert_eq!(money.drawn_cents, Cents(1_000), "every packet is drawn");
    assert_eq!(money.pool_remaining_cents, Cents(0));
    assert_eq!((money.claimed, money.claim_expired), (2, 1));
    let campaign = s.ledger.campaigns().nth(1).unwrap();
    assert_eq!(money.claim_expired_cents.0, campaign.refundable_cents());

    assert_eq!(report.statements.len(), 2);
    assert_eq!(
        (
            report.statements[0].channel.as_str(),
            report.statements[0].matched
        ),
        ("sim", 4)
    );
    assert_eq!(report.statements[1].matched, 1);
    assert_eq!(report.pending_refunds_total, 2);
    let pending: Vec<&str> = report
        .pending_refunds
        .iter()
        .map(|r| r.txn_id.as_str())
        .collect();
    assert_eq!(pending, ["t2b", "w4"]);

    let text = report.to_string();
    assert!(text.contains("Result: CLEAN"), "{text}");
    assert!(text.contains("Pending refunds (2"), "{text}");
}

#[test]
fn without_statements_only_the_books_are_checked() {
    let s = scenario();
    let report = reconcile(&s.ledger, &[], UnixMillis(1));
    assert!(report.is_clean(), "{report}");
    assert!(report.statements.is_empty());
}

#[test]
fn every_statement_discrepancy_is_found() {
    let s = scenario();
    let mut statements = statements(&s.paid);
    let sim = &mut statements[0];
    let bob = sim.lines[1].order_id;
    sim.lines.remove(1); // t2 missing: opened but not paid
    sim.lines[0].amount_cents = Cents(90); // t1 wrong amount
    sim.lines.push(sim.lines[1].clone()); // t2b twice
    sim.lines.push(StatementLine {
        txn_id: "t9".into(), // unknown txn of our order
        order_id: bob,
        amount_cents: Cents(100),
        at: UnixMillis(9),
    });
    sim.lines.push(StatementLine {
        txn_id: "t10".into(), // not our order
        order_id: OrderId(12345),
        amount_cents: Cents(100),
        at: UnixMillis(9),
    });
    statements[1].lines[0].order_id = bob; // w4 for the wrong order

    let report = reconcile(&s.ledger, &statements, UnixMillis(1));
    assert!(!report.is_clean());
    let count = |code: DiscrepancyCode| report.discrepancy_counts.get(code.code()).copied();
    assert_eq!(count(DiscrepancyCode::OpenedButNotPaid), Some(1));
    assert_eq!(count(DiscrepancyCode::StatementAmountMismatch), Some(1));
    assert_eq!(count(DiscrepancyCode::StatementDuplicateTxn), Some(1));
    assert_eq!(count(DiscrepancyCode::PaidButNotOpened), Some(2));
    assert_eq!(count(DiscrepancyCode::StatementOrderMismatch), Some(1));
    assert_eq!(report.discrepancy_total, 6);
    let missing = report
        .discrepancies
        .iter()
        .find(|d| d.code == DiscrepancyCode::OpenedButNotPaid)
        .unwrap();
    assert_eq!(missing.txn_id.as_deref(), Some("t2"));
    assert_eq!(missing.order_id, Some(bob));
    assert_eq!(missing.campaign_id, Some(s.seckill));
    let foreign = report
        .discrepancies
        .iter()
        .find(|d| d.txn_id.as_deref() == Some("t10"))
        .unwrap();
    assert!(foreign.detail.contains("not ours"), "{}", foreign.detail);
    assert_eq!(foreign.campaign_id, None);

    let text = report.to_string();
    for code in ["opened_but_not_paid", "paid_but_not_opened", "t2", "t10"] {
        assert!(text.contains(code), "{code} missing from:\n{text}");
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["discrepancy_total"], 6);
    assert_eq!(json["discrepancy_counts"]["paid_but_not_opened"], 2);
    let first = &json["discrepancies"][0];
    assert!(first["code"].is_string());
    assert!(first["campaign_id"].as_str().unwrap().starts_with("c_"));
    assert!(first["order_id"].as_str().unwrap().starts_with("o_"));
    assert_eq!(json["campaigns"][1]["kind"], "red_packet");
}

#[test]
fn a_million_mismatches_stay_bounded() {
    // 1,500 paid orders and an empty statement for their channel.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut ledger, id, _) = ledger_with(seckill(1_500, 1, false), &mut rng);
    for i in 0..1_500 {
        let (order, _) = win(&mut ledger, id, &format!("u{i}"), 0, &mut rng);
        recorded(&mut ledger, order, pay("sim", &format!("t{i}"), 100), 1);
    }
    let empty = Statement {
        covers_until: None,
        txn_prefix: None,
        channel: channel("sim"),
        lines: Vec::new(),
    };
    let report = reconcile(&ledger, &[empty], UnixMillis(1));
    assert_eq!(report.discrepancy_total, 1_500);
    assert_eq!(report.discrepancies.len(), MAX_LISTED_DISCREPANCIES);
    assert_eq!(report.discrepancy_counts["opened_but_not_paid"], 1_500);
    assert!(report.to_string().contains("... and 500 more"));
}

#[test]
fn the_report_is_deterministic_and_survives_replay() {
    let s = scenario();
    let mut statements = statements(&s.paid);
    statements[0].lines.truncate(2);
    let first = reconcile(&s.ledger, &statements, UnixMillis(5));
    let second = reconcile(&s.ledger, &statements, UnixMillis(5));
    assert_eq!(first, second);
    let replayed = replay(&s.records);
    let third = reconcile(&replayed, &statements, UnixMillis(5));
    assert_eq!(first, third, "a replayed ledger reports the same");
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&third).unwrap()
    );
    assert_eq!(first.discrepancy_total, 2, "t2b and t3 are missing");
}
