//! [`SimChannel`]: callbacks (once, twice, late, dropped), double payments, refunds,
//! injected failures, bounds and determinism. Time is tokio's paused clock.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::*;
use crate::channel::{ChannelError, MAX_SIM_DELAY_MS, PaymentChannel, SimChannelConfigError};

const ALWAYS: u32 = 1_000_000;

fn config(edit: impl FnOnce(&mut SimChannelConfig)) -> SimChannelConfig {
    let mut config = SimChannelConfig::default();
    edit(&mut config);
    config
}

#[tokio::test(start_paused = true)]
async fn auto_pay_delivers_one_callback_after_the_pay_delay() {
    let (channel, sink) = sim_with_sink(config(|c| c.pay_delay_ms = 300));
    let instructions = channel.pay(order(1), AMOUNT).await.expect("pay");
    assert_eq!(instructions.channel, "sim");
    assert_eq!(instructions.amount_cents, AMOUNT);
    assert!(instructions.pay_url.starts_with("sim://sim/pay/"));
    sleep(Duration::from_millis(299)).await;
    assert!(sink.callbacks().is_empty(), "the customer has not paid yet");
    assert!(channel.payments_of(order(1)).is_empty());

    sleep(Duration::from_millis(10)).await;
    let callbacks = sink.callbacks();
    assert_eq!(callbacks.len(), 1);
    let (paid_order, payment) = &callbacks[0];
    assert_eq!(*paid_order, order(1));
    assert_eq!(payment.channel, "sim");
    assert_eq!(payment.txn_id, "sim-1");
    assert_eq!(payment.amount_cents, AMOUNT);
    assert_eq!(payment.paid_at, START);
    assert_eq!(payment.validate(), Ok(()));
    let queried = channel.query(order(1)).await.expect("query");
    assert_eq!(queried, vec![payment.clone()]);
    assert_eq!(channel.pending_deliveries(), 0);
    assert_eq!(channel.delivered_callbacks(), 1);
}

#[tokio::test(start_paused = true)]
async fn duplicate_callback_delivers_the_same_txn_twice() {
    let (channel, sink) = sim_with_sink(config(|c| c.duplicate_callback_rate_ppm = ALWAYS));
    channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_secs(1)).await;
    let callbacks = sink.callbacks();
    assert_eq!(callbacks.len(), 2);
    assert_eq!(callbacks[0], callbacks[1]);
    assert_eq!(
        channel.payments_of(order(1)).len(),
        1,
        "one payment, two callbacks"
    );
}

#[tokio::test(start_paused = true)]
async fn duplicate_payment_is_two_txns_both_delivered_and_queryable() {
    let (channel, sink) = sim_with_sink(config(|c| c.duplicate_payment_rate_ppm = ALWAYS));
    channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_secs(1)).await;
    let callbacks = sink.callbacks();
    assert_eq!(callbacks.len(), 2);
    assert_ne!(callbacks[0].1.txn_id, callbacks[1].1.txn_id);
    let queried = channel.query(order(1)).await.expect("query");
    let delivered: Vec<Payment> = callbacks.into_iter().map(|(_, payment)| payment).collect();
    assert_eq!(queried, delivered);
    assert_eq!(channel.statement().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn dropped_callback_is_found_only_by_query() {
    let (channel, sink) = sim_with_sink(config(|c| c.drop_callback_rate_ppm = ALWAYS));
    channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_secs(60)).await;
    assert!(sink.callbacks().is_empty());
    assert_eq!(channel.dropped_callbacks(), 1);
    let queried = channel.query(order(1)).await.expect("query");
    assert_eq!(queried.len(), 1);
    assert_eq!(queried[0].amount_cents, AMOUNT);
}

#[tokio::test(start_paused = true)]
async fn late_callback_arrives_after_the_late_delay() {
    let (channel, sink) = sim_with_sink(config(|c| {
        c.late_rate_ppm = ALWAYS;
        c.late_delay_ms = 5_000;
    }));
    channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_secs(1)).await;
    assert_eq!(channel.payments_of(order(1)).len(), 1, "paid already");
    assert!(sink.callbacks().is_empty(), "but not told yet");
    sleep(Duration::from_secs(5)).await;
    assert_eq!(sink.callbacks().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn declining_customer_never_pays() {
    let (channel, sink) = sim_with_sink(config(|c| c.decline_rate_ppm = ALWAYS));
    channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_secs(60)).await;
    assert!(sink.callbacks().is_empty());
    assert!(channel.payments_of(order(1)).is_empty());
    assert_eq!(channel.pending_deliveries(), 0);
}

