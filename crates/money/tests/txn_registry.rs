//! The payments service with a transaction registry (a cluster node's): a payment is
//! recorded only once its transaction is claimed for its order; another order's claim
//! answers `txn_conflict` and records nothing; a registry that does not answer makes the
//! record `Unavailable` and records nothing (the channel retries).

use stampede_testkit as support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use stampede_core::{
    ChannelName, GrabOutcome, OrderId, OrderState, Payment, PaymentOutcome, UnixMillis, UserId,
};
use stampede_engine::{Durability, EngineError};
use stampede_journal::MemoryStorage;
use stampede_money::{
    DeskConfig, PaymentDesk, Payments, SimChannelConfig, TxnClaim, TxnFuture, TxnRegistry,
};
use support::{T0, open_memory, runtime, seckill};

/// The registry's semantics in memory (the cluster's is a NATS bucket, tested end to end in
/// the cluster tests): first claim wins; `down` answers nothing.
#[derive(Debug, Default)]
struct Registry {
    claims: Mutex<HashMap<(String, String), OrderId>>,
    down: std::sync::atomic::AtomicBool,
}

impl TxnRegistry for Registry {
    fn claim<'a>(
        &'a self,
        channel: &'a ChannelName,
        txn_id: &'a str,
        order: OrderId,
    ) -> TxnFuture<'a> {
        let answer = if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            Err("no answer".to_owned())
        } else {
            let key = (channel.as_str().to_owned(), txn_id.to_owned());
            let held = *self.claims.lock().entry(key).or_insert(order);
            Ok(if held == order {
                TxnClaim::Ours
            } else {
                TxnClaim::Other(held.to_string())
            })
        };
        Box::pin(std::future::ready(answer))
    }
}

fn payment(txn_id: &str) -> Payment {
    Payment {
        channel: ChannelName::parse("sim").unwrap(),
        txn_id: txn_id.to_owned(),
        amount_cents: stampede_core::Cents(990),
        paid_at: UnixMillis(T0.0),
    }
}

#[test]
fn a_transaction_is_recorded_only_for_the_order_that_claimed_it() {
    runtime().block_on(async {
        let engine = open_memory(&MemoryStorage::new(1), Durability::Fsync, 1);
        let books = tempfile::tempdir().unwrap();
        let desk = PaymentDesk::new(
            DeskConfig {
                channels: vec![SimChannelConfig {
                    auto_pay: false,
                    ..SimChannelConfig::default()
                }],
                books_dir: books.path().to_path_buf(),
                call_timeout: Duration::from_secs(5),
                query_after: Duration::from_secs(60),
                rng_seed: 1,
                txn_scope: None,
            },
            engine.clock(),
        )
        .unwrap();
        let registry = Arc::new(Registry::default());
        let payments = Payments::with_txns(
            engine.clone(),
            Arc::new(desk),
            Some(Arc::clone(&registry) as Arc<dyn TxnRegistry>),
        );
        let campaign = (engine.create_campaign(seckill(10, 1)).await.unwrap())
            .created()
            .unwrap()
            .id;
        let mut orders = Vec::new();
        for user in ["ann", "bob", "cat"] {
            let user = UserId::parse(user).unwrap();
            match engine.grab(campaign, &user).await.unwrap() {
                GrabOutcome::Won(ticket) => orders.push(ticket.order_id),
                other => panic!("{other:?}"),
            }
        }
        let state = |order| {
            let engine = engine.clone();
            async move { engine.order_now(order).await.unwrap().unwrap().0.state }
        };

        let paid = payments.record(orders[0], payment("t-1")).await.unwrap();
        assert!(matches!(paid, PaymentOutcome::Recorded { .. }), "{paid:?}");
        // Claimed by the first order (on another shard, on a cluster): refused, nothing recorded.
        let refused = payments.record(orders[1], payment("t-1")).await.unwrap();
        assert_eq!(refused, PaymentOutcome::TxnConflict);
        assert_eq!(state(orders[1]).await, OrderState::PendingPayment);
        // The first order's retry is its own claim.
        let again = payments.record(orders[0], payment("t-1")).await.unwrap();
        assert!(!matches!(again, PaymentOutcome::TxnConflict), "{again:?}");

        registry
            .down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let unknown = payments.record(orders[2], payment("t-2")).await;
        assert!(
            matches!(unknown, Err(EngineError::Unavailable(_))),
            "{unknown:?}"
        );
        assert_eq!(state(orders[2]).await, OrderState::PendingPayment);
        registry
            .down
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let later = payments.record(orders[2], payment("t-2")).await.unwrap();
        assert!(
            matches!(later, PaymentOutcome::Recorded { .. }),
            "{later:?}"
        );
        assert_eq!(state(orders[2]).await, OrderState::Paid);
    });
}
