//! Property test: the keyed limiter makes the same decisions as a plain reference GCRA, on a
//! fake clock, for random sequences of (key, time advance) steps with idle evictions mixed in.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use proptest::prelude::*;
use stampede_admission::keyed_rate::{
    KeyedRateConfig, KeyedRateLimiter, MAX_TRACKED_KEYS, RateDecision,
};

/// The textbook GCRA (virtual scheduling), one theoretical arrival time per key, in nanos.
struct ReferenceGcra {
    /// Emission interval: nanoseconds per allowed request.
    interval: u64,
    /// Tolerance: how far ahead of now the arrival time may run (burst - 1 intervals).
    tolerance: u64,
    arrival: HashMap<u64, u64>,
}

impl ReferenceGcra {
    fn new(per_second: u32, burst: u32) -> Self {
        let interval = (1_000_000_000 / u64::from(per_second)).max(1);
        Self {
            interval,
            tolerance: interval * u64::from(burst - 1),
            arrival: HashMap::new(),
        }
    }

    fn check(&mut self, key: u64, now: u64) -> RateDecision {
        let arrival = self.arrival.get(&key).copied().unwrap_or(now);
        let earliest = arrival.saturating_sub(self.tolerance);
        if now < earliest {
            return RateDecision::Limited {
                retry_after: Duration::from_nanos(earliest - now),
            };
        }
        self.arrival.insert(key, arrival.max(now) + self.interval);
        RateDecision::Allowed
    }
}

#[derive(Debug, Clone)]
enum Step {
    Check { key: u64, advance_micros: u64 },
    EvictIdle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Few keys so they collide often; advances from 0 to 2 s, weighted to small ones.
        9 => (0..6_u64, prop_oneof![Just(0_u64), 0..2_000_u64, 0..2_000_000_u64])
            .prop_map(|(key, advance_micros)| Step::Check { key, advance_micros }),
        1 => Just(Step::EvictIdle),
    ]
}

proptest! {
    #[test]
    fn matches_reference_gcra(
        per_second in 1..2_000_u32,
        burst in 1..20_u32,
        steps in proptest::collection::vec(step(), 1..200),
    ) {
        let clock = FakeRelativeClock::default();
        let config = KeyedRateConfig {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            max_keys: MAX_TRACKED_KEYS,
        };
        let limiter = KeyedRateLimiter::new(config, clock.clone());
        let mut reference = ReferenceGcra::new(per_second, burst);
        let mut now = 0_u64;
        for step in steps {
            match step {
                Step::Check { key, advance_micros } => {
                    clock.advance(Duration::from_micros(advance_micros));
                    now += advance_micros * 1_000;
                    prop_assert_eq!(limiter.check(key), reference.check(key, now), "key {}", key);
                }
                Step::EvictIdle => limiter.evict_idle(),
            }
        }
    }
}
