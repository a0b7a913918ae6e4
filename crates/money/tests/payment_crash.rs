//! Payments across crashes, through the engine: on real files, a recorded payment and the
//! order's `paid` state survive a crash and a retry of the same callback changes nothing; a
//! refund the channel made but whose confirmation was never journaled is asked for again after
//! the restart under the same key, and the channel answers the first receipt (it refunded
//! once). On fault-injecting memory: the refund job is never offered a refund from a batch the
//! journal lost, so the channel never gives back money that ends up paying an order.

use stampede_testkit as support;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stampede_core::{
    CampaignId, GrabOutcome, OrderId, OrderOutcome, OrderState, Payment, PaymentKind,
    PaymentOutcome, RefundStatus, refund_key,
};
use stampede_engine::{Durability, Engine, EngineConfig, EngineError, ManualClock, Recovered};
use stampede_journal::MemoryStorage;
use stampede_money::{PaymentChannel, SimChannel, SimChannelConfig};
use support::{T0, open_memory_at, patient_guard, runtime, seckill};

/// The channel the customers pay on; it lives across the engine's crashes (its books are
/// another company's).
fn sim_channel(clock: &ManualClock) -> SimChannel {
    let config = SimChannelConfig {
        auto_pay: false,
        ..SimChannelConfig::default()
    };
    SimChannel::new(config, Arc::new(clock.clone()))
}

fn open_file(journal: &Path, clock: &ManualClock) -> (Engine, Recovered) {
    let config = EngineConfig {
        journal_path: journal.to_path_buf(),
        durability: Durability::Fsync,
        rng_seed: Some(1),
        snapshot_every_records: stampede_engine::DEFAULT_SNAPSHOT_EVERY_RECORDS,
    };
    // The patient guard: a slow fsync on a busy machine must not turn into `degraded`.
    Engine::open_guarded(&config, patient_guard(), Arc::new(clock.clone())).expect("engine opens")
}

/// A crash: the engine is dropped without `shutdown` (its writer stops at once, as the process
/// would), and the journal ends in the torn first bytes of a batch that was being written.
fn crash(engine: Engine, journal: &Path) {
    drop(engine);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(journal)
        .unwrap();
    // A frame header cut short: magic, then part of a length.
    file.write_all(b"StJ2\x40\x00").unwrap();
    file.sync_all().unwrap();
}

async fn win(engine: &Engine, campaign: CampaignId, user: &str) -> (OrderId, stampede_core::Cents) {
    match engine
        .grab(campaign, &stampede_core::UserId::parse(user).unwrap())
        .await
        .unwrap()
    {
        GrabOutcome::Won(ticket) => (ticket.order_id, ticket.amount_cents),
        other => panic!("{user} did not win: {other:?}"),
    }
}

/// The refund job, as the API runs it: every pending refund is refunded at the channel under
/// the payment's refund key, and the receipt is confirmed. Answers the receipts.
async fn refund_pass(engine: &Engine, channel: &SimChannel) -> Vec<String> {
    let mut receipts = Vec::new();
    // Not durable yet (or the journal failed): nothing is refunded now.
    let Ok(pending) = engine.pending_refunds(16).await else {
        return receipts;
    };
    for refund in pending {
        let key = refund_key(&refund.payment);
        let Ok(receipt) = channel.refund(&refund.payment, &key).await else {
            continue;
        };
        let _ = (engine.confirm_refund(refund.order_id, refund.payment, receipt.refund_id.clone()))
            .await;
        receipts.push(receipt.refund_id);
    }
    receipts
}