#[tokio::test(start_paused = true)]
async fn without_a_sink_callbacks_are_dropped_but_queryable() {
    let channel = SimChannel::new(
        SimChannelConfig::default(),
        Arc::new(ManualClock::new(START)),
    );
    channel.pay(order(1), AMOUNT).await.expect("pay");
    sleep(Duration::from_secs(1)).await;
    assert_eq!(channel.dropped_callbacks(), 1);
    assert_eq!(channel.query(order(1)).await.expect("query").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn pay_now_pays_without_callback_until_delivered() {
    let (channel, sink) = sim_with_sink(SimChannelConfig::default());
    let payment = channel.pay_now(order(7), AMOUNT).expect("room");
    assert!(sink.callbacks().is_empty());
    assert_eq!(channel.payments_of(order(7)), vec![payment.clone()]);
    assert!(channel.deliver_callback(order(7), payment.clone()).await);
    assert_eq!(sink.callbacks(), vec![(order(7), payment)]);
}

#[tokio::test(start_paused = true)]
async fn refund_is_idempotent_by_key() {
    let (channel, _sink) = sim_with_sink(SimChannelConfig::default());
    let payment = channel.pay_now(order(1), AMOUNT).expect("room");
    let first = channel.refund(&payment, "refund-o1").await.expect("refund");
    assert_eq!(first.refund_id, "simr-1");
    let again = channel.refund(&payment, "refund-o1").await.expect("repeat");
    assert_eq!(again, first);
    assert_eq!(channel.refund_count(), 1);

    let declined = |result| matches!(result, Err(ChannelError::Declined(_)));
    assert!(
        declined(channel.refund(&payment, "other-key").await),
        "no second refund"
    );
    let other = channel.pay_now(order(2), AMOUNT).expect("room");
    assert!(
        declined(channel.refund(&other, "refund-o1").await),
        "key reused"
    );
    let mut unknown = other.clone();
    unknown.txn_id = "sim-999".into();
    assert!(declined(channel.refund(&unknown, "k").await));
    let mut wrong_amount = other.clone();
    wrong_amount.amount_cents = Cents(1);
    assert!(declined(channel.refund(&wrong_amount, "k").await));
    assert_eq!(channel.refund_count(), 1);
    assert_eq!(
        channel.statement().len(),
        2,
        "refunded payments stay in the statement"
    );
}

#[tokio::test(start_paused = true)]
async fn injected_failures_answer_unavailable_and_do_nothing() {
    let (channel, sink) = sim_with_sink(SimChannelConfig::default());
    let payment = channel.pay_now(order(1), AMOUNT).expect("room");
    channel.fail_next(3);
    let unavailable = |error: ChannelError| matches!(error, ChannelError::Unavailable(_));
    assert!(unavailable(
        channel.pay(order(2), AMOUNT).await.unwrap_err()
    ));
    assert!(unavailable(channel.query(order(1)).await.unwrap_err()));
    assert!(unavailable(
        channel.refund(&payment, "k").await.unwrap_err()
    ));
    assert_eq!(channel.refund_count(), 0);
    sleep(Duration::from_secs(1)).await;
    assert!(
        sink.callbacks().is_empty(),
        "the failed pay started no customer"
    );
    assert_eq!(channel.query(order(1)).await.expect("recovered").len(), 1);

    let (down, _) = sim_with_sink(config(|c| c.failure_rate_ppm = ALWAYS));
    for n in 0..10 {
        assert!(unavailable(down.pay(order(n), AMOUNT).await.unwrap_err()));
    }
}

#[tokio::test(start_paused = true)]
async fn every_call_waits_the_latency() {
    let (channel, _sink) = sim_with_sink(config(|c| c.latency_ms = 250));
    let started = Instant::now();
    channel.query(order(1)).await.expect("query");
    assert_eq!(started.elapsed(), Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn a_full_simulator_declines_pay() {
    let clock = Arc::new(ManualClock::new(START));
    let channel = SimChannel::with_limits(SimChannelConfig::default(), clock, 3, 10);
    channel.pay(order(1), AMOUNT).await.expect("reserves one");
    channel.pay_now(order(2), AMOUNT).expect("second");
    channel
        .pay(order(3), AMOUNT)
        .await
        .expect("third, reserved");
    let full = channel.pay(order(4), AMOUNT).await.unwrap_err();
    assert_eq!(full, ChannelError::Declined("simulator full".into()));
    assert!(channel.pay_now(order(4), AMOUNT).is_err());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(channel.payment_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn past_the_pending_bound_customers_pay_at_once_and_callbacks_drop() {
    let clock = Arc::new(ManualClock::new(START));
    let channel = SimChannel::with_limits(SimChannelConfig::default(), clock, 100, 2);
    let sink = Arc::new(RecordingSink::default());
    channel.set_sink(sink.clone());
    for n in 0..3 {
        channel.pay(order(n), AMOUNT).await.expect("pay");
    }
    assert_eq!(channel.pending_deliveries(), 2);
    assert_eq!(channel.payments_of(order(2)).len(), 1, "paid at once");
    assert_eq!(channel.dropped_callbacks(), 1);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.callbacks().len(), 2);
    assert_eq!(channel.pending_deliveries(), 0);
}

#[tokio::test(start_paused = true)]
async fn one_seed_tells_one_story() {
    let run = |seed| async move {
        let (channel, sink) = sim_with_sink(config(|c| {
            c.seed = seed;
            c.failure_rate_ppm = 200_000;
            c.decline_rate_ppm = 200_000;
            c.duplicate_callback_rate_ppm = 300_000;
            c.duplicate_payment_rate_ppm = 300_000;
            c.drop_callback_rate_ppm = 200_000;
            c.late_rate_ppm = 300_000;
        }));
        let mut answers = Vec::new();
        for n in 0..200 {
            answers.push(channel.pay(order(n), AMOUNT).await.is_ok());
        }
        sleep(Duration::from_secs(10)).await;
        (answers, sink.callbacks(), channel.statement())
    };
    let (answers, callbacks, statement) = run(7).await;
    assert_eq!(
        run(7).await,
        (answers.clone(), callbacks.clone(), statement.clone())
    );
    assert!(answers.contains(&false) && answers.contains(&true));
    let other = run(8).await;
    assert_ne!(other.0, answers, "another seed, another story");
}

#[test]
fn config_defaults_parse_and_validation_names_the_field() {
    let parsed: SimChannelConfig = serde_json::from_str("{}").expect("all defaults");
    assert_eq!(parsed, SimChannelConfig::default());
    assert_eq!(parsed.validate(), Ok(()));
    let parsed: SimChannelConfig =
        serde_json::from_str(r#"{"name":"sim-b","late_rate_ppm":5}"#).expect("two fields");
    assert_eq!((parsed.name.as_str(), parsed.late_rate_ppm), ("sim-b", 5));
    assert!(serde_json::from_str::<SimChannelConfig>(r#"{"latency":1}"#).is_err());
    // A name that breaks the channel-name rule is refused where the config is read.
    for bad in [r#"{"name":"Sim"}"#, r#"{"name":""}"#] {
        let error = serde_json::from_str::<SimChannelConfig>(bad).unwrap_err();
        assert!(error.to_string().contains("[a-z0-9_-]"), "{bad}: {error}");
    }

    let field = |config: SimChannelConfig| {
        config
            .validate()
            .map_err(|e: SimChannelConfigError| e.field)
    };
    assert_eq!(
        field(config(|c| c.late_delay_ms = MAX_SIM_DELAY_MS + 1)),
        Err("late_delay_ms")
    );
    assert_eq!(
        field(config(|c| c.drop_callback_rate_ppm = ALWAYS + 1)),
        Err("drop_callback_rate_ppm")
    );
    assert_eq!(field(config(|c| c.failure_rate_ppm = ALWAYS)), Ok(()));
}

#[test]
fn a_customer_dropped_with_its_runtime_gives_its_reservation_back() {
    let clock = Arc::new(ManualClock::new(START));
    let channel = SimChannel::with_limits(SimChannelConfig::default(), clock, 1, 10);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        channel
            .pay(order(1), AMOUNT)
            .await
            .expect("reserves the only slot");
    });
    assert!(
        channel.pay_now(order(2), AMOUNT).is_err(),
        "reserved by the customer"
    );
    drop(runtime); // the customer never paid
    assert_eq!(channel.pending_deliveries(), 0);
    assert!(
        channel.pay_now(order(2), AMOUNT).is_ok(),
        "the slot is free again"
    );
}

#[tokio::test(start_paused = true)]
async fn asking_to_pay_an_order_again_starts_no_second_customer() {
    let (channel, sink) = sim_with_sink(config(|c| c.pay_delay_ms = 10));
    let first = channel.pay(order(1), AMOUNT).await.expect("pay");
    let again = channel.pay(order(1), AMOUNT).await.expect("pay again");
    assert_eq!(first, again, "the same session");
    sleep(Duration::from_millis(50)).await;
    assert_eq!(channel.payments_of(order(1)).len(), 1, "paid once");
    assert_eq!(sink.callbacks().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_customer_delivers_to_the_sink_of_the_moment_it_pays() {
    // A cluster node's desk outlives the shard's engines: a customer started under one
    // payments service delivers to the one in place when it pays.
    let (channel, before) = sim_with_sink(SimChannelConfig::default());
    channel.pay(order(1), AMOUNT).await.expect("pay");
    let after = Arc::new(RecordingSink::default());
    channel.set_sink(after.clone());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(before.callbacks(), []);
    assert_eq!(after.callbacks().len(), 1);
}
