//! [`ChannelRouter`]: weighted picks, down-weighting, the breaker taking a channel out of
//! rotation and putting it back, and construction rules. Time is a plain `Duration`.
//!
//! A little over 400 lines: the router's cases share the channel and report helpers above.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use stampede_admission::breaker::{BreakerConfig, BreakerState, CallOutcome};
use stampede_admission::clock::Clock as MonotonicClock;

use super::*;
use crate::channel::{
    AdmitError, ChannelError, ChannelRouter, MAX_CHANNELS, PaymentChannel, RouterError,
    call_with_health,
};
use stampede_core::ChannelName;

const FAST: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(150);

fn named(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap()
}

fn non_zero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

/// Trips after 20 calls at half failures or half slow (≥ 100 ms); open 1 s; one probe at a
/// time; two good probes close it.
fn breaker() -> BreakerConfig {
    BreakerConfig {
        window_calls: non_zero(20),
        min_calls: non_zero(20),
        failure_ratio: 0.5,
        slow_call_ratio: 0.5,
        slow_call_threshold: Duration::from_millis(100),
        open_for: Duration::from_secs(1),
        half_open_probes: non_zero(1),
        successes_to_close: non_zero(2),
    }
}

fn channel(name: &str) -> Arc<dyn PaymentChannel> {
    Arc::new(quiet_sim(name))
}

fn router(weights: &[(&str, u32)]) -> ChannelRouter {
    let channels = weights
        .iter()
        .map(|&(name, weight)| (channel(name), weight))
        .collect();
    ChannelRouter::new(channels, breaker(), 42).expect("valid router")
}

fn report(
    router: &ChannelRouter,
    name: &str,
    now: Duration,
    outcome: CallOutcome,
    elapsed: Duration,
) {
    router
        .admit(&named(name), now)
        .expect("admitted")
        .report(outcome, elapsed);
}

/// Picks `picks` times at `now`, reporting each a fast success; answers each name's count.
fn pick_counts(router: &ChannelRouter, now: Duration, picks: u32) -> HashMap<ChannelName, u32> {
    let mut counts = HashMap::new();
    for _ in 0..picks {
        let routed = router.pick(now).expect("a channel in rotation");
        *counts.entry(routed.name().clone()).or_insert(0) += 1;
        routed.report(CallOutcome::Success, FAST);
    }
    counts
}

fn health_of(router: &ChannelRouter, name: &str, now: Duration) -> (u32, BreakerState) {
    let health = router
        .snapshot(now)
        .into_iter()
        .find(|h| h.name == name)
        .expect("known");
    (health.effective_weight, health.state)
}

#[test]
fn picks_follow_the_weights() {
    let router = router(&[("a", 1), ("b", 2), ("c", 7)]);
    let counts = pick_counts(&router, Duration::from_secs(1), 10_000);
    // Binomial standard deviation is at most 50 picks here; 200 is four of them.
    for (name, expected) in [("a", 1_000), ("b", 2_000), ("c", 7_000)] {
        let got = i64::from(counts[name]);
        assert!(
            (got - expected).abs() <= 200,
            "{name}: {got} picks, expected about {expected}"
        );
    }
}

#[test]
fn a_failing_channel_is_down_weighted_removed_probed_and_put_back() {
    let router = router(&[("a", 10), ("b", 10)]);
    let t1 = Duration::from_secs(1);
    for _ in 0..10 {
        report(&router, "b", t1, CallOutcome::Success, FAST);
    }
    for _ in 0..5 {
        report(&router, "b", t1, CallOutcome::Failure, FAST);
    }
    assert_eq!(
        health_of(&router, "b", t1),
        (6, BreakerState::Closed),
        "10 × 10/15"
    );
    for _ in 0..5 {
        report(&router, "b", t1, CallOutcome::Failure, FAST);
    }
    let (weight, state) = health_of(&router, "b", t1);
    assert_eq!(weight, 0, "out of rotation");
    assert!(matches!(state, BreakerState::Open { .. }), "{state:?}");

    let t2 = Duration::from_millis(1_500);
    assert_eq!(pick_counts(&router, t2, 500).get("b"), None);
    assert!(matches!(
        router.admit(&named("b"), t2),
        Err(AdmitError::OutOfRotation { .. })
    ));

    // Past the open period: probes at full weight, one at a time.
    let t3 = Duration::from_millis(2_500);
    assert_eq!(health_of(&router, "b", t3).0, 10);
    for probe in 0..2 {
        let routed = loop {
            let routed = router.pick(t3).expect("a in rotation");
            if routed.name() == "b" {
                break routed;
            }
            routed.report(CallOutcome::Success, FAST);
        };
        let others = pick_counts(&router, t3, 200);
        assert_eq!(
            others.get("b"),
            None,
            "probe {probe}: its one slot is taken"
        );
        routed.report(CallOutcome::Success, FAST);
    }
    assert_eq!(health_of(&router, "b", t3), (10, BreakerState::Closed));
    let b = i64::from(pick_counts(&router, t3, 2_000)["b"]);
    assert!(
        (b - 1_000).abs() <= 150,
        "back at full weight: {b} of 2,000"
    );
}