#[test]
fn a_recorded_payment_survives_a_crash_and_its_retry_changes_nothing() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.log");
        let clock = ManualClock::new(T0);
        let channel = sim_channel(&clock);
        let (engine, _) = open_file(&journal, &clock);
        let campaign = engine.create_campaign(seckill(2, 1)).await.unwrap().created().unwrap().id;
        let (order, amount) = win(&engine, campaign, "alice").await;
        let started = engine.start_payment(order, &stampede_core::UserId::parse("alice").unwrap(), &stampede_core::ChannelName::parse("sim").unwrap()).await.unwrap();
        assert!(matches!(started, OrderOutcome::Moved(ref o) if o.state == OrderState::Paying));
        let payment = channel.pay_now(order, amount).unwrap();
        let recorded = engine.record_payment(order, payment.clone()).await.unwrap();
        assert!(
            matches!(recorded, PaymentOutcome::Recorded { ref order, kind: PaymentKind::Settled }
                if order.state == OrderState::Paid),
            "{recorded:?}"
        );
        crash(engine, &journal);

        let (engine, recovered) = open_file(&journal, &clock);
        assert!(recovered.truncated_tail_bytes > 0, "the torn tail was cut");
        assert_paid_by(&engine, order, &payment);
        // The channel retries the same callback: the same answer, nothing written.
        let retried = engine.record_payment(order, payment.clone()).await.unwrap();
        assert!(
            matches!(retried, PaymentOutcome::AlreadyRecorded { ref order, kind: PaymentKind::Settled }
                if order.state == OrderState::Paid),
            "{retried:?}"
        );
        assert_eq!(engine.writer_counts().journal_records, 0, "a retry wrote a record");
        assert_eq!(engine.campaign(campaign).unwrap().remaining(), 1);
        assert!(engine.pending_refunds(16).await.unwrap().is_empty());
        crash(engine, &journal);

        let (engine, again) = open_file(&journal, &clock);
        assert_eq!(again.records, recovered.records, "the retry left a record");
        assert_paid_by(&engine, order, &payment);
        // Past the payment window, a paid order does not expire: its item stays sold.
        clock.advance(Duration::from_secs(3_600));
        engine.expire_due().await.unwrap();
        assert_eq!(engine.order(order).unwrap().state, OrderState::Paid);
        assert_eq!(engine.campaign(campaign).unwrap().remaining(), 1);
        engine.shutdown();
    });
}

fn assert_paid_by(engine: &Engine, order: OrderId, payment: &Payment) {
    assert_eq!(engine.order(order).unwrap().state, OrderState::Paid);
    let entries = engine.inspect(|ledger| {
        ledger.assert_invariants();
        ledger.payments_of(order)
    });
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(&entries[0].payment, payment);
    assert_eq!(entries[0].kind, PaymentKind::Settled);
    assert_eq!(entries[0].refund, None);
}

#[test]
fn a_refund_made_but_not_confirmed_before_a_crash_is_asked_again_under_the_same_key() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.log");
        let clock = ManualClock::new(T0);
        let channel = sim_channel(&clock);
        let (engine, _) = open_file(&journal, &clock);
        let campaign = engine
            .create_campaign(seckill(2, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        let (order, amount) = win(&engine, campaign, "alice").await;
        engine
            .start_payment(
                order,
                &stampede_core::UserId::parse("alice").unwrap(),
                &stampede_core::ChannelName::parse("sim").unwrap(),
            )
            .await
            .unwrap();
        let cancelled = engine
            .cancel(order, Some(&stampede_core::UserId::parse("alice").unwrap()))
            .await
            .unwrap();
        assert!(
            matches!(cancelled, OrderOutcome::Moved(ref o) if o.state == OrderState::Cancelled)
        );
        // The customer pays after cancelling: a late payment, refunded; the item stays back.
        let payment = channel.pay_now(order, amount).unwrap();
        let late = engine.record_payment(order, payment.clone()).await.unwrap();
        assert!(
            matches!(late, PaymentOutcome::Recorded { ref order, kind: PaymentKind::Late }
                if order.state == OrderState::RefundPending),
            "{late:?}"
        );
        // The refund job refunds at the channel, and the process dies before confirming.
        let key = refund_key(&payment);
        let first = channel.refund(&payment, &key).await.unwrap();
        assert_eq!(channel.refund_count(), 1);
        crash(engine, &journal);

        let (engine, _) = open_file(&journal, &clock);
        assert_eq!(
            engine.order(order).unwrap().state,
            OrderState::RefundPending,
            "the late payment survived the crash"
        );
        assert_eq!(engine.campaign(campaign).unwrap().remaining(), 2);
        let pending = engine.pending_refunds(16).await.unwrap();
        assert_eq!(pending.len(), 1, "the unconfirmed refund is pending again");
        assert_eq!(pending[0].payment, payment);
        // The restarted job asks again under the same key: the first receipt, no new refund.
        assert_eq!(
            refund_pass(&engine, &channel).await,
            vec![first.refund_id.clone()],
            "the channel answers a repeated refund key with its first receipt"
        );
        assert_eq!(channel.refund_count(), 1, "the channel refunded twice");
        assert_eq!(engine.order(order).unwrap().state, OrderState::Refunded);
        crash(engine, &journal);

        let (engine, _) = open_file(&journal, &clock);
        assert_eq!(
            engine.order(order).unwrap().state,
            OrderState::Refunded,
            "the acknowledged refund confirmation survived the crash"
        );
        let entries = engine.inspect(|ledger| ledger.payments_of(order));
        assert!(
            matches!(&entries[..], [entry] if entry.kind == PaymentKind::Late
                && matches!(&entry.refund, Some(RefundStatus::Refunded { refund_id, .. })
                    if *refund_id == first.refund_id)),
            "{entries:?}"
        );
        assert!(engine.pending_refunds(16).await.unwrap().is_empty());
        assert!(refund_pass(&engine, &channel).await.is_empty());
        let again = engine
            .confirm_refund(order, payment, first.refund_id)
            .await
            .unwrap();
        assert!(!again, "a confirmed refund is confirmed once");
        assert_eq!(channel.refund_count(), 1);
        assert_eq!(engine.campaign(campaign).unwrap().remaining(), 2);
        engine.shutdown();
    });
}

