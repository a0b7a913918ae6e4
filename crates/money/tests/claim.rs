//! Red-packet claims through the engine: exactly one payout per packet across repeated and
//! concurrent claims, crashes and restarts; unclaimed packets expire and become refundable.

use stampede_testkit as support;

use std::sync::Arc;
use std::time::Duration;

use stampede_core::{CampaignSpec, Cents, GrabOutcome, OrderId, OrderState, UserId};
use stampede_engine::{Durability, Engine, ManualClock};
use stampede_journal::MemoryStorage;
use stampede_money::payout::PayoutFuture;
use stampede_money::{ClaimOutcome, Claims, Payout, PayoutError, PayoutReceipt, SimulatedPayout};
use support::{T0, open_memory_at, red_packet, runtime};

async fn win_packet(engine: &Engine, user: &str, spec: CampaignSpec) -> OrderId {
    let view = engine
        .create_campaign(spec)
        .await
        .unwrap()
        .created()
        .unwrap();
    match engine
        .grab(view.id, &stampede_core::UserId::parse(user).unwrap())
        .await
        .unwrap()
    {
        GrabOutcome::Won(ticket) => ticket.order_id,
        other => panic!("{other:?}"),
    }
}

/// The requester `name` (a valid user id).
fn user(name: &str) -> Option<UserId> {
    Some(UserId::parse(name).unwrap())
}

fn claimed(outcome: ClaimOutcome) -> String {
    match outcome {
        ClaimOutcome::Claimed(order, payout) => {
            assert_eq!(order.state, OrderState::Claimed);
            payout.to_string()
        }
        other => panic!("not claimed: {other:?}"),
    }
}

/// Polls the order, read durably (the raw ledger shows an expiry before its batch is durable
/// and published), until the writer's timer has expired its claim; fails after 5 s.
async fn wait_until_claim_expired(engine: &Engine, order: OrderId) {
    for _ in 0..500 {
        let state = engine
            .read_durable(|ledger| ledger.order(order))
            .await
            .unwrap()
            .unwrap()
            .state;
        if state == OrderState::ClaimExpired {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("claim of {order} not expired within 5 s");
}

#[test]
fn repeated_and_concurrent_claims_pay_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let storage = MemoryStorage::new(1);
        let clock = ManualClock::new(T0);
        let engine = open_memory_at(&storage, Durability::Fsync, 1, &clock);
        let provider = Arc::new(SimulatedPayout::new());
        let order = win_packet(&engine, "alice", red_packet(1_000, 10)).await;

        let claims = Claims::new(engine.clone(), provider.clone());
        assert_eq!(
            claims.claim(order, user("bob")).await.unwrap(),
            ClaimOutcome::NotFound
        );
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let claims = claims.clone();
            tasks.push(tokio::spawn(async move {
                claims.claim(order, user("alice")).await.unwrap()
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(claimed(task.await.unwrap()));
        }
        ids.push(claimed(claims.claim(order, None).await.unwrap()));
        ids.dedup();
        assert_eq!(
            ids.len(),
            1,
            "every claim answers the first payout: {ids:?}"
        );
        assert_eq!(provider.payout_count(), 1);
        engine.inspect(|ledger| ledger.assert_invariants());
        engine.shutdown();
    });
}

#[test]
fn a_declined_payout_leaves_the_packet_claimable() {
    runtime().block_on(async {
        let storage = MemoryStorage::new(2);
        let clock = ManualClock::new(T0);
        let engine = open_memory_at(&storage, Durability::Fsync, 2, &clock);
        let provider = Arc::new(SimulatedPayout::new());
        let order = win_packet(&engine, "alice", red_packet(1_000, 10)).await;
        provider.decline_next();
        let outcome = Claims::new(engine.clone(), provider.clone())
            .claim(order, user("alice"))
            .await
            .unwrap();
        assert!(matches!(outcome, ClaimOutcome::Declined(ref o, _) if o.state == OrderState::Won));
        assert_eq!(provider.payout_count(), 0);
        claimed(
            Claims::new(engine.clone(), provider.clone())
                .claim(order, user("alice"))
                .await
                .unwrap(),
        );
        assert_eq!(provider.payout_count(), 1);
        engine.shutdown();
    });
}

/// A provider whose answers are always lost and which never pays (the crash happened before
/// the request reached it).
#[derive(Debug)]
struct Unreachable;

impl Payout for Unreachable {
    fn pay<'a>(
        &'a self,
        _: OrderId,
        _: &'a UserId,
        _: Cents,
        _: &'a str,
    ) -> PayoutFuture<'a, Result<PayoutReceipt, PayoutError>> {
        Box::pin(std::future::ready(Err(PayoutError::Unknown("down".into()))))
    }
    fn query<'a>(
        &'a self,
        _: &'a str,
    ) -> PayoutFuture<'a, Result<Option<PayoutReceipt>, PayoutError>> {
        Box::pin(std::future::ready(Err(PayoutError::Unknown("down".into()))))
    }
}

