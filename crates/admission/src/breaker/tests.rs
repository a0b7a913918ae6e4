//! Every transition on an explicit clock, a property test of the probe and open bounds, and
//! the tower service.
//!
//! Over 400 lines on purpose: one test per transition of one state machine, all on the same
//! helpers; split by state, the transitions between two files would be tested in neither.

use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const MS: Duration = Duration::from_millis(1);
const FAST: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(150);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// Window 10, min 5 calls, trip at 50%, slow from 100 ms, open 1 s, 2 probes, 2 to close.
fn config() -> BreakerConfig {
    BreakerConfig {
        window_calls: nz(10),
        min_calls: nz(5),
        failure_ratio: 0.5,
        slow_call_ratio: 0.5,
        slow_call_threshold: Duration::from_millis(100),
        open_for: Duration::from_secs(1),
        half_open_probes: nz(2),
        successes_to_close: nz(2),
    }
}

fn call(breaker: &CircuitBreaker, now: Duration, outcome: CallOutcome, elapsed: Duration) {
    breaker
        .try_acquire(now)
        .expect("admitted")
        .record(outcome, elapsed);
}

/// Trips `breaker` with five failures at `now`; returns when it opened.
fn trip(breaker: &CircuitBreaker, now: Duration) -> Duration {
    for _ in 0..5 {
        call(breaker, now, CallOutcome::Failure, FAST);
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            until: now + FAST + Duration::from_secs(1)
        }
    );
    now + FAST
}

#[test]
fn trips_on_failure_ratio_only_after_min_calls() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    for _ in 0..4 {
        call(&breaker, now, CallOutcome::Failure, FAST);
        assert_eq!(breaker.state(), BreakerState::Closed, "under min_calls");
    }
    call(&breaker, now, CallOutcome::Failure, FAST);
    assert!(matches!(breaker.state(), BreakerState::Open { .. }));
    assert!(breaker.is_open(now + FAST));
}

#[test]
fn stays_closed_below_failure_ratio() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    for i in 0..40 {
        let outcome = if i % 3 == 0 {
            CallOutcome::Failure
        } else {
            CallOutcome::Success
        };
        call(&breaker, now, outcome, FAST);
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "a third failing is under 50%"
    );
}

#[test]
fn decides_on_the_last_window_calls_only() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    for _ in 0..20 {
        call(&breaker, now, CallOutcome::Success, FAST);
    }
    for _ in 0..4 {
        call(&breaker, now, CallOutcome::Failure, FAST);
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "4 of the last 10 failed"
    );
    call(&breaker, now, CallOutcome::Failure, FAST);
    assert!(
        matches!(breaker.state(), BreakerState::Open { .. }),
        "5 of the last 10 failed (though only 5 of all 25)"
    );
}

#[test]
fn trips_on_slow_call_ratio() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    for _ in 0..5 {
        call(&breaker, now, CallOutcome::Success, FAST);
    }
    for _ in 0..4 {
        call(&breaker, now, CallOutcome::Success, SLOW);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
    call(&breaker, now, CallOutcome::Success, SLOW);
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            until: now + SLOW + Duration::from_secs(1)
        },
        "5 of 10 slow, opened from when the last slow call finished"
    );
}

#[test]
fn open_rejects_until_open_for_then_half_opens() {
    let breaker = CircuitBreaker::new(config());
    let opened = trip(&breaker, Duration::from_secs(10));
    let until = opened + Duration::from_secs(1);

    let rejected = breaker.try_acquire(opened + 400 * MS).unwrap_err();
    assert_eq!(rejected.retry_after, 600 * MS);
    assert!(breaker.is_open(until - MS));
    assert!(breaker.try_acquire(until - MS).is_err());

    assert!(!breaker.is_open(until));
    let probe = breaker.try_acquire(until).expect("first probe");
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen {
            probes_in_flight: 1,
            successes: 0
        }
    );
    drop(probe);
}

#[test]
fn half_open_admits_at_most_the_probe_bound() {
    let breaker = CircuitBreaker::new(config());
    let until = trip(&breaker, Duration::from_secs(10)) + Duration::from_secs(1);
    let first = breaker.try_acquire(until).expect("probe 1");
    let second = breaker.try_acquire(until).expect("probe 2");
    let third = breaker.try_acquire(until + MS).unwrap_err();
    assert_eq!(third.retry_after, Duration::from_secs(1));
    assert!(!breaker.is_open(until + MS), "half-open is not open");
    first.record(CallOutcome::Success, FAST);
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen {
            probes_in_flight: 1,
            successes: 1
        }
    );
    let replacement = breaker.try_acquire(until + MS).expect("a slot came free");
    drop((second, replacement));
}

