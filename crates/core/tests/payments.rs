//! Payments in the core: a payment settles an order once; a channel's retry changes nothing;
//! a payment after the order closed or a second payment of a paid order is recorded and opens
//! a refund; refunds settle once; and a seeded interleaving of grab / pay / callback / cancel /
//! expire / refund / restart never loses an acknowledged payment, returns stock exactly once
//! and keeps the books balanced to the cent.
//!
//! Over 400 lines on purpose: each case tells one order's whole payment story (decide, apply,
//! replay, refund), and the seeded interleaving model at the end checks them all together
//! with the same helpers.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
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

fn sim(txn: &str, amount: u64) -> Payment {
    pay("sim", txn, amount)
}

#[test]
fn payment_is_recorded_once_and_replays() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut ledger, id, mut records) = ledger_with(seckill(2, 1, false), &mut rng);
    let (order, record) = win(&mut ledger, id, "alice", 0, &mut rng);
    records.push(record);
    let started = ledger.start_payment(order, &user("alice"), &channel("sim"), UnixMillis(1));
    assert!(matches!(started.outcome, OrderOutcome::Moved(ref o) if o.state == OrderState::Paying));
    records.push(started.record.unwrap());
    let again = ledger.start_payment(order, &user("alice"), &channel("sim"), UnixMillis(1));
    assert!(
        again.record.is_none(),
        "the same channel again records nothing"
    );
    assert_eq!(
        ledger
            .start_payment(order, &user("bob"), &channel("sim"), UnixMillis(1))
            .outcome,
        OrderOutcome::NotFound
    );

    let Decision {
        outcome,
        record: none,
    } = ledger.record_payment(order, sim("t1", 99), UnixMillis(2));
    assert_eq!(
        outcome,
        PaymentOutcome::AmountMismatch {
            expected: Cents(100)
        }
    );
    assert!(none.is_none());
    let Decision { outcome, record } = ledger.record_payment(order, sim("t1", 100), UnixMillis(2));
    assert!(matches!(
        outcome,
        PaymentOutcome::Recorded { ref order, kind: PaymentKind::Settled } if order.state == OrderState::Paid
    ));
    records.push(record.unwrap());
    let Decision {
        outcome: again,
        record: none,
    } = ledger.record_payment(order, sim("t1", 100), UnixMillis(3));
    assert!(
        matches!(
            again,
            PaymentOutcome::AlreadyRecorded {
                kind: PaymentKind::Settled,
                ..
            }
        ) && none.is_none()
    );
    // A paid order never expires and never returns its item.
    assert!(ledger.expire_due(UnixMillis(WINDOW_MS * 2), 10).is_empty());
    assert_eq!(ledger.campaign(id).unwrap().remaining(), 1);
    ledger.assert_invariants();

    let mut replayed = replay(&records);
    assert_eq!(replayed.order(order).unwrap().state, OrderState::Paid);
    assert_eq!(replayed.payments_of(order), ledger.payments_of(order));
    let Decision {
        outcome: again,
        record: none,
    } = replayed.record_payment(order, sim("t1", 100), UnixMillis(3));
    assert!(matches!(again, PaymentOutcome::AlreadyRecorded { .. }) && none.is_none());
}

