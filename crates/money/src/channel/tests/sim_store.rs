//! [`SimChannel::open`]: the simulated channel's books on disk, remembered across restarts
//! of our server (payments, refunds, payment sessions), and a torn last line cut.

use std::time::Duration;

use tokio::time::sleep;

use super::*;
use crate::channel::{ChannelError, PaymentChannel};
use stampede_core::ChannelName;

/// A default channel keeping its books at `path`.
fn open_default(path: &std::path::Path) -> SimChannel {
    SimChannel::open(
        SimChannelConfig::default(),
        Arc::new(ManualClock::new(START)),
        path,
    )
    .expect("opens")
}

/// Appends half a line, as a process that died mid-write leaves.
fn append_torn_line(path: &std::path::Path) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(b"p\to_000").unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_opened_channel_remembers_payments_and_refunds_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channel-sim.log");
    let open = || open_default(&path);
    let channel = open();
    let paid = channel.pay_now(order(1), AMOUNT).expect("room");
    let refunded = channel.pay_now(order(2), AMOUNT).expect("room");
    let receipt = channel.refund(&refunded, "key-2").await.expect("refund");
    let statement = channel.statement();
    drop(channel);

    let channel = open();
    assert_eq!(channel.payments_of(order(1)), vec![paid]);
    assert_eq!(channel.statement(), statement);
    assert_eq!(channel.refund_count(), 1);
    // The same refund asked again after the restart: the first receipt, nothing refunded.
    assert_eq!(
        channel.refund(&refunded, "key-2").await.expect("repeat"),
        receipt
    );
    assert_eq!(channel.refund_count(), 1);
    assert!(matches!(
        channel.refund(&refunded, "another-key").await,
        Err(ChannelError::Declined(_))
    ));
    // New transaction ids continue after the old ones.
    let next = channel.pay_now(order(3), AMOUNT).expect("room");
    assert_eq!(next.txn_id, "sim-3");
    drop(channel);

    // A torn last line (the process died mid-write) is cut; the rest is kept.
    append_torn_line(&path);
    let channel = open();
    assert_eq!(channel.payment_count(), 3);
    let fourth = channel.pay_now(order(4), AMOUNT).expect("room");
    assert_eq!(fourth.txn_id, "sim-4");
    drop(channel);
    assert_eq!(open().payment_count(), 4, "the line after the cut is whole");

    std::fs::write(&path, "nonsense\n").unwrap();
    assert!(
        SimChannel::open(
            SimChannelConfig::default(),
            Arc::new(ManualClock::new(START)),
            &path
        )
        .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn an_order_paid_before_a_restart_is_not_paid_again_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channel-sim.log");
    let open = || {
        let config = SimChannelConfig {
            pay_delay_ms: 10,
            ..SimChannelConfig::default()
        };
        SimChannel::open(config, Arc::new(ManualClock::new(START)), &path).expect("opens")
    };
    let channel = open();
    let first = channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_millis(50)).await;
    assert_eq!(channel.payments_of(order(1)).len(), 1, "paid");
    drop(channel);

    let channel = open();
    let again = channel.pay(order(1), AMOUNT).await.expect("pay again");
    assert_eq!(
        first, again,
        "the same session, remembered across the restart"
    );
    sleep(Duration::from_millis(50)).await;
    assert_eq!(channel.pending_deliveries(), 0, "no second customer");
    assert_eq!(channel.payments_of(order(1)).len(), 1, "still paid once");
    channel.pay(order(2), AMOUNT).await.expect("a new order");
    sleep(Duration::from_millis(50)).await;
    assert_eq!(
        channel.payment_count(),
        2,
        "new orders still get a customer"
    );
}

/// Someone else reading the books (`stampede reconcile`) sees the channel's own statement,
/// leaves a torn last line out rather than cutting it, and creates nothing.
#[tokio::test(start_paused = true)]
async fn the_books_read_from_outside_give_the_channels_statement_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::channel::books_file_name(
        &ChannelName::parse("sim").unwrap(),
    ));
    let missing = crate::channel::read_books_statement(&path, &ChannelName::parse("sim").unwrap());
    assert!(missing.is_err());
    assert!(!path.exists(), "reading creates nothing");
    let channel = SimChannel::open(
        SimChannelConfig::default(),
        Arc::new(ManualClock::new(START)),
        &path,
    )
    .expect("opens");
    channel.pay_now(order(1), AMOUNT).expect("room");
    let refunded = channel.pay_now(order(2), AMOUNT).expect("room");
    channel.refund(&refunded, "key-2").await.expect("refund");
    append_torn_line(&path);
    let before = std::fs::read(&path).unwrap();
    let read = crate::channel::read_books_statement(&path, &ChannelName::parse("sim").unwrap())
        .expect("readable");
    assert_eq!(read, channel.statement());
    assert_eq!(read.len(), 2);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the torn line is left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_scoped_channel_mints_ids_in_its_scope_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channel-sim.log");
    let open = || open_default(&path).with_txn_scope("node-1.s3");
    let channel = open();
    assert_eq!(channel.txn_prefix().as_deref(), Some("sim-node-1.s3-"));
    let first = channel.pay_now(order(1), AMOUNT).expect("room");
    assert_eq!(first.txn_id, "sim-node-1.s3-1");
    drop(channel);
    // Reopened, it goes on from where its books end: no id is minted twice.
    let second = open().pay_now(order(2), AMOUNT).expect("room");
    assert_eq!(second.txn_id, "sim-node-1.s3-2");
    // Unscoped (a single node), ids and statements are as ever.
    let plain = SimChannel::new(
        SimChannelConfig::default(),
        Arc::new(ManualClock::new(START)),
    );
    assert_eq!(plain.txn_prefix(), None);
    assert_eq!(
        plain.pay_now(order(1), AMOUNT).expect("room").txn_id,
        "sim-1"
    );
}
