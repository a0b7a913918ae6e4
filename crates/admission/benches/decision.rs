//! ns per decision of each limiter, single-threaded and contended on 2 threads:
//! - `check/*`: the keyed GCRA (`KeyedRateLimiter`, governor): hot key, many keys, 2 threads;
//! - `limiters/*`: the global token bucket (own lock-free GCRA) against governor's direct
//!   limiter, the leaky bucket and sliding window (global and keyed), and the in-flight limits;
//! - `resilience/*`: the circuit breaker and the adaptive limiter.
//!
//! Run: `cargo bench -p stampede-admission --bench decision`

// `criterion_group!` generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use governor::clock::DefaultClock;
use stampede_admission::keyed_rate::{KeyedRateConfig, KeyedRateLimiter, MAX_TRACKED_KEYS};

/// Distinct keys in the "many keys" case: enough to leave the CPU caches.
const DISTINCT_KEYS: u64 = 1_000_000;
/// Threads in the contended case (the dev box has 2 cores).
const THREADS: usize = 2;

fn limiter() -> KeyedRateLimiter<DefaultClock> {
    // A quota so generous every check is allowed: this measures the full update path.
    let config = KeyedRateConfig {
        per_second: NonZeroU32::new(1_000_000_000).unwrap(),
        burst: NonZeroU32::new(1_000_000_000).unwrap(),
        max_keys: MAX_TRACKED_KEYS,
    };
    KeyedRateLimiter::new(config, DefaultClock::default())
}

/// Spreads sequential indexes over the key space like the API's seeded hash would.
fn key(index: u64) -> u64 {
    index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));

    let hot = limiter();
    group.bench_function("hot_key", |b| {
        b.iter(|| black_box(hot.check(black_box(42))))
    });

    let many = limiter();
    (0..DISTINCT_KEYS).for_each(|i| {
        many.check(key(i));
    });
    let mut next = 0_u64;
    group.bench_function("distinct_keys_1m", |b| {
        b.iter(|| {
            next = (next + 1) % DISTINCT_KEYS;
            black_box(many.check(key(next)))
        })
    });

    for (name, same_key) in [
        ("contended_2_threads_same_key", true),
        ("2_threads_own_keys", false),
    ] {
        let shared = limiter();
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                // Wall time for each of the threads to make `iterations` checks: the
                // per-decision latency seen under contention.
                #[allow(clippy::disallowed_methods, reason = "benchmarks time real work")]
                let began = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for thread in 0..THREADS as u64 {
                        let shared = &shared;
                        scope.spawn(move || {
                            for i in 0..iterations {
                                let k = if same_key {
                                    42
                                } else {
                                    key((thread << 32) | (i % 4096))
                                };
                                black_box(shared.check(k));
                            }
                        });
                    }
                });
                began.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decision,
    limiters::limiters,
    resilience::resilience
);
criterion_main!(benches);

// In a sub-folder so cargo does not take it for a bench target of its own.
#[path = "decision/limiters.rs"]
mod limiters;
#[path = "decision/resilience.rs"]
mod resilience;
