//! Property tests of the ledger: for any sequence of grabs, no oversell, exact per-user limits,
//! exact red-packet money, and replay of the produced records rebuilds the same state.

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::*;

fn common(starts_at: Option<u64>, ends_at: Option<u64>) -> CommonSpec {
    CommonSpec {
        name: "prop".into(),
        starts_at: starts_at.map(UnixMillis),
        ends_at: ends_at.map(UnixMillis),
    }
}

fn spec_strategy() -> impl Strategy<Value = CampaignSpec> {
    let seckill = (1u64..40, 1u32..4, 0u64..10_000).prop_map(|(stock, limit, price)| {
        CampaignSpec::Seckill(SeckillSpec {
            common: common(Some(100), Some(10_000)),
            stock,
            per_user_limit: limit,
            price_cents: Cents(price),
            payment_window_secs: 900,
            regrab_after_release: false,
        })
    });
    let packets = (1u64..40, 1u64..5, 0u64..5_000).prop_map(|(count, min, extra)| {
        CampaignSpec::RedPacket(RedPacketSpec {
            common: common(Some(100), Some(10_000)),
            total_cents: Cents(count * min + extra),
            count,
            min_cents: Cents(min),
            claim_window_secs: stampede_core::DEFAULT_CLAIM_WINDOW_SECS,
        })
    });
    prop_oneof![seckill, packets]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn grabs_never_oversell_and_replay_is_exact(
        spec in spec_strategy(),
        grabs in prop::collection::vec((0u8..30, 0u64..12_000), 0..300),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ledger = Ledger::new();
        let created = ledger.create_campaign(spec.clone(), UnixMillis(0), &mut rng).record.unwrap();
        let Record::CampaignCreated { id, .. } = created else { unreachable!() };
        let mut journal = vec![created];
        let mut wins_by_user = std::collections::HashMap::<u8, u32>::new();
        let mut won_tickets = Vec::new();
        for (user, at) in grabs {
            let uid = UserId::parse(&format!("u{user}")).unwrap();
            let before = ledger.campaign(id).unwrap().remaining();
            let grab = ledger.grab(id, &uid, UnixMillis(at), &mut rng);
            let after = ledger.campaign(id).unwrap().remaining();
            match grab.outcome {
                GrabOutcome::Won(ticket) => {
                    prop_assert!((100..10_000).contains(&at), "won outside the window at {at}");
                    prop_assert_eq!(after + 1, before);
                    *wins_by_user.entry(user).or_default() += 1;
                    won_tickets.push((uid.clone(), ticket));
                    journal.push(grab.record.expect("a win carries a record"));
                }
                GrabOutcome::AlreadyWon(ticket) => {
                    prop_assert_eq!(wins_by_user.get(&user).copied(), Some(spec.per_user_limit()));
                    let latest = won_tickets.iter().rev().find(|(u, _)| *u == uid).unwrap().1;
                    prop_assert_eq!(ticket, latest);
                    prop_assert!(grab.record.is_none());
                }
                GrabOutcome::SoldOut => prop_assert_eq!(before, 0),
                GrabOutcome::NotStarted => prop_assert!(at < 100),
                GrabOutcome::Ended => prop_assert!(at >= 10_000),
                GrabOutcome::CampaignNotFound => prop_assert!(false, "campaign vanished"),
            }
            prop_assert_eq!(before - after, u64::from(matches!(grab.outcome, GrabOutcome::Won(_))));
        }
        ledger.assert_invariants();
        let campaign = ledger.campaign(id).unwrap();
        let wins: u32 = wins_by_user.values().sum();
        prop_assert!(u64::from(wins) <= spec.total());
        prop_assert_eq!(u64::from(wins) + campaign.remaining(), spec.total());
        prop_assert!(wins_by_user.values().all(|&n| n <= spec.per_user_limit()));

        if let CampaignSpec::RedPacket(r) = &spec {
            let paid: u64 = won_tickets.iter().map(|(_, t)| t.amount_cents.0).sum();
            prop_assert!(won_tickets.iter().all(|(_, t)| t.amount_cents >= r.min_cents));
            if campaign.remaining() == 0 {
                prop_assert_eq!(paid, r.total_cents.0, "packets must sum to the total");
            }
        }

        // Replay: the same records rebuild the same state.
        let mut replayed = Ledger::new();
        for record in &journal {
            replayed.apply(record).unwrap();
        }
        replayed.assert_invariants();
        let again = replayed.campaign(id).unwrap();
        prop_assert_eq!(again.remaining(), campaign.remaining());
        let (a, _) = campaign.winners_page(0, usize::MAX);
        let (b, _) = again.winners_page(0, usize::MAX);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn red_packets_always_sum_exactly(
        count in 1u64..2_000, min in 1u64..50, extra in 0u64..1_000_000, seed in any::<u64>(),
    ) {
        let total = count * min + extra;
        let mut pool = PacketPool::new(Cents(total), count, Cents(min));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sum = 0u64;
        let mut n = 0u64;
        while let Some(amount) = pool.draw(&mut rng) {
            prop_assert!(amount.0 >= min);
            sum += amount.0;
            n += 1;
        }
        prop_assert_eq!(n, count);
        prop_assert_eq!(sum, total);
    }
}

#[test]
fn replay_rejects_records_the_ledger_never_wrote() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ledger = Ledger::new();
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: common(None, None),
        stock: 1,
        per_user_limit: 1,
        price_cents: Cents(5),
        payment_window_secs: 900,
        regrab_after_release: false,
    });
    let created = ledger
        .create_campaign(spec, UnixMillis(0), &mut rng)
        .record
        .unwrap();
    let Record::CampaignCreated { id, .. } = created else {
        unreachable!()
    };
    let alice = UserId::parse("alice").unwrap();
    let won = ledger
        .grab(id, &alice, UnixMillis(1), &mut rng)
        .record
        .unwrap();

    // The same win twice, a second win on a sold-out campaign, a wrong price, an unknown campaign.
    assert!(ledger.apply(&won).is_err());
    let Record::Won { order_id, .. } = won else {
        unreachable!()
    };
    let oversell = Record::Won {
        campaign_id: id,
        order_id: OrderId(order_id.0 ^ 1),
        user_id: UserId::parse("bob").unwrap(),
        amount_cents: Cents(5),
        won_at: UnixMillis(2),
    };
    assert!(ledger.apply(&oversell).unwrap_err().0.contains("sold-out"));
    let stranger = Record::Won {
        campaign_id: CampaignId(42),
        order_id: OrderId(7),
        user_id: UserId::parse("carol").unwrap(),
        amount_cents: Cents(5),
        won_at: UnixMillis(2),
    };
    assert!(ledger.apply(&stranger).is_err());
    ledger.assert_invariants();
    assert_eq!(ledger.order_count(), 1);
}

