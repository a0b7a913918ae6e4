//! The order lifecycle in the core: cancel and expiry return stock exactly once, invalid
//! transitions change nothing, `regrab_after_release` decides whether a released user may win
//! again, and replay of every record rebuilds the same state.
//!
//! Over 400 lines on purpose: the worked cases, two property tests of the whole lifecycle and
//! the replay refusals build on the same campaign helpers.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::*;

mod support;
use support::*;

/// A free seckill and a name with a format character are refused when created, but a journal
/// an older version wrote with them still replays (the rules are for new campaigns only).
#[test]
fn rules_for_new_campaigns_do_not_break_replay_of_old_ones() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (_, _, records) = ledger_with(seckill(2, 1, false), &mut rng);
    let Record::CampaignCreated {
        id,
        created_at,
        order_key,
        ..
    } = records[0].clone()
    else {
        unreachable!()
    };
    let mut old = seckill(2, 1, false);
    let CampaignSpec::Seckill(s) = &mut old else {
        unreachable!()
    };
    s.price_cents = Cents(0);
    s.common.name = "free\u{202E}".into();
    let refused = Ledger::new().create_campaign(old.clone(), UnixMillis(0), &mut rng);
    assert!(
        matches!(&refused.outcome, CreateOutcome::Invalid(e) if e.field == "price_cents")
            && refused.record.is_none(),
        "{refused:?}"
    );
    let journaled = Record::CampaignCreated {
        id,
        spec: old,
        created_at,
        order_key,
    };
    let ledger = replay(&[journaled]);
    assert_eq!(ledger.campaign(id).expect("replayed").remaining(), 2);
}

#[test]
fn cancel_returns_stock_once_and_second_cancel_is_invalid() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut ledger, id, mut records) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, r) = win(&mut ledger, id, "a", 5, &mut rng);
    records.push(r);
    assert_eq!(ledger.campaign(id).unwrap().remaining(), 0);
    assert_eq!(
        ledger.order(order).unwrap().expires_at,
        Some(UnixMillis(5 + WINDOW_MS))
    );

    // Another user: not found, nothing changes.
    let t = ledger.cancel(order, Some(&user("b")), UnixMillis(6));
    assert_eq!((t.outcome, t.record), (OrderOutcome::NotFound, None));

    let t = ledger.cancel(order, Some(&user("a")), UnixMillis(6));
    let OrderOutcome::Moved(after) = &t.outcome else {
        panic!("{t:?}")
    };
    assert_eq!(after.state, OrderState::Cancelled);
    assert_eq!(after.expires_at, None);
    records.push(t.record.unwrap());
    assert_eq!(ledger.campaign(id).unwrap().remaining(), 1);

    // Again (user or admin): invalid, nothing changes.
    for by in [Some(user("a")), None] {
        let t = ledger.cancel(order, by.as_ref(), UnixMillis(7));
        assert_eq!(
            t.outcome,
            OrderOutcome::InvalidTransition(InvalidTransition {
                from: OrderState::Cancelled,
                to: OrderState::Cancelled
            })
        );
        assert!(t.record.is_none());
        assert_eq!(ledger.campaign(id).unwrap().remaining(), 1);
    }
    // Expiry never touches a cancelled order.
    assert!(ledger.expire(order, UnixMillis(u64::MAX)).record.is_none());
    assert!(ledger.expire_due(UnixMillis(u64::MAX), 100).is_empty());
    ledger.assert_invariants();

    // Replaying the cancel twice is refused: the journal cannot return stock twice.
    let mut replayed = replay(&records);
    assert_eq!(replayed.campaign(id).unwrap().remaining(), 1);
    assert!(replayed.apply(records.last().unwrap()).is_err());
    assert_eq!(replayed.campaign(id).unwrap().remaining(), 1);
}

#[test]
fn expiry_is_due_at_the_deadline_and_in_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (mut ledger, id, _) = ledger_with(seckill(3, 1, false), &mut rng);
    let (first, _) = win(&mut ledger, id, "a", 0, &mut rng);
    let (second, _) = win(&mut ledger, id, "b", 1_000, &mut rng);
    assert!(ledger.expire_due(UnixMillis(WINDOW_MS - 1), 100).is_empty());
    assert!(
        ledger
            .expire(first, UnixMillis(WINDOW_MS - 1))
            .record
            .is_none()
    );
    let expired = ledger.expire_due(UnixMillis(WINDOW_MS), 100);
    assert_eq!(expired.len(), 1);
    assert_eq!(ledger.order(first).unwrap().state, OrderState::Expired);
    assert_eq!(
        ledger.order(second).unwrap().state,
        OrderState::PendingPayment
    );
    // Passive expiry of one order.
    assert!(
        ledger
            .expire(second, UnixMillis(WINDOW_MS + 1_000))
            .record
            .is_some()
    );
    assert_eq!(ledger.order(second).unwrap().state, OrderState::Expired);
    assert_eq!(ledger.campaign(id).unwrap().remaining(), 3);
    ledger.assert_invariants();
}