#[test]
fn a_duplicate_payment_opens_a_refund_and_the_order_stays_paid() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (mut ledger, id, mut records) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, r) = win(&mut ledger, id, "alice", 0, &mut rng);
    records.push(r);
    records.extend(
        ledger
            .record_payment(order, sim("t1", 100), UnixMillis(1))
            .record,
    );
    let Decision {
        outcome: dup,
        record,
    } = ledger.record_payment(order, pay("alt", "x9", 100), UnixMillis(2));
    assert!(matches!(
        dup,
        PaymentOutcome::Recorded { ref order, kind: PaymentKind::Duplicate } if order.state == OrderState::Paid
    ));
    records.push(record.unwrap());
    assert_eq!(ledger.pending_refund_count(), 1);
    let pending = ledger.pending_refunds(10);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payment.txn_id, "x9");
    assert_eq!(refund_key(&pending[0].payment), "refund:alt:x9");

    // The refund confirms once; a second confirmation records nothing.
    let confirmed = ledger
        .confirm_refund(order, &pay("alt", "x9", 100), "rf-1".into(), UnixMillis(3))
        .record
        .expect("pending refund confirms");
    records.push(confirmed);
    assert!(
        ledger
            .confirm_refund(order, &pay("alt", "x9", 100), "rf-1".into(), UnixMillis(4))
            .record
            .is_none()
    );
    // The settling payment has no refund to confirm.
    assert!(
        ledger
            .confirm_refund(order, &sim("t1", 100), "rf-2".into(), UnixMillis(4))
            .record
            .is_none()
    );
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Paid);
    assert_eq!(ledger.pending_refund_count(), 0);
    let payments = ledger.payments_of(order);
    assert_eq!(payments.len(), 2);
    assert_eq!(
        payments[1].refund,
        Some(RefundStatus::Refunded {
            refund_id: "rf-1".into(),
            at: UnixMillis(3)
        })
    );
    ledger.assert_invariants();
    assert_eq!(replay(&records).payments_of(order), payments);
}

#[test]
fn a_late_payment_leaves_the_order_closed_and_is_refunded() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (mut ledger, id, mut records) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, r) = win(&mut ledger, id, "alice", 0, &mut rng);
    records.push(r);
    records.extend(
        ledger
            .start_payment(order, &user("alice"), &channel("sim"), UnixMillis(1))
            .record,
    );
    let expired = ledger.expire_due(UnixMillis(WINDOW_MS), 10);
    assert_eq!(expired.len(), 1);
    records.extend(expired);
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Expired);
    assert_eq!(ledger.campaign(id).unwrap().remaining(), 1);

    let Decision {
        outcome: late,
        record,
    } = ledger.record_payment(order, sim("t1", 100), UnixMillis(WINDOW_MS + 1));
    assert!(matches!(
        late,
        PaymentOutcome::Recorded { ref order, kind: PaymentKind::Late } if order.state == OrderState::RefundPending
    ));
    records.push(record.unwrap());
    assert_eq!(
        ledger.campaign(id).unwrap().remaining(),
        1,
        "stock returned once: a late payment does not take it back"
    );
    // Someone else may now win the returned item.
    let (other, r) = win(&mut ledger, id, "bob", WINDOW_MS + 2, &mut rng);
    records.push(r);
    assert_ne!(other, order);

    records.push(
        ledger
            .confirm_refund(
                order,
                &sim("t1", 100),
                "rf".into(),
                UnixMillis(WINDOW_MS + 3),
            )
            .record
            .unwrap(),
    );
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Refunded);
    // Another late payment reopens a refund on the refunded order.
    let Decision {
        outcome: again,
        record,
    } = ledger.record_payment(order, pay("alt", "t2", 100), UnixMillis(WINDOW_MS + 4));
    assert!(matches!(
        again,
        PaymentOutcome::Recorded {
            kind: PaymentKind::Late,
            ..
        }
    ));
    records.push(record.unwrap());
    assert_eq!(
        ledger.order(order).unwrap().state,
        OrderState::RefundPending
    );
    ledger.assert_invariants();
    let replayed = replay(&records);
    assert_eq!(replayed.order(order), ledger.order(order));
    assert_eq!(replayed.payments_of(order), ledger.payments_of(order));
}

