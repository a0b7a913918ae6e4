//! Which job refunds a payment on a cluster: the desk that minted its transaction id (only
//! its channel's books hold it), whatever the node's role; the shard's leader refunds what
//! no scoped desk minted. And which channels a job asks about stale `paying` orders.

use std::sync::Arc;
use std::time::Duration;

use stampede_core::{Cents, ChannelName, Payment, UnixMillis};
use stampede_engine::ManualClock;
use stampede_money::{DeskConfig, PaymentDesk, SimChannelConfig};

fn desk(scope: Option<&str>, books: &std::path::Path) -> PaymentDesk {
    PaymentDesk::new(
        DeskConfig {
            channels: vec![SimChannelConfig {
                auto_pay: false,
                ..SimChannelConfig::default()
            }],
            books_dir: books.to_path_buf(),
            call_timeout: Duration::from_secs(5),
            query_after: Duration::from_secs(60),
            rng_seed: 1,
            txn_scope: scope.map(str::to_owned),
        },
        Arc::new(ManualClock::new(UnixMillis(1_796_000_000_000))),
    )
    .unwrap()
}

fn paid(channel: &str, txn_id: &str) -> Payment {
    Payment {
        channel: ChannelName::parse(channel).unwrap(),
        txn_id: txn_id.to_owned(),
        amount_cents: Cents(990),
        paid_at: UnixMillis(1_796_000_000_000),
    }
}

#[test]
fn the_minting_desk_refunds_its_own_and_the_leader_the_unscoped() {
    let books = tempfile::tempdir().unwrap();
    let node1 = desk(Some("node-1.s3"), books.path());
    // (payment, refunded here when leading, when following)
    let cases = [
        (paid("sim", "sim-node-1.s3-17"), true, true),
        (paid("sim", "sim-node-2.s3-5"), false, false),
        (paid("sim", "sim-42"), true, false),
        (paid("other", "anything"), true, false),
    ];
    for (payment, leading, following) in &cases {
        assert_eq!(node1.refunds_here(payment, true), *leading, "{payment:?}");
        assert_eq!(
            node1.refunds_here(payment, false),
            *following,
            "{payment:?}"
        );
    }
    // Queries: the leader asks every channel; a follower only its own scoped sim channels.
    let (sim, other) = (
        ChannelName::parse("sim").unwrap(),
        ChannelName::parse("other").unwrap(),
    );
    assert!(node1.queries_here(&sim, true) && node1.queries_here(&other, true));
    assert!(node1.queries_here(&sim, false));
    assert!(!node1.queries_here(&other, false));
    // A single node's desk mints unscoped ids: its one job refunds everything.
    let single_books = tempfile::tempdir().unwrap();
    let single = desk(None, single_books.path());
    for (payment, _, _) in &cases {
        assert!(single.refunds_here(payment, true), "{payment:?}");
    }
}