/// Waits (bounded) until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..5_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting until {what}");
}

/// A customer pays an order twice; both callbacks are decided in one batch (settled, then
/// duplicate: a refund opened), and that batch's append fails, so nothing of it is durable and
/// the engine stops writing until restarted. The refund job keeps running meanwhile, as it
/// does in the server. It must not be offered that refund: were it refunded, the restarted
/// engine, hearing the callbacks again in another order, would settle the order with the
/// refunded payment and refund the other one too, giving the order away for nothing.
#[test]
fn no_refund_is_made_from_a_batch_the_journal_lost() {
    let rt = runtime();
    rt.block_on(async {
        let storage = MemoryStorage::new(7);
        let clock = ManualClock::new(T0);
        let channel = sim_channel(&clock);
        let engine = open_memory_at(&storage, Durability::Fsync, 7, &clock);
        let campaign = engine
            .create_campaign(seckill(2, 1))
            .await
            .unwrap()
            .created()
            .unwrap()
            .id;
        let (order, amount) = win(&engine, campaign, "alice").await;
        let first = channel.pay_now(order, amount).unwrap();
        let second = channel.pay_now(order, amount).unwrap();

        // Hold the writer in a batch's fsync so both callbacks queue behind it.
        storage.stall_syncs();
        let written = storage.bytes().len();
        let held = tokio::spawn({
            let engine = engine.clone();
            async move {
                engine
                    .grab(campaign, &stampede_core::UserId::parse("bob").unwrap())
                    .await
            }
        });
        wait_until("the writer waits in fsync", || {
            storage.bytes().len() > written
        })
        .await;
        let callbacks: Vec<_> = [first.clone(), second.clone()]
            .into_iter()
            .map(|payment| {
                let engine = engine.clone();
                tokio::spawn(async move { engine.record_payment(order, payment).await })
            })
            .collect();
        for _ in 0..8 {
            tokio::task::yield_now().await; // both callbacks are queued
        }
        storage.fail_next_append();
        storage.resume_syncs();
        assert!(matches!(held.await.unwrap(), Ok(GrabOutcome::Won(_))));
        for callback in callbacks {
            let answer = callback.await.unwrap();
            assert!(
                matches!(answer, Err(EngineError::Unavailable(_))),
                "{answer:?}"
            );
        }
        assert!(engine.is_poisoned());

        // The refund job runs on the stopped engine.
        let refunded = refund_pass(&engine, &channel).await;
        assert_eq!(
            refunded,
            Vec::<String>::new(),
            "a refund was made from a batch the journal lost"
        );
        engine.shutdown();
        storage.crash_keeping(0, &[]);

        // Restarted: the channel retries the callbacks, the second one first.
        let engine = open_memory_at(&storage, Durability::Fsync, 8, &clock);
        assert_eq!(
            engine.order(order).unwrap().state,
            OrderState::PendingPayment
        );
        for payment in [second, first] {
            engine.record_payment(order, payment).await.unwrap();
        }
        while !refund_pass(&engine, &channel).await.is_empty() {}
        assert_eq!(engine.order(order).unwrap().state, OrderState::Paid);
        // The channel took the price twice and must give it back exactly once.
        assert_eq!(channel.payment_count(), 2);
        assert_eq!(
            channel.refund_count(),
            1,
            "the channel gave back the money of a paid order"
        );
        engine.shutdown();
    });
}