#[test]
fn extra_payments_are_bounded_and_conflicting_txns_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let (mut ledger, id, _) = ledger_with(seckill(2, 1, false), &mut rng);
    let (a, _) = win(&mut ledger, id, "alice", 0, &mut rng);
    let (b, _) = win(&mut ledger, id, "bob", 0, &mut rng);
    let _ = ledger.record_payment(a, sim("t0", 100), UnixMillis(1));
    for i in 0..MAX_EXTRA_PAYMENTS_PER_ORDER {
        let Decision {
            outcome: o,
            record: _,
        } = ledger.record_payment(a, sim(&format!("d{i}"), 100), UnixMillis(2));
        assert!(matches!(
            o,
            PaymentOutcome::Recorded {
                kind: PaymentKind::Duplicate,
                ..
            }
        ));
    }
    let Decision {
        outcome: o,
        record: none,
    } = ledger.record_payment(a, sim("one-too-many", 100), UnixMillis(3));
    assert_eq!(o, PaymentOutcome::TooManyPayments);
    assert!(none.is_none());
    let Decision {
        outcome: o,
        record: none,
    } = ledger.record_payment(b, sim("t0", 100), UnixMillis(3));
    assert_eq!(o, PaymentOutcome::TxnConflict, "t0 paid alice's order");
    assert!(none.is_none());
    assert_eq!(ledger.order(b).unwrap().state, OrderState::PendingPayment);
    ledger.assert_invariants();
}

#[test]
fn a_transaction_pays_one_order_in_the_whole_ledger_not_one_per_campaign() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut ledger, first, mut records) = ledger_with(seckill(1, 1, false), &mut rng);
    let second = ledger
        .create_campaign(seckill(1, 1, false), UnixMillis(0), &mut rng)
        .record
        .unwrap();
    records.push(second.clone());
    let Record::CampaignCreated { id: second, .. } = second else {
        unreachable!()
    };
    let (a, r) = win(&mut ledger, first, "alice", 0, &mut rng);
    records.push(r);
    let (b, r) = win(&mut ledger, second, "bob", 0, &mut rng);
    records.push(r);
    let Decision {
        outcome: _,
        record: r,
    } = ledger.record_payment(a, sim("t0", 100), UnixMillis(1));
    records.push(r.unwrap());

    // The channel reports t0 again, now for bob's order in the other campaign: refused.
    let Decision {
        outcome: o,
        record: none,
    } = ledger.record_payment(b, sim("t0", 100), UnixMillis(2));
    assert_eq!(o, PaymentOutcome::TxnConflict, "t0 paid alice's order");
    assert!(none.is_none());
    assert_eq!(ledger.order(b).unwrap().state, OrderState::PendingPayment);
    // The same txn id on another channel is another transaction.
    let Decision {
        outcome: o,
        record: r,
    } = ledger.record_payment(b, pay("other", "t0", 100), UnixMillis(2));
    assert!(
        matches!(
            o,
            PaymentOutcome::Recorded {
                kind: PaymentKind::Settled,
                ..
            }
        ),
        "{o:?}"
    );
    records.push(r.unwrap());
    ledger.assert_invariants();

    // Replay rebuilds the index: still refused after a restart.
    let mut replayed = replay(&records);
    replayed.assert_invariants();
    let Decision {
        outcome: o,
        record: _,
    } = replayed.record_payment(b, sim("t0", 100), UnixMillis(3));
    assert_eq!(o, PaymentOutcome::TxnConflict);

    // A journal that records one transaction in two campaigns does not replay.
    let forged = Record::PaymentRecorded {
        campaign_id: second,
        order_id: b,
        from: OrderState::PendingPayment,
        payment: sim("t0", 100),
        at: UnixMillis(2),
    };
    let mut forged_journal = records[..records.len() - 1].to_vec();
    forged_journal.push(forged);
    let mut ledger = Ledger::new();
    let last = forged_journal.len() - 1;
    for r in &forged_journal[..last] {
        ledger.apply(r).expect("the honest prefix replays");
    }
    let refused = ledger.apply(&forged_journal[last]).unwrap_err();
    assert!(
        refused.to_string().contains("another campaign"),
        "{refused}"
    );
}