#[test]
fn a_restart_settles_claiming_orders_through_query_without_paying_twice() {
    runtime().block_on(async {
        let storage = MemoryStorage::new(3);
        let clock = ManualClock::new(T0);
        let provider = Arc::new(SimulatedPayout::new());
        let engine = open_memory_at(&storage, Durability::Fsync, 3, &clock);
        let view = engine
            .create_campaign(red_packet(1_000, 10))
            .await
            .unwrap()
            .created()
            .unwrap();
        let mut won = Vec::new();
        for user in ["alice", "bob"] {
            match engine
                .grab(view.id, &stampede_core::UserId::parse(user).unwrap())
                .await
                .unwrap()
            {
                GrabOutcome::Won(t) => won.push(t.order_id),
                other => panic!("{other:?}"),
            }
        }
        let (paid, unpaid) = (won[0], won[1]);
        // Alice's payout happens but its answer is lost; Bob's never reaches the provider.
        provider.fail_after_paying_next();
        assert!(
            Claims::new(engine.clone(), provider.clone())
                .claim(paid, None)
                .await
                .is_err()
        );
        assert!(
            Claims::new(engine.clone(), Arc::new(Unreachable))
                .claim(unpaid, None)
                .await
                .is_err()
        );
        assert_eq!(engine.order(paid).unwrap().state, OrderState::Claiming);
        assert_eq!(engine.order(unpaid).unwrap().state, OrderState::Claiming);
        assert_eq!(provider.payout_count(), 1);
        engine.shutdown();
        drop(engine);

        // "Crash": reopen on the same storage; replay leaves both claiming.
        let engine = open_memory_at(&storage, Durability::Fsync, 4, &clock);
        assert_eq!(engine.order(paid).unwrap().state, OrderState::Claiming);
        assert_eq!(
            Claims::new(engine.clone(), provider.clone())
                .resolve_claims()
                .await
                .unwrap(),
            2
        );
        assert_eq!(engine.order(paid).unwrap().state, OrderState::Claimed);
        assert_eq!(engine.order(unpaid).unwrap().state, OrderState::Won);
        assert_eq!(provider.payout_count(), 1, "the restart paid nothing");
        claimed(
            Claims::new(engine.clone(), provider.clone())
                .claim(paid, None)
                .await
                .unwrap(),
        );
        assert_eq!(provider.payout_count(), 1);
        claimed(
            Claims::new(engine.clone(), provider.clone())
                .claim(unpaid, None)
                .await
                .unwrap(),
        );
        assert_eq!(provider.payout_count(), 2);
        engine.shutdown();
        drop(engine);

        // And the settlement itself is durable.
        let engine = open_memory_at(&storage, Durability::Fsync, 5, &clock);
        assert_eq!(engine.order(paid).unwrap().state, OrderState::Claimed);
        assert_eq!(
            Claims::new(engine.clone(), provider.clone())
                .resolve_claims()
                .await
                .unwrap(),
            0
        );
        engine.inspect(|ledger| ledger.assert_invariants());
        engine.shutdown();
    });
}

