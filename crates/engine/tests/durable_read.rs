//! `Engine::read_durable`: a client is never shown a decision the journal may still lose.
//!
//! The writer applies a batch to the ledger before its fsync. With the disk stalled, the
//! ledger already holds the batch's decisions; a read through `read_durable` (order reads,
//! winners pages, callback answers) waits for the fsync and then answers with the published
//! read side already up to date, or answers `Unavailable` if the fsync fails. CI once caught
//! the race this closes: an order read answered `claim_expired` while the campaign's
//! `refundable_cents` still said 0.

use stampede_testkit as support;

use std::time::Duration;

use stampede_core::{GrabOutcome, OrderState};
use stampede_engine::{Durability, EngineError, ManualClock};
use stampede_journal::MemoryStorage;
use support::{T0, open_memory, open_memory_at, red_packet, runtime, seckill};

/// How long the test lets a read that should be waiting run before checking it still waits.
///
/// This one check runs on real time, on purpose: what it guards against is the writer
/// announcing a batch durable before its fsync returns, an event on the writer's own OS
/// thread, which no manual or paused clock can stand in for (paused tokio time would not wait
/// for that thread at all). A wrong announcement would come microseconds after the batch is
/// applied, which the test has already seen; the wait gives it a hundred milliseconds to show
/// up. It is bounded: the check costs 100 ms, far below the read's own limit (the patient
/// guard's 10 s reply timeout, after which the read would answer `degraded`). Longer only
/// makes the check stronger: a read that answered early is a failure whatever this is.
const STILL_WAITING_AFTER: Duration = Duration::from_millis(100);

/// Polls (on tokio's clock) until `condition` holds; fails after 5 s.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn an_expired_packet_is_shown_only_once_durable_and_published() {
    let storage = MemoryStorage::new(1);
    let clock = ManualClock::new(T0);
    let engine = open_memory_at(&storage, Durability::Fsync, 7, &clock);
    runtime().block_on(async {
        let campaign = engine
            .create_campaign(red_packet(1_000, 10))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        let GrabOutcome::Won(ticket) = engine
            .grab(campaign, &stampede_core::UserId::parse("alice").unwrap())
            .await
            .unwrap()
        else {
            panic!("alice wins a packet");
        };
        let view = engine.campaign(campaign).expect("published");
        assert_eq!(view.refundable_cents(), 0);

        // The writer's timer expires the packet; its batch blocks in the stalled fsync.
        storage.stall_syncs();
        clock.advance(Duration::from_secs(
            stampede_core::DEFAULT_CLAIM_WINDOW_SECS + 1,
        ));
        wait_until("the timer decides the expiry", || {
            engine
                .order(ticket.order_id)
                .is_some_and(|o| o.state == OrderState::ClaimExpired)
        })
        .await;

        let read = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.order_now(ticket.order_id).await })
        };
        tokio::time::sleep(STILL_WAITING_AFTER).await;
        assert!(
            !read.is_finished(),
            "an expiry still in the stalled fsync was shown"
        );
        assert_eq!(view.refundable_cents(), 0, "published before durable");

        storage.resume_syncs();
        let (order, payments) = read.await.unwrap().unwrap().expect("the order exists");
        assert_eq!(order.state, OrderState::ClaimExpired);
        assert!(payments.is_empty());
        assert_eq!(
            view.refundable_cents(),
            ticket.amount_cents.0,
            "shown claim_expired, so its money is refundable"
        );
    });
    engine.shutdown();
}

#[test]
fn a_read_of_a_batch_whose_fsync_fails_answers_unavailable() {
    let storage = MemoryStorage::new(2);
    let engine = open_memory(&storage, Durability::Fsync, 8);
    runtime().block_on(async {
        let campaign = engine
            .create_campaign(seckill(10, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        storage.stall_syncs();
        storage.fail_next_sync();
        let grab = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .grab(campaign, &stampede_core::UserId::parse("bob").unwrap())
                    .await
            })
        };
        wait_until("the writer decides bob's win", || {
            engine.inspect(|ledger| ledger.order_count()) == 1
        })
        .await;

        let page = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.winners_page(campaign, 0, 10).await })
        };
        tokio::time::sleep(STILL_WAITING_AFTER).await;
        assert!(
            !page.is_finished(),
            "a win still in the stalled fsync was listed"
        );

        storage.resume_syncs();
        assert!(matches!(
            grab.await.unwrap(),
            Err(EngineError::Unavailable(_))
        ));
        match page.await.unwrap() {
            Err(EngineError::Unavailable(_)) => {}
            other => panic!("a lost win must not be listed: {other:?}"),
        }
        // Fail-stop: later reads that could see the lost batch are refused too.
        assert!(matches!(
            engine.winners_page(campaign, 0, 10).await,
            Err(EngineError::Unavailable(_))
        ));
    });
    engine.shutdown();
}

#[test]
fn reads_of_durable_state_answer_at_once() {
    let storage = MemoryStorage::new(3);
    let engine = open_memory(&storage, Durability::Fsync, 9);
    runtime().block_on(async {
        let campaign = engine
            .create_campaign(seckill(10, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        let GrabOutcome::Won(ticket) = engine
            .grab(campaign, &stampede_core::UserId::parse("carol").unwrap())
            .await
            .unwrap()
        else {
            panic!("carol wins");
        };
        // Nothing in flight: the read needs no wait, even with the disk stalled.
        storage.stall_syncs();
        let (page, next) = engine
            .winners_page(campaign, 0, 10)
            .await
            .unwrap()
            .expect("the campaign exists");
        assert_eq!(next, None);
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id, ticket.order_id);
        storage.resume_syncs();
    });
    engine.shutdown();
}