#[test]
fn paying_orders_are_offered_for_query_after_a_while_and_again_later() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut ledger, id, mut records) = ledger_with(seckill(3, 1, false), &mut rng);
    let (a, r) = win(&mut ledger, id, "alice", 0, &mut rng);
    records.push(r);
    let (b, r) = win(&mut ledger, id, "bob", 0, &mut rng);
    records.push(r);
    records.extend(
        ledger
            .start_payment(a, &user("alice"), &channel("sim"), UnixMillis(100))
            .record,
    );
    records.extend(
        ledger
            .start_payment(a, &user("alice"), &channel("alt"), UnixMillis(150))
            .record,
    );
    records.extend(
        ledger
            .start_payment(b, &user("bob"), &channel("sim"), UnixMillis(200))
            .record,
    );
    assert!(
        ledger
            .take_stale_paying(UnixMillis(1_099), 1_000, 10)
            .is_empty()
    );
    let stale = ledger.take_stale_paying(UnixMillis(1_100), 1_000, 10);
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].order_id, a);
    assert_eq!(stale[0].channels, vec![channel("sim"), channel("alt")]);
    // b is due at 1_200; a again at 2_100.
    let stale = ledger.take_stale_paying(UnixMillis(2_100), 1_000, 10);
    let ids: Vec<_> = stale.iter().map(|s| s.order_id).collect();
    assert_eq!(ids, vec![b, a]);
    // Once paid, an order is never offered again.
    let _ = ledger.record_payment(a, sim("t", 100), UnixMillis(2_200));
    let stale = ledger.take_stale_paying(UnixMillis(9_000), 1_000, 10);
    assert_eq!(
        stale.iter().map(|s| s.order_id).collect::<Vec<_>>(),
        vec![b]
    );
    // After a restart the schedule is rebuilt from the records: b is due from its start.
    let mut replayed = replay(&records);
    let stale = replayed.take_stale_paying(UnixMillis(1_200), 1_000, 10);
    assert_eq!(
        stale.iter().map(|s| s.order_id).collect::<Vec<_>>(),
        vec![a, b]
    );
    ledger.assert_invariants();
}

#[test]
fn red_packets_take_no_payment_and_records_cannot_forge_payment_states() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let spec = CampaignSpec::RedPacket(RedPacketSpec {
        common: CommonSpec {
            name: "rp".into(),
            starts_at: None,
            ends_at: None,
        },
        total_cents: Cents(1_000),
        count: 2,
        min_cents: Cents(1),
        claim_window_secs: 60,
    });
    let (mut ledger, id, _) = ledger_with(spec, &mut rng);
    let (order, _) = win(&mut ledger, id, "alice", 0, &mut rng);
    let amount = ledger.order(order).unwrap().amount_cents.0;
    let Decision {
        outcome: o,
        record: none,
    } = ledger.record_payment(order, sim("t", amount), UnixMillis(1));
    assert!(matches!(o, PaymentOutcome::InvalidTransition(_)) && none.is_none());

    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "alice", 0, &mut rng);
    let forged = Record::OrderTransitioned {
        campaign_id: id,
        order_id: order,
        from: OrderState::PendingPayment,
        to: OrderState::Paid,
        at: UnixMillis(1),
    };
    assert!(
        ledger.apply(&forged).is_err(),
        "paid only through a payment record"
    );
    assert_eq!(
        ledger.order(order).unwrap().state,
        OrderState::PendingPayment
    );
}

/// One step of the interleaving.
#[derive(Clone, Debug)]
enum Step {
    Grab(usize),
    StartPay(usize, usize),
    /// user, channel, txn number, whether the amount is right
    Callback(usize, usize, u8, bool),
    Cancel(usize),
    Advance(u64),
    ReadExpire(usize),
    ConfirmRefund,
    Restart,
}

const USERS: usize = 5;
const CHANNELS: [&str; 2] = ["sim", "alt"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..USERS).prop_map(Step::Grab),
        2 => (0..USERS, 0..2usize).prop_map(|(u, c)| Step::StartPay(u, c)),
        4 => (0..USERS, 0..2usize, 0..4u8, prop::bool::weighted(0.9))
            .prop_map(|(u, c, t, ok)| Step::Callback(u, c, t, ok)),
        1 => (0..USERS).prop_map(Step::Cancel),
        2 => (1..6_000u64).prop_map(Step::Advance),
        1 => (0..USERS).prop_map(Step::ReadExpire),
        2 => Just(Step::ConfirmRefund),
        1 => Just(Step::Restart),
    ]
}