#[test]
fn sold_out_campaign_still_tells_a_winner_it_won() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut ledger = Ledger::new();
    let spec = CampaignSpec::RedPacket(RedPacketSpec {
        common: common(None, None),
        total_cents: Cents(100),
        count: 2,
        min_cents: Cents(1),
        claim_window_secs: stampede_core::DEFAULT_CLAIM_WINDOW_SECS,
    });
    let Record::CampaignCreated { id, .. } = ledger
        .create_campaign(spec, UnixMillis(0), &mut rng)
        .record
        .unwrap()
    else {
        unreachable!()
    };
    let a = UserId::parse("a").unwrap();
    let b = UserId::parse("b").unwrap();
    let c = UserId::parse("c").unwrap();
    let GrabOutcome::Won(ta) = ledger.grab(id, &a, UnixMillis(1), &mut rng).outcome else {
        panic!("a should win")
    };
    let GrabOutcome::Won(tb) = ledger.grab(id, &b, UnixMillis(1), &mut rng).outcome else {
        panic!("b should win")
    };
    assert_eq!(ta.amount_cents.0 + tb.amount_cents.0, 100);
    assert_eq!(
        ledger.grab(id, &c, UnixMillis(2), &mut rng).outcome,
        GrabOutcome::SoldOut
    );
    assert_eq!(
        ledger.grab(id, &a, UnixMillis(2), &mut rng).outcome,
        GrabOutcome::AlreadyWon(ta)
    );
    assert_eq!(
        ledger.campaign(id).unwrap().status(UnixMillis(2)),
        CampaignStatus::SoldOut
    );
}

#[test]
fn a_win_record_must_carry_the_id_of_its_place_and_time() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut live = Ledger::new();
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: common(None, None),
        stock: 2,
        per_user_limit: 1,
        price_cents: Cents(5),
        payment_window_secs: 900,
        regrab_after_release: false,
    });
    let created = live
        .create_campaign(spec, UnixMillis(0), &mut rng)
        .record
        .unwrap();
    let alice = UserId::parse("alice").unwrap();
    let Record::CampaignCreated { id, .. } = created else {
        unreachable!()
    };
    let won = live
        .grab(id, &alice, UnixMillis(1), &mut rng)
        .record
        .unwrap();
    let Record::Won {
        campaign_id,
        order_id,
        ref user_id,
        amount_cents,
        won_at,
    } = won
    else {
        unreachable!()
    };
    let mut replayed = Ledger::new();
    replayed.apply(&created).unwrap();
    let forged = |order_id: OrderId, won_at: UnixMillis| Record::Won {
        campaign_id,
        order_id,
        user_id: user_id.clone(),
        amount_cents,
        won_at,
    };
    for bad in [
        forged(order_id, UnixMillis(won_at.0 + 1)),
        forged(OrderId(order_id.0 ^ 1), won_at),
        forged(OrderId(order_id.0 ^ (1 << 40)), won_at),
    ] {
        let refused = replayed.apply(&bad).unwrap_err();
        assert!(refused.0.contains("does not name its place"), "{refused}");
    }
    assert_eq!(replayed.order_count(), 0);
    replayed.apply(&won).unwrap();
    assert_eq!(replayed.order(order_id), live.order(order_id));
    replayed.assert_invariants();
}
