//! Property test: the keyed leaky bucket decides like a departure-time model of nginx's
//! `limit_req` queue, on a fake clock, for random (key, advance) steps with idle evictions.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::time::Duration;

use proptest::prelude::*;
use stampede_admission::clock::ManualClock;
use stampede_admission::keyed_rate::MAX_TRACKED_KEYS;
use stampede_admission::leaky_bucket::{
    BurstMode, KeyedLeakyBucket, LeakyBucketConfig, LeakyBucketPolicy, LeakyDecision, Rate,
};

/// Each admitted request departs (is served) one interval after the one before it, or on
/// arrival if the queue is empty. Times are scaled by `rate` so an interval is exactly 10⁹.
struct ReferenceQueue {
    rate: u64,
    burst: u64,
    undelayed: u64,
    /// Scaled departure time of each key's last admitted request.
    departure: HashMap<u64, u128>,
}

const UNIT: u128 = 1_000_000_000;

impl ReferenceQueue {
    fn nanos(&self, scaled: u128) -> Duration {
        Duration::from_nanos(u64::try_from(scaled.div_ceil(u128::from(self.rate))).unwrap())
    }

    fn check(&mut self, key: u64, now: u64) -> LeakyDecision {
        let arrival = u128::from(now) * u128::from(self.rate);
        let departure = match self.departure.get(&key) {
            None => arrival,
            Some(&previous) => arrival.max(previous + UNIT),
        };
        let ahead = departure - arrival;
        let burst = u128::from(self.burst) * UNIT;
        if ahead > burst {
            return LeakyDecision::Reject {
                retry_after: self.nanos(ahead - burst),
            };
        }
        self.departure.insert(key, departure);
        let undelayed = u128::from(self.undelayed).saturating_mul(UNIT);
        if ahead > undelayed {
            LeakyDecision::Delay(self.nanos(ahead - undelayed))
        } else {
            LeakyDecision::Allow
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Check { key: u64, advance_micros: u64 },
    EvictIdle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        9 => (0..4_u64, prop_oneof![Just(0_u64), 0..5_000_u64, 0..3_000_000_u64])
            .prop_map(|(key, advance_micros)| Step::Check { key, advance_micros }),
        1 => Just(Step::EvictIdle),
    ]
}

fn mode() -> impl Strategy<Value = BurstMode> {
    prop_oneof![
        Just(BurstMode::Delayed),
        Just(BurstMode::Nodelay),
        (0..12_u32).prop_map(|undelayed| BurstMode::TwoStage { undelayed }),
    ]
}

proptest! {
    #[test]
    fn matches_departure_model(
        per_second in 1..2_000_u64,
        burst in 0..10_u32,
        mode in mode(),
        steps in proptest::collection::vec(step(), 1..250),
    ) {
        let clock = ManualClock::at_monotonic(Duration::from_secs(3));
        let config = LeakyBucketConfig {
            mode,
            ..LeakyBucketConfig::new(Rate::per_second(NonZeroU64::new(per_second).unwrap()), burst)
        };
        let policy = LeakyBucketPolicy::new(config, &clock);
        let keyed = KeyedLeakyBucket::new(policy, MAX_TRACKED_KEYS, clock.clone());
        let mut reference = ReferenceQueue {
            rate: per_second,
            burst: u64::from(burst),
            undelayed: match mode {
                BurstMode::Delayed => 0,
                BurstMode::Nodelay => u64::MAX,
                BurstMode::TwoStage { undelayed } => u64::from(undelayed),
            },
            departure: HashMap::new(),
        };
        let mut now = 3_000_000_000_u64;
        for step in steps {
            match step {
                Step::Check { key, advance_micros } => {
                    clock.advance(Duration::from_micros(advance_micros));
                    now += advance_micros * 1_000;
                    prop_assert_eq!(keyed.check(key), reference.check(key, now), "key {}", key);
                }
                Step::EvictIdle => keyed.evict_idle(),
            }
        }
    }
}