fn replay_all(records: &[Record]) -> Ledger {
    let mut ledger = Ledger::new();
    for r in records {
        ledger.apply(r).expect("every journaled record replays");
    }
    ledger
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Expire / cancel / pay / callback / refund / restart in any order: stock comes back
    /// exactly once per released order, every acknowledged payment survives restarts, every
    /// payment that did not pay its order has a refund, and money balances: what was taken
    /// minus what was refunded equals the paid orders plus the refunds still owed.
    #[test]
    fn payments_interleave_without_losing_money(
        seed in any::<u64>(),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let stock = 3;
        let (mut ledger, id, mut records) = ledger_with(seckill(stock, 1, false), &mut rng);
        let mut now = 0u64;
        let mut orders: Vec<Option<OrderId>> = vec![None; USERS];
        let mut acked: Vec<(OrderId, Payment)> = Vec::new();
        for step in steps {
            match step {
                Step::Grab(u) => {
                    let g = ledger.grab(id, &user(&format!("u{u}")), UnixMillis(now), &mut rng);
                    if let GrabOutcome::Won(t) = g.outcome {
                        orders[u] = Some(t.order_id);
                    }
                    records.extend(g.record);
                }
                Step::StartPay(u, c) => if let Some(o) = orders[u] {
                    let t = ledger.start_payment(o, &user(&format!("u{u}")), &channel(CHANNELS[c]), UnixMillis(now));
                    records.extend(t.record);
                },
                Step::Callback(u, c, txn, right) => if let Some(o) = orders[u] {
                    let amount = if right { 100 } else { 101 };
                    let p = Payment {
                        channel: channel(CHANNELS[c]),
                        txn_id: format!("{o}-{txn}"),
                        amount_cents: Cents(amount),
                        // A channel's retry repeats the whole callback.
                        paid_at: UnixMillis(u64::from(txn)),
                    };
                    let Decision { outcome, record } = ledger.record_payment(o, p.clone(), UnixMillis(now));
                    match outcome {
                        PaymentOutcome::Recorded { .. } | PaymentOutcome::AlreadyRecorded { .. } => {
                            prop_assert!(right);
                            acked.push((o, p));
                        }
                        PaymentOutcome::AmountMismatch { .. } => prop_assert!(!right),
                        PaymentOutcome::TooManyPayments => {}
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                    records.extend(record);
                },
                Step::Cancel(u) => if let Some(o) = orders[u] {
                    records.extend(ledger.cancel(o, Some(&user(&format!("u{u}"))), UnixMillis(now)).record);
                },
                Step::Advance(ms) => {
                    now += ms;
                    records.extend(ledger.expire_due(UnixMillis(now), 100));
                }
                Step::ReadExpire(u) => if let Some(o) = orders[u] {
                    records.extend(ledger.expire(o, UnixMillis(now)).record);
                },
                Step::ConfirmRefund => {
                    if let Some(p) = ledger.pending_refunds(1).pop() {
                        let r = ledger.confirm_refund(p.order_id, &p.payment, format!("rf-{}", p.payment.txn_id), UnixMillis(now));
                        prop_assert!(r.record.is_some());
                        records.extend(r.record);
                    }
                }
                Step::Restart => {
                    ledger = replay_all(&records);
                }
            }
            ledger.assert_invariants();
            // No acknowledged payment is ever lost, restarts included.
            for (o, p) in &acked {
                prop_assert!(ledger.payments_of(*o).iter().any(|e| e.payment == *p), "lost {:?}", p);
            }
        }
        // Stock: every order that left the live states gave its item back exactly once.
        let campaign = ledger.campaign(id).unwrap();
        let won = campaign.order_count() as u64;
        let released = records.iter().filter(|r| matches!(r,
            Record::OrderTransitioned { from, to, .. } if from.is_live() && !to.is_live())).count() as u64;
        prop_assert_eq!(campaign.remaining() + won, stock + released);
        // Settle every refund, then the books balance: taken − refunded == paid orders.
        while let Some(p) = ledger.pending_refunds(1).pop() {
            records.extend(ledger.confirm_refund(p.order_id, &p.payment, "rf".into(), UnixMillis(now)).record);
        }
        let campaign = ledger.campaign(id).unwrap();
        let taken: u64 = campaign.payments().iter().map(|e| e.payment.amount_cents.0).sum();
        let refunded: u64 = campaign.payments().iter()
            .filter(|e| matches!(e.refund, Some(RefundStatus::Refunded { .. })))
            .map(|e| e.payment.amount_cents.0).sum();
        let paid: u64 = (0..campaign.order_count() as u32)
            .filter_map(|i| campaign.order_at(i))
            .filter(|o| o.state == OrderState::Paid)
            .map(|o| o.amount_cents.0).sum();
        prop_assert_eq!(taken - refunded, paid);
        for e in campaign.payments() {
            prop_assert_eq!(e.refund.is_some(), e.kind != PaymentKind::Settled);
        }
        // Replay of everything rebuilds the same orders and payments.
        let replayed = replay_all(&records);
        for o in orders.iter().flatten() {
            prop_assert_eq!(replayed.order(*o), ledger.order(*o));
            prop_assert_eq!(replayed.payments_of(*o), ledger.payments_of(*o));
        }
    }
}

#[test]
fn a_bad_transaction_id_is_refused_not_recorded() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "alice", 0, &mut rng);
    // A channel's query or in-process delivery reaches the core without the HTTP checks. (A
    // bad channel name cannot reach it: a `ChannelName` is checked where it is read, and
    // `ChannelName::parse` refuses "Sim".)
    assert!(ChannelName::parse("Sim").is_err());
    for bad in [
        sim(&"x".repeat(MAX_TXN_ID_BYTES + 1), 100),
        sim("t\n1", 100),
        sim("", 100),
    ] {
        let Decision { outcome, record } = ledger.record_payment(order, bad.clone(), UnixMillis(1));
        assert_eq!(
            outcome,
            PaymentOutcome::InvalidPayment(bad.validate().unwrap_err()),
            "{bad:?}"
        );
        assert_eq!(outcome.code(), "invalid_payment");
        assert!(record.is_none());
    }
    assert_eq!(
        ledger.order(order).unwrap().state,
        OrderState::PendingPayment
    );
    ledger.assert_invariants();
}

