//! Property test: the keyed sliding window decides like a log of admitted timestamps weighed
//! the same way, and each `retry_after` is exact (admitted then, limited a nanosecond sooner).

use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;
use stampede_admission::clock::ManualClock;
use stampede_admission::keyed_rate::{MAX_TRACKED_KEYS, RateDecision};
use stampede_admission::sliding_window::{
    KeyedSlidingWindow, SlidingWindowConfig, SlidingWindowPolicy,
};

/// Every admitted timestamp per key, counted per fixed window on demand.
struct ReferenceLog {
    limit: u128,
    window: u64,
    admitted: Vec<Vec<u64>>,
}

impl ReferenceLog {
    fn would_admit(&self, key: usize, now: u64) -> bool {
        let start = now / self.window * self.window;
        let previous_start = start.saturating_sub(self.window);
        let log = &self.admitted[key];
        let current = log.iter().filter(|&&t| t >= start).count() as u128;
        let previous = if start == 0 {
            0
        } else {
            log.iter()
                .filter(|&&t| (previous_start..start).contains(&t))
                .count() as u128
        };
        let window = u128::from(self.window);
        let offset = u128::from(now - start);
        previous * (window - offset) + (current + 1) * window <= self.limit * window
    }
}

#[derive(Debug, Clone)]
enum Step {
    Check { key: usize, advance_micros: u64 },
    EvictIdle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        9 => (0..3_usize, prop_oneof![Just(0_u64), 0..50_000_u64, 0..3_000_000_u64])
            .prop_map(|(key, advance_micros)| Step::Check { key, advance_micros }),
        1 => Just(Step::EvictIdle),
    ]
}

proptest! {
    #[test]
    fn matches_timestamp_log_and_retry_is_exact(
        limit in 1..12_u32,
        window_millis in 1..2_000_u64,
        steps in proptest::collection::vec(step(), 1..250),
    ) {
        let clock = ManualClock::default();
        let config = SlidingWindowConfig {
            limit: NonZeroU32::new(limit).unwrap(),
            window: Duration::from_millis(window_millis),
        };
        let keyed = KeyedSlidingWindow::new(
            SlidingWindowPolicy::new(config),
            MAX_TRACKED_KEYS,
            clock.clone(),
        );
        let mut reference = ReferenceLog {
            limit: u128::from(limit),
            window: window_millis * 1_000_000,
            admitted: vec![Vec::new(); 3],
        };
        let mut now = 0_u64;
        for step in steps {
            match step {
                Step::Check { key, advance_micros } => {
                    clock.advance(Duration::from_micros(advance_micros));
                    now += advance_micros * 1_000;
                    match keyed.check(key as u64) {
                        RateDecision::Allowed => {
                            prop_assert!(reference.would_admit(key, now));
                            reference.admitted[key].push(now);
                        }
                        RateDecision::Limited { retry_after } => {
                            prop_assert!(!reference.would_admit(key, now));
                            let at = now + u64::try_from(retry_after.as_nanos()).unwrap();
                            prop_assert!(reference.would_admit(key, at), "retry {:?}", retry_after);
                            prop_assert!(!reference.would_admit(key, at - 1), "retry {:?}", retry_after);
                        }
                    }
                }
                Step::EvictIdle => keyed.evict_idle(),
            }
        }
    }
}
