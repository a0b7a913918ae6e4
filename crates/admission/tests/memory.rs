//! Sanity bound on memory per tracked key (the measured figure is in `keyed_rate` docs).
//!
//! Alone in its own test binary so no other test's allocations move the RSS reading.

use std::num::NonZeroU32;

use governor::clock::FakeRelativeClock;
use stampede_admission::keyed_rate::{KeyedRateConfig, KeyedRateLimiter, MAX_TRACKED_KEYS};

#[path = "support/rss.rs"]
mod rss;

/// Keys inserted: enough that table growth dominates allocator noise.
const KEYS: u64 = 1_000_000;
/// Generous: the measured figure is far below; this only catches a gross regression.
const MAX_BYTES_PER_KEY: f64 = 256.0;

#[test]
fn bytes_per_key_stay_bounded() {
    let limiter = KeyedRateLimiter::new(
        KeyedRateConfig {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::MIN,
            max_keys: MAX_TRACKED_KEYS,
        },
        FakeRelativeClock::default(),
    );
    let before = rss::resident_bytes();
    for key in 0..KEYS {
        assert!(limiter.check(key).is_allowed());
    }
    let bytes_per_key = rss::resident_bytes().saturating_sub(before) as f64 / KEYS as f64;
    assert_eq!(limiter.len(), KEYS as usize);
    assert!(
        bytes_per_key < MAX_BYTES_PER_KEY,
        "{bytes_per_key} bytes per key"
    );
}
