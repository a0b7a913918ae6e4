//! Burst exactly, exact waits, warm-up ramp, contention.

use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::keyed_rate::RateDecision;
use crate::warm_up::WarmUp;

fn bucket(per_second: u32, burst: u32) -> (TokenBucket<ManualClock>, ManualClock) {
    let clock = ManualClock::at_monotonic(Duration::from_secs(100));
    let config = TokenBucketConfig::new(
        NonZeroU32::new(per_second).unwrap(),
        NonZeroU32::new(burst).unwrap(),
    );
    (TokenBucket::new(config, clock.clone()), clock)
}

fn limited(millis: u64) -> RateDecision {
    RateDecision::Limited {
        retry_after: Duration::from_millis(millis),
    }
}

#[test]
fn allows_exactly_the_burst_then_waits_one_interval() {
    let (bucket, clock) = bucket(4, 3);
    for _ in 0..3 {
        assert_eq!(bucket.check(), RateDecision::Allowed);
    }
    assert_eq!(bucket.check(), limited(250));
    clock.advance(Duration::from_millis(249));
    assert_eq!(bucket.check(), limited(1));
    clock.advance(Duration::from_millis(1));
    assert_eq!(bucket.check(), RateDecision::Allowed);
    assert_eq!(bucket.check(), limited(250));
}

#[test]
fn idle_refills_to_the_burst_and_no_further() {
    let (bucket, clock) = bucket(10, 2);
    assert!(bucket.check().is_allowed());
    assert!(bucket.check().is_allowed());
    clock.advance(Duration::from_secs(60));
    assert!(bucket.check().is_allowed());
    assert!(bucket.check().is_allowed());
    assert_eq!(bucket.check(), limited(100));
}

#[test]
fn warm_up_starts_at_a_third_and_reaches_the_full_rate() {
    let clock = ManualClock::at_monotonic(Duration::from_secs(1));
    let config = TokenBucketConfig {
        warm_up: Some(WarmUp::over(Duration::from_secs(10))),
        ..TokenBucketConfig::new(NonZeroU32::new(100).unwrap(), NonZeroU32::new(30).unwrap())
    };
    let bucket = TokenBucket::new(config, clock.clone());
    // Cold: burst 30 × 0.333 = 9, interval 10 ms × 1000/333 = 30.03 ms.
    let allowed = (0..30).filter(|_| bucket.check().is_allowed()).count();
    assert_eq!(allowed, 9);
    assert_eq!(
        bucket.check(),
        RateDecision::Limited {
            retry_after: Duration::from_nanos(30_030_030)
        }
    );

    // Count admissions under a flood, one attempt per millisecond, second by second.
    let mut per_second = Vec::new();
    for _ in 0..12 {
        let mut allowed = 0;
        for _ in 0..1_000 {
            clock.advance(Duration::from_millis(1));
            allowed += usize::from(bucket.check().is_allowed());
        }
        per_second.push(allowed);
    }
    assert!((33..=40).contains(&per_second[0]), "{per_second:?}");
    assert!(
        per_second.windows(2).all(|pair| pair[1] + 1 >= pair[0]),
        "ramps up: {per_second:?}"
    );
    assert_eq!(
        per_second[11], 100,
        "full rate after the period: {per_second:?}"
    );
}

#[test]
fn never_admits_more_than_the_quota_under_two_threads() {
    const ATTEMPTS: usize = 50_000;
    let (bucket, _clock) = bucket(1, 5);
    let allowed: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    (0..ATTEMPTS)
                        .filter(|_| bucket.check().is_allowed())
                        .count()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .sum()
    });
    assert_eq!(allowed, 5, "the clock never moved: exactly the burst");
}

#[test]
#[should_panic(expected = "invalid config")]
fn new_panics_on_invalid_warm_up() {
    let config = TokenBucketConfig {
        warm_up: Some(WarmUp::over(Duration::from_secs(100_000))),
        ..TokenBucketConfig::new(NonZeroU32::MIN, NonZeroU32::MIN)
    };
    let _ = TokenBucket::new(config, ManualClock::default());
}
