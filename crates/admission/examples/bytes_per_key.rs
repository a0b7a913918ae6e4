//! Measures memory per tracked key for each keyed limiter: inserts 1,000,000 keys and reports
//! RSS growth / 1e6, then times one `evict_idle` pass over the full table (nothing idle: a
//! worst-case scan). Every table is kept alive to the end, so no table's growth reuses
//! memory freed by another.
//!
//! Run: `cargo run --release -p stampede-admission --example bytes_per_key`

use std::num::{NonZeroU32, NonZeroU64};

use governor::clock::FakeRelativeClock;
use stampede_admission::clock::ManualClock;
use stampede_admission::keyed_rate::{KeyedRateConfig, KeyedRateLimiter, MAX_TRACKED_KEYS};
use stampede_admission::leaky_bucket::{
    KeyedLeakyBucket, LeakyBucketConfig, LeakyBucketPolicy, Rate,
};
use stampede_admission::sliding_window::{
    KeyedSlidingWindow, SlidingWindowConfig, SlidingWindowPolicy,
};

#[path = "../tests/support/rss.rs"]
mod rss;

/// Keys inserted: enough that table growth dominates allocator noise.
const KEYS: u64 = 1_000_000;

/// Inserts [`KEYS`] keys with `check`, prints bytes per key, then times `evict_idle`.
fn measure(name: &str, check: impl Fn(u64), len: impl Fn() -> usize, evict_idle: impl Fn()) {
    let before = rss::resident_bytes();
    for index in 0..KEYS {
        // Spread keys like the API's seeded hash would.
        check(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    let grown = rss::resident_bytes().saturating_sub(before);
    println!(
        "{name}: {} keys tracked, RSS grew {grown} bytes: {:.1} bytes per key",
        len(),
        grown as f64 / KEYS as f64
    );
    #[allow(clippy::disallowed_methods, reason = "the example times real work")]
    let began = std::time::Instant::now();
    evict_idle();
    println!(
        "{name}: evict_idle over {} live keys took {:?}",
        len(),
        began.elapsed()
    );
}

fn main() {
    let rate = KeyedRateLimiter::new(
        KeyedRateConfig {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::MIN,
            max_keys: MAX_TRACKED_KEYS,
        },
        FakeRelativeClock::default(),
    );
    measure(
        "keyed_rate (GCRA, governor)",
        |key| {
            let _ = rate.check(key);
        },
        || rate.len(),
        || rate.evict_idle(),
    );

    let clock = ManualClock::default();
    let config = LeakyBucketConfig::new(Rate::per_second(NonZeroU64::MIN), 0);
    let leaky = KeyedLeakyBucket::new(
        LeakyBucketPolicy::new(config, &clock),
        MAX_TRACKED_KEYS,
        clock.clone(),
    );
    measure(
        "leaky_bucket",
        |key| {
            let _ = leaky.check(key);
        },
        || leaky.len(),
        || leaky.evict_idle(),
    );

    let config = SlidingWindowConfig::per_minute(NonZeroU32::MIN);
    let window = KeyedSlidingWindow::new(SlidingWindowPolicy::new(config), MAX_TRACKED_KEYS, clock);
    measure(
        "sliding_window",
        |key| {
            let _ = window.check(key);
        },
        || window.len(),
        || window.evict_idle(),
    );
}
