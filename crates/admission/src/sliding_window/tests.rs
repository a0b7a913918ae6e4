//! Window boundaries, exact retry times, keyed eviction, bounds.

use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::keyed_rate::RateDecision;

fn window(limit: u32, window: Duration) -> (SlidingWindow<ManualClock>, ManualClock) {
    let clock = ManualClock::default();
    let config = SlidingWindowConfig {
        limit: NonZeroU32::new(limit).unwrap(),
        window,
    };
    (
        SlidingWindow::new(SlidingWindowPolicy::new(config), clock.clone()),
        clock,
    )
}

fn limited(nanos: u64) -> RateDecision {
    RateDecision::Limited {
        retry_after: Duration::from_nanos(nanos),
    }
}

#[test]
fn limit_exactly_then_the_previous_window_fades() {
    let (limiter, clock) = window(3, Duration::from_secs(1));
    for _ in 0..3 {
        assert_eq!(limiter.check(), RateDecision::Allowed);
    }
    // Next window, then until 3 · (1 s − e) ≤ 2 s: e = 1/3 s, rounded up to the nanosecond.
    assert_eq!(limiter.check(), limited(1_333_333_334));
    clock.set_monotonic(Duration::from_secs(1));
    assert_eq!(
        limiter.check(),
        limited(333_333_334),
        "boundary: still weighted"
    );
    clock.set_monotonic(Duration::from_nanos(1_333_333_333));
    assert_eq!(limiter.check(), limited(1));
    clock.advance(Duration::from_nanos(1));
    assert_eq!(limiter.check(), RateDecision::Allowed);
}

#[test]
fn a_burst_at_the_end_of_a_window_is_not_doubled_at_the_boundary() {
    let (limiter, clock) = window(10, Duration::from_secs(60));
    clock.set_monotonic(Duration::from_secs(59));
    assert!((0..10).all(|_| limiter.check().is_allowed()));
    clock.set_monotonic(Duration::from_secs(60)); // a fixed window would admit 10 more here
    assert!(!limiter.check().is_allowed());
    clock.set_monotonic(Duration::from_secs(66)); // previous weighs 10 · 54/60 = 9: room for one
    assert!(limiter.check().is_allowed());
    assert!(!limiter.check().is_allowed());
    clock.set_monotonic(Duration::from_secs(180)); // two windows later: nothing remembered
    assert!((0..10).all(|_| limiter.check().is_allowed()));
}

#[test]
fn limit_one_waits_for_the_window_after_next_at_worst() {
    let (limiter, clock) = window(1, Duration::from_secs(1));
    clock.set_monotonic(Duration::from_millis(200));
    assert!(limiter.check().is_allowed());
    // Next window starts in 0.8 s; there 1 · (1 s − e) ≤ 0 only at e = 1 s.
    assert_eq!(limiter.check(), limited(1_800_000_000));
    clock.set_monotonic(Duration::from_secs(2));
    assert!(limiter.check().is_allowed());
}

#[test]
fn keyed_windows_are_independent_and_forgotten_after_two_windows() {
    let clock = ManualClock::default();
    let config = SlidingWindowConfig::per_minute(NonZeroU32::MIN);
    let keyed = KeyedSlidingWindow::new(SlidingWindowPolicy::new(config), 10, clock.clone());
    assert!(keyed.check(1).is_allowed());
    assert!(keyed.check(2).is_allowed());
    assert!(!keyed.check(1).is_allowed());
    clock.set_monotonic(Duration::from_secs(119));
    keyed.evict_idle();
    assert_eq!(keyed.len(), 2, "still weighs in the next window");
    clock.set_monotonic(Duration::from_secs(120));
    keyed.evict_idle();
    assert!(keyed.is_empty());
}

#[test]
fn validate_window_bounds() {
    let config = |window| SlidingWindowConfig {
        limit: NonZeroU32::MIN,
        window,
    };
    assert_eq!(config(MIN_WINDOW).validate(), Ok(()));
    assert_eq!(config(MAX_WINDOW).validate(), Ok(()));
    assert!(config(Duration::from_micros(999)).validate().is_err());
    assert!(
        config(MAX_WINDOW + Duration::from_secs(1))
            .validate()
            .is_err()
    );
}