#[test]
fn a_failed_probe_reopens() {
    let router = router(&[("a", 1)]);
    for _ in 0..20 {
        report(&router, "a", Duration::ZERO, CallOutcome::Failure, FAST);
    }
    let later = Duration::from_secs(2);
    report(&router, "a", later, CallOutcome::Failure, FAST);
    assert!(router.pick(later).is_none());
    assert!(matches!(
        health_of(&router, "a", later).1,
        BreakerState::Open { .. }
    ));
}

#[test]
fn slow_successes_down_weight_but_never_below_one_while_closed() {
    let router = router(&[("a", 50), ("b", 50)]);
    let now = Duration::from_secs(1);
    for _ in 0..15 {
        report(&router, "a", now, CallOutcome::Success, SLOW);
    }
    assert_eq!(health_of(&router, "a", now), (1, BreakerState::Closed));
    assert_eq!(health_of(&router, "b", now), (50, BreakerState::Closed));
    for _ in 0..5 {
        report(&router, "a", now, CallOutcome::Success, SLOW);
    }
    assert_eq!(
        health_of(&router, "a", now).0,
        0,
        "half slow: the breaker opened"
    );
}

#[test]
fn every_channel_down_picks_none() {
    let router = router(&[("a", 1), ("b", 3)]);
    let now = Duration::from_secs(1);
    for name in ["a", "b"] {
        for _ in 0..20 {
            report(&router, name, now, CallOutcome::Failure, FAST);
        }
    }
    assert!(router.pick(now).is_none());
    assert!(router.snapshot(now).iter().all(|h| h.effective_weight == 0));
    assert!(
        router.pick(now + Duration::from_secs(2)).is_some(),
        "probing after open_for"
    );
}

#[test]
fn an_unreported_call_counts_as_a_failure() {
    let router = router(&[("a", 1)]);
    let now = Duration::from_secs(1);
    for _ in 0..20 {
        drop(router.pick(now).expect("closed"));
    }
    assert!(router.pick(now).is_none());
}

#[test]
fn a_released_call_teaches_the_router_nothing() {
    let router = router(&[("a", 50), ("b", 50)]);
    let now = Duration::from_secs(1);
    for _ in 0..15 {
        report(&router, "a", now, CallOutcome::Success, SLOW);
    }
    for _ in 0..50 {
        router.admit(&named("a"), now).expect("admitted").release();
    }
    assert_eq!(
        health_of(&router, "a", now),
        (1, BreakerState::Closed),
        "releases counted as good calls"
    );
    // A probe given back leaves the breaker half-open: it proved nothing.
    for _ in 0..20 {
        report(&router, "b", now, CallOutcome::Failure, FAST);
    }
    let later = now + Duration::from_secs(2);
    for _ in 0..5 {
        router
            .admit(&named("b"), later)
            .expect("a probe slot")
            .release();
    }
    assert!(matches!(
        health_of(&router, "b", later).1,
        BreakerState::HalfOpen { .. }
    ));
}

#[test]
fn down_weighting_reads_the_breakers_window_only() {
    let router = router(&[("a", 10)]);
    let now = Duration::from_secs(1);
    for _ in 0..5 {
        report(&router, "a", now, CallOutcome::Failure, FAST);
    }
    for _ in 0..15 {
        report(&router, "a", now, CallOutcome::Success, FAST);
    }
    assert_eq!(
        health_of(&router, "a", now),
        (7, BreakerState::Closed),
        "10 × 15/20, a quarter failed: not enough to trip"
    );
    for _ in 0..5 {
        report(&router, "a", now, CallOutcome::Success, FAST);
    }
    assert_eq!(
        health_of(&router, "a", now).0,
        10,
        "the failures fell out of the breaker's 20-call window"
    );
}