#[test]
fn unclaimed_packets_expire_and_become_refundable() {
    runtime().block_on(async {
        let storage = MemoryStorage::new(6);
        let clock = ManualClock::new(T0);
        let engine = open_memory_at(&storage, Durability::Fsync, 6, &clock);
        let CampaignSpec::RedPacket(mut spec) = red_packet(1_000, 10) else {
            unreachable!()
        };
        spec.claim_window_secs = 1;
        let order = win_packet(&engine, "alice", CampaignSpec::RedPacket(spec)).await;
        let amount = engine.order(order).unwrap().amount_cents.0;
        let campaign = engine.order(order).unwrap().campaign_id;
        clock.advance(Duration::from_secs(2));
        // The writer's timer expires it.
        wait_until_claim_expired(&engine, order).await;
        assert_eq!(
            engine.campaign(campaign).unwrap().refundable_cents(),
            amount
        );
        let outcome = Claims::new(engine.clone(), Arc::new(SimulatedPayout::new()))
            .claim(order, None)
            .await
            .unwrap();
        assert!(matches!(outcome, ClaimOutcome::InvalidTransition(_)));
        engine.shutdown();
        drop(engine);
        let engine = open_memory_at(&storage, Durability::Fsync, 7, &clock);
        assert_eq!(
            engine.campaign(campaign).unwrap().refundable_cents(),
            amount
        );
        engine.shutdown();
    });
}

/// A provider that declines, but only after the clock has passed the packet's claim deadline
/// and an expiry pass has run while the packet was `claiming` (so the writer's pass found
/// nothing due then).
#[derive(Debug)]
struct DeclinesPastTheDeadline {
    engine: Engine,
    clock: ManualClock,
}

impl Payout for DeclinesPastTheDeadline {
    fn pay<'a>(
        &'a self,
        _: OrderId,
        _: &'a UserId,
        _: Cents,
        _: &'a str,
    ) -> PayoutFuture<'a, Result<PayoutReceipt, PayoutError>> {
        Box::pin(async move {
            self.clock.advance(Duration::from_secs(2));
            assert_eq!(self.engine.expire_due().await.unwrap(), 0, "claiming");
            Err(PayoutError::Declined("account closed".into()))
        })
    }
    fn query<'a>(
        &'a self,
        _: &'a str,
    ) -> PayoutFuture<'a, Result<Option<PayoutReceipt>, PayoutError>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// A declined payout puts the packet back to `won` under its first claim deadline, here
/// already past: the writer's own timer (no explicit expiry pass) expires it and its amount
/// becomes refundable.
#[test]
fn a_packet_declined_past_its_deadline_expires_on_the_writers_timer() {
    runtime().block_on(async {
        let storage = MemoryStorage::new(8);
        let clock = ManualClock::new(T0);
        let engine = open_memory_at(&storage, Durability::Fsync, 8, &clock);
        let CampaignSpec::RedPacket(mut spec) = red_packet(1_000, 10) else {
            unreachable!()
        };
        spec.claim_window_secs = 1;
        let order = win_packet(&engine, "alice", CampaignSpec::RedPacket(spec)).await;
        let (amount, campaign) = engine
            .order(order)
            .map(|o| (o.amount_cents.0, o.campaign_id))
            .unwrap();
        let provider = Arc::new(DeclinesPastTheDeadline {
            engine: engine.clone(),
            clock: clock.clone(),
        });
        let outcome = Claims::new(engine.clone(), provider)
            .claim(order, user("alice"))
            .await
            .unwrap();
        assert!(matches!(outcome, ClaimOutcome::Declined(..)), "{outcome:?}");
        wait_until_claim_expired(&engine, order).await;
        assert_eq!(
            engine.campaign(campaign).unwrap().refundable_cents(),
            amount
        );
        engine.shutdown();
    });
}