#[test]
fn a_bad_refund_id_is_refused_not_confirmed() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "alice", 0, &mut rng);
    let _ = ledger.record_payment(order, sim("t1", 100), UnixMillis(1));
    let _ = ledger.record_payment(order, sim("t2", 100), UnixMillis(2));
    assert_eq!(ledger.pending_refund_count(), 1);
    // A channel's refund receipt reaches the core unchecked.
    for bad in [
        String::new(),
        "r".repeat(MAX_REFUND_ID_BYTES + 1),
        "r\u{7}".into(),
    ] {
        let decision = ledger.confirm_refund(order, &sim("t2", 100), bad, UnixMillis(3));
        assert!(decision.record.is_none());
    }
    assert_eq!(ledger.pending_refund_count(), 1, "still owed");
    let decision = ledger.confirm_refund(order, &sim("t2", 100), "rf-1".into(), UnixMillis(3));
    assert!(decision.record.is_some());
    assert_eq!(ledger.pending_refund_count(), 0);
    ledger.assert_invariants();
}

#[test]
fn replay_refuses_a_payment_started_past_the_deadline() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "alice", 0, &mut rng);
    let started = |at| Record::PaymentStarted {
        campaign_id: id,
        order_id: order,
        from: OrderState::PendingPayment,
        channel: channel("sim"),
        at: UnixMillis(at),
    };
    // start_payment refuses at the deadline; so does replay.
    let live = ledger.start_payment(
        order,
        &user("alice"),
        &channel("sim"),
        UnixMillis(WINDOW_MS),
    );
    assert!(matches!(live.outcome, OrderOutcome::InvalidTransition(_)));
    assert!(ledger.apply(&started(WINDOW_MS)).is_err());
    assert_eq!(
        ledger.order(order).unwrap().state,
        OrderState::PendingPayment
    );
    ledger.apply(&started(WINDOW_MS - 1)).unwrap();
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Paying);
    ledger.assert_invariants();
}