#[test]
fn a_call_from_before_the_trip_teaches_the_recovered_channel_nothing() {
    let router = router(&[("a", 10)]);
    let now = Duration::from_secs(1);
    let stale = router.admit(&named("a"), now).expect("closed");
    for _ in 0..20 {
        report(&router, "a", now, CallOutcome::Failure, FAST);
    }
    let later = now + Duration::from_secs(2);
    for _ in 0..2 {
        report(&router, "a", later, CallOutcome::Success, FAST); // the probes
    }
    assert_eq!(health_of(&router, "a", later), (10, BreakerState::Closed));
    for _ in 0..9 {
        report(&router, "a", later, CallOutcome::Success, FAST);
    }
    stale.report(CallOutcome::Failure, SLOW);
    assert_eq!(
        health_of(&router, "a", later).0,
        10,
        "judged afresh: the stale failure is not the tenth call of the new window"
    );
    report(&router, "a", later, CallOutcome::Failure, FAST);
    assert_eq!(health_of(&router, "a", later).0, 9, "10 × 9/10");
}

#[test]
fn construction_rules() {
    let build = |channels: Vec<(Arc<dyn PaymentChannel>, u32)>, config| {
        ChannelRouter::new(channels, config, 0)
            .map(|_| ())
            .unwrap_err()
    };
    assert_eq!(build(vec![], breaker()), RouterError::NoChannels);
    let nine = (0..=MAX_CHANNELS)
        .map(|n| (channel(&format!("c{n}")), 1))
        .collect();
    assert_eq!(build(nine, breaker()), RouterError::TooManyChannels(9));
    let twice = vec![(channel("a"), 1), (channel("a"), 2)];
    assert_eq!(
        build(twice, breaker()),
        RouterError::DuplicateName(named("a"))
    );
    let zero = vec![(channel("a"), 1), (channel("b"), 0)];
    assert_eq!(build(zero, breaker()), RouterError::ZeroWeight(named("b")));
    let bad = BreakerConfig {
        failure_ratio: 0.0,
        ..breaker()
    };
    assert!(matches!(
        build(vec![(channel("a"), 1)], bad),
        RouterError::Breaker(_)
    ));

    let eight = (0..MAX_CHANNELS)
        .map(|n| (channel(&format!("c{n}")), 1))
        .collect();
    let router = ChannelRouter::new(eight, breaker(), 0).expect("eight is allowed");
    assert_eq!(
        router.get(&named("c7")).map(|c| c.name().clone()),
        Some(named("c7"))
    );
    assert!(router.get(&named("zzz")).is_none());
    assert!(matches!(
        router.admit(&named("zzz"), Duration::ZERO),
        Err(AdmitError::UnknownChannel(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn call_with_health_times_out_as_unavailable_and_declines_count_as_health() {
    let one_call = BreakerConfig {
        window_calls: non_zero(1),
        min_calls: non_zero(1),
        ..breaker()
    };
    let slow = SimChannelConfig {
        name: ChannelName::parse("slow").unwrap(),
        latency_ms: 10_000,
        auto_pay: false,
        ..SimChannelConfig::default()
    };
    let clock = Arc::new(ManualClock::new(START));
    let channels: Vec<(Arc<dyn PaymentChannel>, u32)> = vec![
        (Arc::new(SimChannel::new(slow, clock)), 1),
        (channel("ok"), 1),
    ];
    let router = ChannelRouter::new(channels, one_call, 0).expect("valid");
    let clock = stampede_clock::TokioClock::new(stampede_core::UnixMillis(0));

    let routed = router
        .admit(&named("ok"), clock.monotonic())
        .expect("closed");
    let channel = routed.channel();
    let declined = call_with_health(
        routed,
        &clock,
        Duration::from_secs(1),
        channel.pay(order(1), Cents(0)),
    )
    .await;
    assert!(matches!(declined, Err(ChannelError::Declined(_))));
    assert_eq!(
        health_of(&router, "ok", clock.monotonic()).1,
        BreakerState::Closed
    );

    let routed = router
        .admit(&named("slow"), clock.monotonic())
        .expect("closed");
    let channel = routed.channel();
    let timed_out = call_with_health(
        routed,
        &clock,
        Duration::from_secs(1),
        channel.pay(order(1), AMOUNT),
    )
    .await;
    assert!(
        matches!(timed_out, Err(ChannelError::Unavailable(_))),
        "{timed_out:?}"
    );
    assert!(matches!(
        health_of(&router, "slow", clock.monotonic()).1,
        BreakerState::Open { .. }
    ));
}
