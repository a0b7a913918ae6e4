//! Property tests: the lock-free [`TokenBucket`] decides like a textbook GCRA on a fake clock
//! (with and without warm-up), and never admits more than `burst + elapsed · rate`.

use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;
use stampede_admission::clock::{Clock, ManualClock};
use stampede_admission::keyed_rate::RateDecision;
use stampede_admission::token_bucket::{TokenBucket, TokenBucketConfig};
use stampede_admission::warm_up::WarmUp;

/// Textbook GCRA (virtual scheduling) with an optional warm-up ramp, all in nanoseconds.
struct ReferenceGcra {
    interval: u64,
    burst: u64,
    tat: Option<u64>,
    /// (ramp, cold since, last request seen).
    warm_up: Option<(WarmUp, u64, u64)>,
}

impl ReferenceGcra {
    fn check(&mut self, now: u64) -> RateDecision {
        let (interval, burst) = match &mut self.warm_up {
            None => (self.interval, self.burst),
            Some((warm_up, cold_since, last_seen)) => {
                let period = u64::try_from(warm_up.period.as_nanos()).unwrap();
                if now > *last_seen && now - *last_seen >= period {
                    *cold_since = now; // idle a whole period: cold again
                }
                *last_seen = (*last_seen).max(now);
                let permille = warm_up.permille_at(Duration::from_nanos(now - *cold_since));
                let burst = (self.burst * permille / 1_000).max(1);
                (self.interval * 1_000 / permille, burst)
            }
        };
        let arrival = self.tat.unwrap_or(now);
        let earliest = arrival.saturating_sub(interval * (burst - 1));
        if now < earliest {
            return RateDecision::Limited {
                retry_after: Duration::from_nanos(earliest - now),
            };
        }
        self.tat = Some(arrival.max(now) + interval);
        RateDecision::Allowed
    }
}

fn advances() -> impl Strategy<Value = Vec<u64>> {
    // Microseconds, weighted to bursts (0) and sub-interval gaps, sometimes seconds.
    proptest::collection::vec(
        prop_oneof![Just(0_u64), 0..2_000_u64, 0..3_000_000_u64],
        1..300,
    )
}

proptest! {
    #[test]
    fn matches_reference_gcra(
        per_second in 1..5_000_u32,
        burst in 1..30_u32,
        warm_up in proptest::option::of((0..5_000_u64, 1..6_u32)),
        steps in advances(),
    ) {
        let clock = ManualClock::at_monotonic(Duration::from_secs(7));
        let warm_up = warm_up.map(|(period_millis, factor)| WarmUp {
            period: Duration::from_millis(period_millis),
            cold_factor: NonZeroU32::new(factor).unwrap(),
        });
        let config = TokenBucketConfig {
            warm_up,
            ..TokenBucketConfig::new(
                NonZeroU32::new(per_second).unwrap(),
                NonZeroU32::new(burst).unwrap(),
            )
        };
        let bucket = TokenBucket::new(config, clock.clone());
        let start = 7_000_000_000;
        let mut reference = ReferenceGcra {
            interval: 1_000_000_000 / u64::from(per_second),
            burst: u64::from(burst),
            tat: None,
            warm_up: warm_up.map(|warm_up| (warm_up, start, start)),
        };
        let mut now = start;
        for advance_micros in steps {
            clock.advance(Duration::from_micros(advance_micros));
            now += advance_micros * 1_000;
            prop_assert_eq!(bucket.check(), reference.check(now), "at {} ns", now);
        }
    }

    #[test]
    fn never_admits_more_than_burst_plus_elapsed_rate(
        per_second in 1..5_000_u32,
        burst in 1..30_u32,
        steps in advances(),
    ) {
        let clock = ManualClock::default();
        let config = TokenBucketConfig::new(
            NonZeroU32::new(per_second).unwrap(),
            NonZeroU32::new(burst).unwrap(),
        );
        let bucket = TokenBucket::new(config, clock.clone());
        let mut admitted = 0_u64;
        for advance_micros in steps {
            clock.advance(Duration::from_micros(advance_micros));
            admitted += u64::from(bucket.check().is_allowed());
            let elapsed = clock.monotonic_nanos();
            // The A-th admission needs (A − burst) · interval ≤ elapsed (interval as rounded).
            let earned = elapsed / (1_000_000_000 / u64::from(per_second));
            prop_assert!(admitted <= u64::from(burst) + earned, "{} admitted", admitted);
        }
    }
}