#[test]
fn regrab_after_release_decides_whether_the_user_may_win_again() {
    for regrab in [false, true] {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut ledger, id, mut records) = ledger_with(seckill(2, 1, regrab), &mut rng);
        let (order, r) = win(&mut ledger, id, "a", 0, &mut rng);
        records.push(r);
        records.push(ledger.cancel(order, None, UnixMillis(1)).record.unwrap());
        let again = ledger.grab(id, &user("a"), UnixMillis(2), &mut rng);
        if regrab {
            assert!(matches!(again.outcome, GrabOutcome::Won(_)), "{again:?}");
            records.push(again.record.unwrap());
        } else {
            assert_eq!(
                again.outcome,
                GrabOutcome::AlreadyWon(OrderTicket {
                    order_id: order,
                    amount_cents: Cents(100)
                })
            );
        }
        // Someone else may always take the released item.
        let (_, r) = win(&mut ledger, id, "b", 3, &mut rng);
        records.push(r);
        ledger.assert_invariants();
        let replayed = replay(&records);
        assert_eq!(
            replayed.campaign(id).unwrap().holding_limit("a").is_some(),
            ledger.campaign(id).unwrap().holding_limit("a").is_some()
        );
    }
}

fn packets(count: u64, claim_window_secs: u64) -> CampaignSpec {
    CampaignSpec::RedPacket(RedPacketSpec {
        common: CommonSpec {
            name: "p".into(),
            starts_at: None,
            ends_at: None,
        },
        total_cents: Cents(100),
        count,
        min_cents: Cents(1),
        claim_window_secs,
    })
}

#[test]
fn red_packets_cannot_be_cancelled_and_expire_after_the_claim_window() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (mut ledger, id, mut records) = ledger_with(packets(2, 10), &mut rng);
    let (order, won) = win(&mut ledger, id, "a", 0, &mut rng);
    records.push(won);
    let amount = ledger.order(order).unwrap().amount_cents.0;
    let t = ledger.cancel(order, None, UnixMillis(1));
    assert!(matches!(t.outcome, OrderOutcome::InvalidTransition(_)));
    assert!(ledger.expire_due(UnixMillis(9_999), 10).is_empty());
    let expired = ledger.expire_due(UnixMillis(10_000), 10);
    assert_eq!(expired.len(), 1);
    records.extend(expired);
    assert_eq!(ledger.order(order).unwrap().state, OrderState::ClaimExpired);
    let campaign = ledger.campaign(id).unwrap();
    assert_eq!(campaign.refundable_cents(), amount);
    assert_eq!(campaign.remaining(), 1, "an expired packet is not redrawn");
    ledger.assert_invariants();
    let replayed = replay(&records);
    assert_eq!(replayed.campaign(id).unwrap().refundable_cents(), amount);
    replayed.assert_invariants();
}

#[test]
fn a_claim_starts_once_and_settles_once() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut ledger, id, mut records) = ledger_with(packets(2, 10), &mut rng);
    let (order, won) = win(&mut ledger, id, "a", 0, &mut rng);
    records.push(won);
    let other = user("b");
    assert_eq!(
        ledger
            .start_claim(order, Some(&other), UnixMillis(1))
            .outcome,
        ClaimStart::NotFound
    );
    let Decision {
        outcome: start,
        record,
    } = ledger.start_claim(order, Some(&user("a")), UnixMillis(1));
    assert!(matches!(start, ClaimStart::Started(_)));
    records.push(record.unwrap());
    let Decision {
        outcome: again,
        record: none,
    } = ledger.start_claim(order, None, UnixMillis(2));
    assert!(matches!(again, ClaimStart::InFlight(_)) && none.is_none());
    // A claim in flight never expires, even past its window.
    assert!(ledger.expire_due(UnixMillis(20_000), 10).is_empty());
    // A definite failure puts it back under its (passed) deadline.
    records.push(
        ledger
            .finish_claim(order, &PayoutResult::NotPaid, UnixMillis(3))
            .record
            .unwrap(),
    );
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Won);
    ledger.assert_invariants();
    records.push(
        ledger
            .start_claim(order, None, UnixMillis(4))
            .record
            .unwrap(),
    );
    let payout = PayoutId::parse("po-1").unwrap();
    records.push(
        ledger
            .finish_claim(order, &PayoutResult::Paid(payout.clone()), UnixMillis(5))
            .record
            .unwrap(),
    );
    assert!(
        ledger
            .finish_claim(order, &PayoutResult::NotPaid, UnixMillis(6))
            .record
            .is_none()
    );
    let Decision {
        outcome: claimed,
        record: none,
    } = ledger.start_claim(order, None, UnixMillis(7));
    assert!(none.is_none());
    let ClaimStart::Claimed(o, p) = claimed else {
        panic!("{claimed:?}")
    };
    assert_eq!((o.state, p), (OrderState::Claimed, payout.clone()));
    ledger.assert_invariants();
    let replayed = replay(&records);
    assert_eq!(replayed.payout_id(order), Some(payout));
    assert!(replayed.claiming_orders().is_empty());
    replayed.assert_invariants();
}

