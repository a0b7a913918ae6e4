//! The published read side follows the ledger after each durable batch: stock comes back on a
//! release, and the holders map (what answers `already_won` without the writer) holds exactly
//! the users at the per-user limit — a win under the limit adds nobody, a win at it adds the
//! user with their latest order, a release under `regrab_after_release` takes them off again.

use stampede_testkit as support;

use std::time::Duration;

use stampede_core::{CampaignSpec, GrabOutcome, OrderId, OrderOutcome, OrderTicket};
use stampede_engine::{Durability, Engine, ManualClock};
use stampede_journal::MemoryStorage;
use support::{T0, open_memory_at, runtime, seckill};

async fn won(engine: &Engine, campaign: stampede_core::CampaignId, user: &str) -> OrderTicket {
    match engine
        .grab(campaign, &stampede_core::UserId::parse(user).unwrap())
        .await
        .unwrap()
    {
        GrabOutcome::Won(ticket) => ticket,
        other => panic!("{user} did not win: {other:?}"),
    }
}

async fn cancel(engine: &Engine, order: OrderId, by: &str) {
    let outcome = engine
        .cancel(order, Some(&stampede_core::UserId::parse(by).unwrap()))
        .await
        .unwrap();
    assert!(matches!(outcome, OrderOutcome::Moved(_)), "{outcome:?}");
}

#[test]
fn holders_and_stock_follow_wins_and_releases_under_a_limit_of_two() {
    runtime().block_on(async {
        let storage = MemoryStorage::new(1);
        let clock = ManualClock::new(T0);
        let engine = open_memory_at(&storage, Durability::Fsync, 1, &clock);
        let CampaignSpec::Seckill(mut spec) = seckill(10, 2) else {
            unreachable!()
        };
        spec.regrab_after_release = true;
        spec.payment_window_secs = 60;
        let view = engine
            .create_campaign(CampaignSpec::Seckill(spec))
            .await
            .unwrap()
            .created()
            .unwrap();
        let campaign = view.id;

        // One win of two: not a holder, the writer decides alice's next grab.
        let first = won(&engine, campaign, "alice").await;
        assert_eq!(engine.grab_fast_path(campaign, "alice"), None);
        assert_eq!(view.holder("alice"), None);
        // At the limit: held, with her latest order.
        let second = won(&engine, campaign, "alice").await;
        assert_eq!(view.holder("alice"), Some(second));
        assert_eq!(
            engine.grab_fast_path(campaign, "alice"),
            Some(GrabOutcome::AlreadyWon(second))
        );
        assert_eq!(view.remaining(), 8);

        // A payment start moves nothing published.
        let outcome = engine
            .start_payment(
                second.order_id,
                &stampede_core::UserId::parse("alice").unwrap(),
                &stampede_core::ChannelName::parse("sim").unwrap(),
            )
            .await
            .unwrap();
        assert!(matches!(outcome, OrderOutcome::Moved(_)), "{outcome:?}");
        assert_eq!(view.remaining(), 8);
        assert_eq!(view.holder("alice"), Some(second));

        // A release takes her off the limit and puts the item back.
        cancel(&engine, first.order_id, "alice").await;
        assert_eq!(view.remaining(), 9);
        assert_eq!(view.holder("alice"), None);
        assert_eq!(engine.grab_fast_path(campaign, "alice"), None);

        // Back at the limit with a new order.
        let third = won(&engine, campaign, "alice").await;
        assert_eq!(view.holder("alice"), Some(third));
        assert_eq!(view.remaining(), 8);

        // Both of her orders expire unpaid: stock back, off the limit.
        clock.advance(Duration::from_secs(61));
        assert_eq!(engine.expire_due().await.unwrap(), 2);
        assert_eq!(view.remaining(), 10);
        assert_eq!(view.holder("alice"), None);

        // The read side rebuilt on open agrees.
        engine.shutdown();
        drop(engine);
        let engine = open_memory_at(&storage, Durability::Fsync, 2, &clock);
        let view = engine.campaign(campaign).unwrap();
        assert_eq!(view.remaining(), 10);
        assert_eq!(view.holder("alice"), None);
        engine.shutdown();
    });
}

/// An order won before a restart expires on the restarted writer's own timer (nobody asks
/// for an expiry pass or reads the order), and its item comes back on the read side: the
/// writer learns the replayed deadlines on open.
#[test]
fn stock_comes_back_when_an_order_won_before_a_restart_expires() {
    runtime().block_on(async {
        let storage = MemoryStorage::new(3);
        let clock = ManualClock::new(T0);
        let engine = open_memory_at(&storage, Durability::Fsync, 3, &clock);
        let CampaignSpec::Seckill(mut spec) = seckill(1, 1) else {
            unreachable!()
        };
        spec.payment_window_secs = 60;
        let campaign = engine
            .create_campaign(CampaignSpec::Seckill(spec))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        won(&engine, campaign, "alice").await;
        engine.shutdown();
        drop(engine);

        let engine = open_memory_at(&storage, Durability::Fsync, 4, &clock);
        let view = engine.campaign(campaign).unwrap();
        assert_eq!(view.remaining(), 0);
        clock.advance(Duration::from_secs(61));
        let mut polls = 0;
        while view.remaining() == 0 {
            polls += 1;
            assert!(polls < 500, "not expired within 5 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(view.remaining(), 1);
        engine.shutdown();
    });
}