#[test]
fn probe_failure_reopens() {
    let breaker = CircuitBreaker::new(config());
    let until = trip(&breaker, Duration::from_secs(10)) + Duration::from_secs(1);
    let probe = breaker.try_acquire(until).expect("probe");
    probe.record(CallOutcome::Failure, 5 * MS);
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            until: until + 5 * MS + Duration::from_secs(1)
        }
    );
    assert!(breaker.try_acquire(until + 10 * MS).is_err());
}

#[test]
fn slow_probe_reopens() {
    let breaker = CircuitBreaker::new(config());
    let until = trip(&breaker, Duration::from_secs(10)) + Duration::from_secs(1);
    call(&breaker, until, CallOutcome::Success, SLOW);
    assert!(matches!(breaker.state(), BreakerState::Open { .. }));
}

#[test]
fn dropped_probe_counts_as_failure() {
    let breaker = CircuitBreaker::new(config());
    let until = trip(&breaker, Duration::from_secs(10)) + Duration::from_secs(1);
    drop(breaker.try_acquire(until).expect("probe"));
    assert_eq!(
        breaker.state(),
        BreakerState::Open {
            until: until + Duration::from_secs(1)
        }
    );
}

#[test]
fn a_released_permit_decides_nothing_and_frees_its_probe_slot() {
    let breaker = CircuitBreaker::new(config());
    let until = trip(&breaker, Duration::from_secs(10)) + Duration::from_secs(1);
    let first = breaker.try_acquire(until).expect("probe 1");
    let second = breaker.try_acquire(until).expect("probe 2");
    assert!(breaker.try_acquire(until).is_err(), "both slots taken");
    first.release();
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen {
            probes_in_flight: 1,
            successes: 0
        },
        "released: neither a success nor a failure"
    );
    breaker
        .try_acquire(until)
        .expect("the slot came free")
        .release();
    second.release();
    // Closed: a released call leaves the window as it was.
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    for _ in 0..4 {
        call(&breaker, now, CallOutcome::Failure, FAST);
    }
    for _ in 0..10 {
        breaker.try_acquire(now).expect("closed").release();
    }
    call(&breaker, now, CallOutcome::Failure, FAST);
    assert!(
        matches!(breaker.state(), BreakerState::Open { .. }),
        "releases diluted the failures"
    );
}

#[test]
fn enough_probe_successes_close_with_a_fresh_window() {
    let breaker = CircuitBreaker::new(config());
    let until = trip(&breaker, Duration::from_secs(10)) + Duration::from_secs(1);
    call(&breaker, until, CallOutcome::Success, FAST);
    call(&breaker, until, CallOutcome::Success, FAST);
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..4 {
        call(&breaker, until, CallOutcome::Failure, FAST);
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "the old failures were forgotten: 4 calls is under min_calls"
    );
}

#[test]
fn stale_permits_do_not_count_as_probes() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    let from_closed = breaker.try_acquire(now).expect("closed");
    let until = trip(&breaker, now) + Duration::from_secs(1);
    let probe = breaker.try_acquire(until).expect("probe");
    from_closed.record(CallOutcome::Failure, FAST);
    assert!(
        matches!(breaker.state(), BreakerState::HalfOpen { .. }),
        "a call admitted before the trip says nothing about recovery"
    );
    probe.record(CallOutcome::Success, FAST);
    call(&breaker, until, CallOutcome::Success, FAST);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn record_answers_the_state_it_left() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    let record = |at, outcome| {
        (breaker.try_acquire(at))
            .expect("admitted")
            .record(outcome, FAST)
    };
    let stale = breaker.try_acquire(now).expect("closed");
    for _ in 0..4 {
        assert_eq!(record(now, CallOutcome::Failure), BreakerState::Closed);
    }
    let until = now + FAST + Duration::from_secs(1);
    assert_eq!(
        record(now, CallOutcome::Failure),
        BreakerState::Open { until },
        "the failure that tripped it"
    );
    assert_eq!(
        stale.record(CallOutcome::Success, FAST),
        BreakerState::Open { until },
        "a stale permit changes nothing and answers the state as it is"
    );
    assert_eq!(
        record(until, CallOutcome::Success),
        BreakerState::HalfOpen {
            probes_in_flight: 0,
            successes: 1
        }
    );
    assert_eq!(record(until, CallOutcome::Success), BreakerState::Closed);
    assert_eq!(record(until, CallOutcome::Success), breaker.state());
}

