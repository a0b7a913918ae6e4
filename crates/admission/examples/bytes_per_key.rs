//! Measures memory per tracked key: inserts 1,000,000 keys and reports RSS growth / 1e6,
//! then times one `evict_idle` pass over the full table (nothing idle: a worst-case scan).
//!
//! Run: `cargo run --release -p stampede-admission --example bytes_per_key`

use std::num::NonZeroU32;

use governor::clock::FakeRelativeClock;
use stampede_admission::keyed_rate::{KeyedRateConfig, KeyedRateLimiter, MAX_TRACKED_KEYS};

#[path = "../tests/support/rss.rs"]
mod rss;

/// Keys inserted: enough that table growth dominates allocator noise.
const KEYS: u64 = 1_000_000;

fn main() {
    let limiter = KeyedRateLimiter::new(
        KeyedRateConfig {
            per_second: NonZeroU32::MIN,
            burst: NonZeroU32::MIN,
            max_keys: MAX_TRACKED_KEYS,
        },
        FakeRelativeClock::default(),
    );
    let before = rss::resident_bytes();
    for index in 0..KEYS {
        // Spread keys like the API's seeded hash would.
        let _ = limiter.check(index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
    let grown = rss::resident_bytes().saturating_sub(before);
    println!(
        "{} keys tracked, RSS grew {} bytes: {:.1} bytes per key",
        limiter.len(),
        grown,
        grown as f64 / KEYS as f64
    );

    #[allow(clippy::disallowed_methods, reason = "the example times real work")]
    let began = std::time::Instant::now();
    limiter.evict_idle();
    println!(
        "evict_idle over {} live keys took {:?}",
        limiter.len(),
        began.elapsed()
    );
}
