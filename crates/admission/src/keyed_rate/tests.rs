//! Limiter tests on a fake clock: quota, idle eviction, the full-table rejection rule.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;

use super::*;

fn limiter(
    per_second: u32,
    burst: u32,
    max_keys: usize,
) -> (KeyedRateLimiter<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    let config = KeyedRateConfig {
        per_second: NonZeroU32::new(per_second).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
        max_keys,
    };
    (KeyedRateLimiter::new(config, clock.clone()), clock)
}

fn limited(retry_after: Duration) -> RateDecision {
    RateDecision::Limited { retry_after }
}

#[test]
fn allows_burst_then_limits_with_exact_wait() {
    let (limiter, clock) = limiter(2, 3, 10);
    for _ in 0..3 {
        assert_eq!(limiter.check(7), RateDecision::Allowed);
    }
    assert_eq!(limiter.check(7), limited(Duration::from_millis(500)));
    assert_eq!(
        limiter.check(8),
        RateDecision::Allowed,
        "keys are independent"
    );
    clock.advance(Duration::from_millis(499));
    assert_eq!(limiter.check(7), limited(Duration::from_millis(1)));
    clock.advance(Duration::from_millis(1));
    assert_eq!(limiter.check(7), RateDecision::Allowed);
}

#[test]
fn evict_idle_drops_only_idle_keys() {
    let (limiter, clock) = limiter(1, 1, 10);
    assert_eq!(limiter.check(1), RateDecision::Allowed);
    clock.advance(Duration::from_millis(1_500));
    assert_eq!(limiter.check(2), RateDecision::Allowed);
    assert_eq!(limiter.len(), 2);

    clock.advance(Duration::from_millis(500)); // key 1 idle for 2 s, key 2 for 0.5 s
    limiter.evict_idle();
    assert_eq!(limiter.len(), 1);
    assert_eq!(
        limiter.check(2),
        limited(Duration::from_millis(500)),
        "key 2 kept its state"
    );

    clock.advance(Duration::from_secs(2));
    limiter.evict_idle();
    assert!(limiter.is_empty());
}

#[test]
fn full_table_limits_new_keys_only() {
    let (limiter, clock) = limiter(1, 2, 2);
    assert!(limiter.check(1).is_allowed());
    assert!(limiter.check(2).is_allowed());

    assert_eq!(
        limiter.check(3),
        limited(FULL_TABLE_RETRY_AFTER),
        "new key, table full"
    );
    assert_eq!(limiter.len(), 2, "a rejected new key is not stored");
    assert!(limiter.check(1).is_allowed(), "existing keys keep working");
    assert_eq!(limiter.check(1), limited(Duration::from_secs(1)));

    clock.advance(Duration::from_secs(3)); // both keys idle again
    assert!(limiter.check(3).is_allowed(), "inline eviction made room");
    assert_eq!(limiter.len(), 1);
}

#[test]
fn inline_eviction_runs_at_most_once_per_gap() {
    let (limiter, clock) = limiter(1, 1, 2);
    assert!(limiter.check(1).is_allowed()); // arrival time 1 s: evictable from 2 s
    assert!(limiter.check(2).is_allowed());
    assert_eq!(limiter.check(3), limited(FULL_TABLE_RETRY_AFTER)); // inline eviction at 0

    clock.advance(Duration::from_millis(1_950));
    assert_eq!(limiter.check(3), limited(FULL_TABLE_RETRY_AFTER)); // eviction: nothing idle

    clock.advance(Duration::from_millis(50)); // keys now idle, but within the gap
    assert!(MIN_INLINE_EVICTION_GAP > Duration::from_millis(50));
    assert_eq!(limiter.check(3), limited(FULL_TABLE_RETRY_AFTER));
    assert_eq!(limiter.len(), 2);

    clock.advance(MIN_INLINE_EVICTION_GAP);
    assert!(limiter.check(3).is_allowed());
    assert_eq!(limiter.len(), 1);
}

#[test]
fn background_eviction_counts_against_the_gap_and_frees_room() {
    let (limiter, clock) = limiter(1, 1, 1);
    assert!(limiter.check(1).is_allowed());
    clock.advance(Duration::from_secs(2));
    limiter.evict_idle();
    assert!(limiter.is_empty());
    assert!(
        limiter.check(2).is_allowed(),
        "room made by the background pass"
    );
}

#[test]
#[should_panic(expected = "invalid config: max_keys must be at least 1")]
fn new_panics_on_invalid_config() {
    let _ = limiter(1, 1, 0);
}
