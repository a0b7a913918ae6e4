//! nginx `limit_req` edge cases on a fake clock: burst exactly, delayed vs nodelay vs
//! two-stage, `r/m` rates, rejection status, keyed independence, warm-up.

use std::num::NonZeroU64;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::warm_up::WarmUp;

fn per_second(requests: u64) -> Rate {
    Rate::per_second(NonZeroU64::new(requests).unwrap())
}

fn bucket(config: LeakyBucketConfig) -> (LeakyBucket<ManualClock>, ManualClock) {
    let clock = ManualClock::at_monotonic(Duration::from_secs(1_000));
    let policy = LeakyBucketPolicy::new(config, &clock);
    (LeakyBucket::new(policy, clock.clone()), clock)
}

fn delay(secs: u64) -> LeakyDecision {
    LeakyDecision::Delay(Duration::from_secs(secs))
}

fn reject_after(millis: u64) -> LeakyDecision {
    LeakyDecision::Reject {
        retry_after: Duration::from_millis(millis),
    }
}

fn burst_of_seven(mode: BurstMode) -> Vec<LeakyDecision> {
    let config = LeakyBucketConfig {
        mode,
        ..LeakyBucketConfig::new(per_second(1), 5)
    };
    let (bucket, _clock) = bucket(config);
    (0..7).map(|_| bucket.check()).collect()
}

#[test]
fn default_mode_delays_the_whole_burst_to_the_rate_then_rejects() {
    use LeakyDecision::Allow;
    assert_eq!(
        burst_of_seven(BurstMode::Delayed),
        [
            Allow,
            delay(1),
            delay(2),
            delay(3),
            delay(4),
            delay(5),
            reject_after(1_000)
        ]
    );
}

#[test]
fn nodelay_passes_the_burst_at_once_then_rejects() {
    use LeakyDecision::Allow;
    assert_eq!(
        burst_of_seven(BurstMode::Nodelay),
        [
            Allow,
            Allow,
            Allow,
            Allow,
            Allow,
            Allow,
            reject_after(1_000)
        ]
    );
}

#[test]
fn two_stage_passes_n_then_delays_the_rest_of_the_burst() {
    use LeakyDecision::Allow;
    assert_eq!(
        burst_of_seven(BurstMode::TwoStage { undelayed: 2 }),
        [
            Allow,
            Allow,
            Allow,
            delay(1),
            delay(2),
            delay(3),
            reject_after(1_000)
        ]
    );
}

#[test]
fn queue_drains_at_the_rate() {
    let (bucket, clock) = bucket(LeakyBucketConfig::new(per_second(2), 2));
    assert_eq!(bucket.check(), LeakyDecision::Allow);
    assert_eq!(
        bucket.check(),
        LeakyDecision::Delay(Duration::from_millis(500))
    );
    assert_eq!(bucket.check(), LeakyDecision::Delay(Duration::from_secs(1)));
    assert_eq!(bucket.check(), reject_after(500));
    clock.advance(Duration::from_millis(499));
    assert_eq!(bucket.check(), reject_after(1), "exact wait, not rounded");
    clock.advance(Duration::from_millis(1));
    assert_eq!(bucket.check(), LeakyDecision::Delay(Duration::from_secs(1)));
    clock.advance(Duration::from_secs(60));
    assert_eq!(bucket.check(), LeakyDecision::Allow, "drained while idle");
}

#[test]
fn burst_zero_admits_exactly_the_rate() {
    let (bucket, clock) = bucket(LeakyBucketConfig::new(per_second(10), 0));
    assert_eq!(bucket.check(), LeakyDecision::Allow);
    assert_eq!(bucket.check(), reject_after(100));
    clock.advance(Duration::from_millis(100));
    assert_eq!(bucket.check(), LeakyDecision::Allow);
}

#[test]
fn per_minute_rate_is_exact_below_a_millisecond_resolution() {
    let rate = Rate::per_minute(NonZeroU64::new(30).unwrap());
    assert_eq!(rate.milli_per_second(), 500);
    let (bucket, clock) = bucket(LeakyBucketConfig::new(rate, 0));
    assert_eq!(bucket.check(), LeakyDecision::Allow);
    clock.advance(Duration::from_secs(1));
    assert_eq!(bucket.check(), reject_after(1_000));
    clock.advance(Duration::from_secs(1));
    assert_eq!(bucket.check(), LeakyDecision::Allow);
}

#[test]
fn decision_codes() {
    let (bucket, _clock) = bucket(LeakyBucketConfig::new(per_second(1), 0));
    assert_eq!(bucket.check().code(), "allowed");
    assert_eq!(bucket.check().code(), "rate_limited");
}

#[test]
fn keyed_buckets_are_independent_and_evicted_when_drained() {
    let clock = ManualClock::default();
    let policy = LeakyBucketPolicy::new(LeakyBucketConfig::new(per_second(1), 0), &clock);
    let keyed = KeyedLeakyBucket::new(policy, 100, clock.clone());
    assert_eq!(keyed.check(1), LeakyDecision::Allow);
    assert_eq!(keyed.check(2), LeakyDecision::Allow);
    assert_eq!(keyed.check(1), reject_after(1_000));
    clock.advance(Duration::from_millis(999));
    keyed.evict_idle();
    assert_eq!(keyed.len(), 2, "one nano-request still queued");
    clock.advance(Duration::from_millis(1));
    keyed.evict_idle();
    assert!(keyed.is_empty());
}

#[test]
fn warm_up_ramps_the_leak_rate() {
    let clock = ManualClock::default();
    let config = LeakyBucketConfig {
        mode: BurstMode::Nodelay,
        warm_up: Some(WarmUp::over(Duration::from_secs(10))),
        ..LeakyBucketConfig::new(per_second(30), 0)
    };
    let bucket = LeakyBucket::new(LeakyBucketPolicy::new(config, &clock), clock.clone());
    let mut per_second = Vec::new();
    for _ in 0..12 {
        let mut admitted = 0;
        for _ in 0..1_000 {
            admitted += usize::from(bucket.check().is_admitted());
            clock.advance(Duration::from_millis(1));
        }
        per_second.push(admitted);
    }
    assert!((10..=12).contains(&per_second[0]), "{per_second:?}");
    assert!(
        per_second.windows(2).all(|pair| pair[1] >= pair[0]),
        "{per_second:?}"
    );
    assert_eq!(per_second[11], 30, "{per_second:?}");
}

#[test]
fn validate_bounds() {
    let config = LeakyBucketConfig::new(per_second(1), MAX_BURST + 1);
    assert_eq!(
        config.validate(),
        Err(LeakyBucketConfigError::BurstTooLarge {
            burst: MAX_BURST + 1
        })
    );
    let config = LeakyBucketConfig::new(per_second(MAX_RATE_PER_SECOND + 1), 0);
    assert!(matches!(
        config.validate(),
        Err(LeakyBucketConfigError::RateTooHigh { .. })
    ));
    assert_eq!(
        LeakyBucketConfig::new(per_second(MAX_RATE_PER_SECOND), MAX_BURST).validate(),
        Ok(())
    );
}