#[test]
fn success_ratio_is_the_closed_window_and_starts_afresh_on_closing() {
    let breaker = CircuitBreaker::new(config());
    let now = Duration::from_secs(10);
    let ratio = |good_calls, calls| Some(SuccessRatio { good_calls, calls });
    assert_eq!(breaker.success_ratio(), ratio(0, 0));
    call(&breaker, now, CallOutcome::Success, FAST);
    call(&breaker, now, CallOutcome::Success, SLOW);
    call(&breaker, now, CallOutcome::Failure, FAST);
    assert_eq!(
        breaker.success_ratio(),
        ratio(1, 3),
        "slow or failed is not good"
    );
    breaker.try_acquire(now).expect("closed").release();
    assert_eq!(breaker.success_ratio(), ratio(1, 3), "a release is no call");
    for _ in 0..10 {
        call(&breaker, now, CallOutcome::Success, FAST);
    }
    assert_eq!(
        breaker.success_ratio(),
        ratio(10, 10),
        "the last window_calls only"
    );

    let until = trip(&breaker, now) + Duration::from_secs(1);
    assert_eq!(breaker.success_ratio(), None, "open");
    let probe = breaker.try_acquire(until).expect("probe");
    assert_eq!(breaker.success_ratio(), None, "half-open");
    probe.record(CallOutcome::Success, FAST);
    call(&breaker, until, CallOutcome::Success, FAST);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(
        breaker.success_ratio(),
        ratio(0, 0),
        "closed afresh, probes not counted"
    );
}

#[test]
fn invalid_config_names_the_field() {
    let mut bad = config();
    bad.min_calls = nz(11);
    assert_eq!(bad.validate().unwrap_err().field, "min_calls");
    let mut bad = config();
    bad.failure_ratio = 0.0;
    assert_eq!(bad.validate().unwrap_err().field, "failure_ratio");
    assert!(BreakerConfig::default().validate().is_ok());
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Record {
        index: usize,
        fail: bool,
        slow: bool,
    },
    Drop {
        index: usize,
    },
    Release {
        index: usize,
    },
    Advance {
        millis: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        3 => (any::<usize>(), any::<bool>(), any::<bool>())
            .prop_map(|(index, fail, slow)| Op::Record { index, fail, slow }),
        1 => any::<usize>().prop_map(|index| Op::Drop { index }),
        1 => any::<usize>().prop_map(|index| Op::Release { index }),
        2 => (0_u64..1_500).prop_map(|millis| Op::Advance { millis }),
    ]
}

proptest! {
    /// Never admits while open before `until`; never more than `half_open_probes` probes
    /// outstanding in one half-open episode (counted here, independently of the machine).
    #[test]
    fn never_admits_in_open_nor_too_many_probes(
        ops in proptest::collection::vec(op(), 1..400),
        probes in 1_u32..4,
    ) {
        let mut config = config();
        config.half_open_probes = nz(probes);
        config.successes_to_close = nz(probes);
        let breaker = CircuitBreaker::new(config);
        let mut now = Duration::from_secs(1);
        // (permit, the half-open episode that admitted it, if any)
        let mut permits: Vec<(CallPermit, Option<u64>)> = Vec::new();
        let mut episode = 0_u64;
        for op in ops {
            match op {
                Op::Acquire => {
                    let before = breaker.state();
                    let result = breaker.try_acquire(now);
                    if let BreakerState::Open { until } = before
                        && now < until
                    {
                        prop_assert!(result.is_err(), "admitted while open");
                    }
                    let after = breaker.state();
                    if matches!(after, BreakerState::HalfOpen { .. })
                        && !matches!(before, BreakerState::HalfOpen { .. })
                    {
                        episode += 1;
                    }
                    if let Ok(permit) = result {
                        let probe = matches!(after, BreakerState::HalfOpen { .. });
                        permits.push((permit, probe.then_some(episode)));
                    }
                }
                Op::Record { index, fail, slow } if !permits.is_empty() => {
                    let (permit, _) = permits.swap_remove(index % permits.len());
                    let outcome = if fail { CallOutcome::Failure } else { CallOutcome::Success };
                    permit.record(outcome, if slow { SLOW } else { FAST });
                }
                Op::Drop { index } if !permits.is_empty() => {
                    drop(permits.swap_remove(index % permits.len()));
                }
                Op::Release { index } if !permits.is_empty() => {
                    let before = breaker.state();
                    permits.swap_remove(index % permits.len()).0.release();
                    // A release decides nothing: no state change but a probe slot.
                    prop_assert_eq!(
                        std::mem::discriminant(&breaker.state()),
                        std::mem::discriminant(&before)
                    );
                }
                Op::Advance { millis } => now += Duration::from_millis(millis),
                Op::Record { .. } | Op::Drop { .. } | Op::Release { .. } => {}
            }
            if let BreakerState::HalfOpen { probes_in_flight, .. } = breaker.state() {
                let outstanding = permits
                    .iter()
                    .filter(|(_, admitted_in)| *admitted_in == Some(episode))
                    .count();
                prop_assert!(probes_in_flight <= probes);
                prop_assert_eq!(probes_in_flight as usize, outstanding);
            }
        }
    }
}