#[test]
fn a_seckill_order_is_not_claimable() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "a", 0, &mut rng);
    let Decision {
        outcome: start,
        record,
    } = ledger.start_claim(order, None, UnixMillis(1));
    assert!(matches!(start, ClaimStart::InvalidTransition(_)) && record.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any mix of claim starts, payout results and expiry passes: at most one payout per
    /// packet, money is conserved, claiming orders never expire, and replay agrees.
    #[test]
    fn claims_settle_at_most_once(
        ops in prop::collection::vec((0u8..4, 0u8..4, 0u64..3_000), 0..120),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut ledger, id, mut records) = ledger_with(packets(4, 5), &mut rng);
        let mut orders = Vec::new();
        let mut now = 0;
        let mut payouts = 0u32;
        for (kind, who, step) in ops {
            now += step;
            let at = UnixMillis(now);
            match kind {
                0 => {
                    let name = format!("u{who}");
                    let grab = ledger.grab(id, &user(&name), at, &mut rng);
                    if let Some(r) = grab.record {
                        let GrabOutcome::Won(t) = grab.outcome else { unreachable!() };
                        orders.push(t.order_id);
                        records.push(r);
                    }
                }
                1 | 2 if !orders.is_empty() => {
                    let order = orders[who as usize % orders.len()];
                    let before = ledger.order(order).unwrap().state;
                    if kind == 1 {
                        let Decision { outcome: start, record: r } = ledger.start_claim(order, None, at);
                        prop_assert_eq!(r.is_some(), matches!(start, ClaimStart::Started(_)));
                        records.extend(r);
                    } else {
                        payouts += 1;
                        let result = if who % 2 == 0 {
                            PayoutResult::Paid(PayoutId::parse(format!("p{payouts}")).unwrap())
                        } else {
                            PayoutResult::NotPaid
                        };
                        let r = ledger.finish_claim(order, &result, at);
                        prop_assert_eq!(r.record.is_some(), before == OrderState::Claiming);
                        records.extend(r.record);
                    }
                    if before == OrderState::Claimed {
                        prop_assert_eq!(ledger.order(order).unwrap().state, OrderState::Claimed);
                    }
                }
                _ => {
                    let claiming = ledger.claiming_orders();
                    records.extend(ledger.expire_due(at, 100));
                    for o in claiming {
                        prop_assert_eq!(ledger.order(o).unwrap().state, OrderState::Claiming);
                    }
                }
            }
            ledger.assert_invariants();
        }
        let replayed = replay(&records);
        replayed.assert_invariants();
        for o in orders {
            prop_assert_eq!(replayed.order(o), ledger.order(o));
            prop_assert_eq!(replayed.payout_id(o), ledger.payout_id(o));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any mix of grabs, cancels (right and wrong user, admin) and expiry passes as time moves:
    /// `remaining + live == total` always, every released order returned its item exactly
    /// once, and replay rebuilds the same orders.
    #[test]
    fn stock_is_returned_exactly_once(
        stock in 1u64..10,
        limit in 1u32..3,
        regrab: bool,
        ops in prop::collection::vec((0u8..4, 0u8..8, 0u64..4_000), 0..200),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(stock);
        let (mut ledger, id, mut records) = ledger_with(seckill(stock, limit, regrab), &mut rng);
        let mut now = 0;
        let mut orders: Vec<OrderId> = Vec::new();
        for (kind, who, step) in ops {
            now += step;
            let name = format!("u{who}");
            match kind {
                0 | 1 => {
                    let grab = ledger.grab(id, &user(&name), UnixMillis(now), &mut rng);
                    if let GrabOutcome::Won(t) = grab.outcome {
                        orders.push(t.order_id);
                    }
                    records.extend(grab.record);
                }
                2 if !orders.is_empty() => {
                    let order = orders[who as usize % orders.len()];
                    let by = (who % 3 != 0).then(|| user(&name));
                    let before = ledger.order(order).unwrap();
                    let t = ledger.cancel(order, by.as_ref(), UnixMillis(now));
                    match &t.outcome {
                        OrderOutcome::Moved(after) => {
                            prop_assert_eq!(before.state, OrderState::PendingPayment);
                            prop_assert_eq!(after.state, OrderState::Cancelled);
                        }
                        _ => {
                            prop_assert!(t.record.is_none());
                            prop_assert_eq!(ledger.order(order).unwrap(), before);
                        }
                    }
                    records.extend(t.record);
                }
                _ => records.extend(ledger.expire_due(UnixMillis(now), 1_000)),
            }
            let c = ledger.campaign(id).unwrap();
            let live = orders
                .iter()
                .filter(|&&o| ledger.order(o).unwrap().state.is_live())
                .count() as u64;
            prop_assert_eq!(c.remaining() + live, stock);
            // Nothing pending is overdue after an expiry pass at `now`.
            if kind == 3 {
                for &o in &orders {
                    prop_assert!(ledger.order(o).unwrap().expires_at.is_none_or(|d| d > UnixMillis(now)));
                }
            }
        }
        ledger.assert_invariants();
        let released = records
            .iter()
            .filter(|r| matches!(r, Record::OrderTransitioned { .. }))
            .count() as u64;
        let won = orders.len() as u64;
        prop_assert_eq!(ledger.campaign(id).unwrap().remaining(), stock + released - won);
        let replayed = replay(&records);
        for &o in &orders {
            prop_assert_eq!(replayed.order(o), ledger.order(o));
        }
    }
}

/// A transition record `id`'s order at `order` from `from` to `to` at `at`.
fn moved(id: CampaignId, order: OrderId, from: OrderState, to: OrderState, at: u64) -> Record {
    Record::OrderTransitioned {
        campaign_id: id,
        order_id: order,
        from,
        to,
        at: UnixMillis(at),
    }
}

#[test]
fn replay_refuses_transition_records_no_decision_makes() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut ledger, id, _) = ledger_with(packets(2, 10), &mut rng);
    let (order, _) = win(&mut ledger, id, "a", 0, &mut rng);
    ledger
        .start_claim(order, None, UnixMillis(1))
        .record
        .unwrap();
    // `claimed` only comes with its payout (ClaimPaid): a bare transition would leave a
    // claimed order without one.
    let forged = moved(id, order, OrderState::Claiming, OrderState::Claimed, 2);
    let refused = ledger.apply(&forged).unwrap_err();
    assert!(
        refused.to_string().contains("no decision makes"),
        "{refused}"
    );
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Claiming);
    assert!(matches!(
        ledger.start_claim(order, None, UnixMillis(3)).outcome,
        ClaimStart::InFlight(_)
    ));
    ledger.assert_invariants();

    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "a", 0, &mut rng);
    ledger
        .start_payment(order, &user("a"), &channel("sim"), UnixMillis(1))
        .record
        .unwrap();
    let forged = moved(id, order, OrderState::Paying, OrderState::PendingPayment, 2);
    assert!(
        ledger.apply(&forged).is_err(),
        "nothing decides paying → pending"
    );
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Paying);
    ledger.assert_invariants();
}

#[test]
fn replay_refuses_an_expiry_before_the_deadline() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (mut ledger, id, _) = ledger_with(seckill(1, 1, false), &mut rng);
    let (order, _) = win(&mut ledger, id, "a", 0, &mut rng);
    let early = moved(
        id,
        order,
        OrderState::PendingPayment,
        OrderState::Expired,
        WINDOW_MS - 1,
    );
    assert!(ledger.apply(&early).is_err(), "expired before its deadline");
    assert_eq!(
        ledger.order(order).unwrap().state,
        OrderState::PendingPayment
    );
    let due = moved(
        id,
        order,
        OrderState::PendingPayment,
        OrderState::Expired,
        WINDOW_MS,
    );
    ledger.apply(&due).unwrap();
    ledger.assert_invariants();

    let (mut ledger, id, _) = ledger_with(packets(1, 10), &mut rng);
    let (order, _) = win(&mut ledger, id, "a", 0, &mut rng);
    let early = moved(id, order, OrderState::Won, OrderState::ClaimExpired, 9_999);
    assert!(
        ledger.apply(&early).is_err(),
        "claim expired before its window"
    );
    assert_eq!(ledger.order(order).unwrap().state, OrderState::Won);
    ledger.assert_invariants();
}
