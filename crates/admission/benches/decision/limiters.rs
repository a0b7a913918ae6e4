//! ns per decision for the limiters of `token_bucket`, `leaky_bucket`, `sliding_window`,
//! `in_flight` and `queued_in_flight`. Every quota is generous enough that each decision
//! admits, so the full update path is measured. Production clocks throughout (`SystemClock`,
//! which reads the TSC through quanta; governor's quanta `DefaultClock`), so a clock read is
//! included.

use std::future::Future;
use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroU64};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Bencher, Criterion};
use governor::{Quota, RateLimiter};
use stampede_admission::clock::{Clock, SystemClock};
use stampede_admission::in_flight::InFlight;
use stampede_admission::keyed_rate::MAX_TRACKED_KEYS;
use stampede_admission::leaky_bucket::{
    BurstMode, KeyedLeakyBucket, LeakyBucket, LeakyBucketConfig, LeakyBucketPolicy, Rate,
};
use stampede_admission::queued_in_flight::{QueuedInFlight, QueuedInFlightConfig};
use stampede_admission::sliding_window::{
    KeyedSlidingWindow, SlidingWindow, SlidingWindowConfig, SlidingWindowPolicy,
};
use stampede_admission::token_bucket::{TokenBucket, TokenBucketConfig};

/// Threads in the contended cases (the dev box has 2 cores).
const THREADS: u64 = 2;
/// Keys cycled per thread in the keyed cases: a working set that stays in cache.
const KEYS_PER_THREAD: u64 = 4_096;
/// A rate no benchmark can exhaust.
const HUGE: u32 = 1_000_000_000;

fn huge() -> NonZeroU32 {
    NonZeroU32::new(HUGE).unwrap()
}

fn leaky_policy(clock: &impl Clock) -> LeakyBucketPolicy {
    let config = LeakyBucketConfig {
        mode: BurstMode::Nodelay,
        ..LeakyBucketConfig::new(
            Rate::per_second(NonZeroU64::new(10_000_000).unwrap()),
            1_000_000,
        )
    };
    LeakyBucketPolicy::new(config, clock)
}

fn window_policy() -> SlidingWindowPolicy {
    SlidingWindowPolicy::new(SlidingWindowConfig::per_minute(huge()))
}

/// Wall time for each of [`THREADS`] threads to make `iterations` decisions: the
/// per-decision latency seen under contention. `decide(thread, i)` makes one.
fn contended(bencher: &mut Bencher<'_>, decide: impl Fn(u64, u64) + Sync) {
    bencher.iter_custom(|iterations| {
        #[allow(clippy::disallowed_methods, reason = "benchmarks time real work")]
        let began = std::time::Instant::now();
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let decide = &decide;
                scope.spawn(move || (0..iterations).for_each(|i| decide(thread, i)));
            }
        });
        began.elapsed()
    });
}

/// A key per (thread, i), spread like the API's seeded hash would.
fn key(thread: u64, i: u64) -> u64 {
    ((thread << 32) | (i % KEYS_PER_THREAD)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Polls a future that is ready at once (the uncontended acquire path).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("benchmark acquire had to wait: raise max_in_flight"),
    }
}

/// Registers the limiter benchmarks.
pub(crate) fn limiters(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiters");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));

    let bucket = TokenBucket::new(TokenBucketConfig::new(huge(), huge()), SystemClock::new());
    group.bench_function("token_bucket", |b| b.iter(|| black_box(bucket.check())));
    group.bench_function("token_bucket_2_threads", |b| {
        contended(b, |_, _| {
            black_box(bucket.check());
        })
    });

    let governor = RateLimiter::direct(Quota::per_second(huge()).allow_burst(huge()));
    group.bench_function("governor_direct", |b| {
        b.iter(|| black_box(governor.check()))
    });
    group.bench_function("governor_direct_2_threads", |b| {
        contended(b, |_, _| {
            let _ = black_box(governor.check());
        })
    });

    let clock = SystemClock::new();
    let leaky = LeakyBucket::new(leaky_policy(&clock), clock.clone());
    group.bench_function("leaky_bucket", |b| b.iter(|| black_box(leaky.check())));
    group.bench_function("leaky_bucket_2_threads", |b| {
        contended(b, |_, _| {
            black_box(leaky.check());
        })
    });
    let keyed_leaky = KeyedLeakyBucket::new(leaky_policy(&clock), MAX_TRACKED_KEYS, clock.clone());
    let mut i = 0;
    group.bench_function("leaky_bucket_keyed", |b| {
        b.iter(|| {
            i += 1;
            black_box(keyed_leaky.check(key(0, i)))
        })
    });
    group.bench_function("leaky_bucket_keyed_2_threads", |b| {
        contended(b, |thread, i| {
            black_box(keyed_leaky.check(key(thread, i)));
        })
    });

    let window = SlidingWindow::new(window_policy(), clock.clone());
    group.bench_function("sliding_window", |b| b.iter(|| black_box(window.check())));
    group.bench_function("sliding_window_2_threads", |b| {
        contended(b, |_, _| {
            black_box(window.check());
        })
    });
    let keyed_window = KeyedSlidingWindow::new(window_policy(), MAX_TRACKED_KEYS, clock);
    group.bench_function("sliding_window_keyed", |b| {
        b.iter(|| {
            i += 1;
            black_box(keyed_window.check(key(0, i)))
        })
    });
    group.bench_function("sliding_window_keyed_2_threads", |b| {
        contended(b, |thread, i| {
            black_box(keyed_window.check(key(thread, i)));
        })
    });

    let in_flight = InFlight::new(1_000);
    group.bench_function("in_flight_acquire_release", |b| {
        b.iter(|| black_box(in_flight.try_acquire()))
    });
    group.bench_function("in_flight_acquire_release_2_threads", |b| {
        contended(b, |_, _| {
            black_box(in_flight.try_acquire());
        })
    });
    let queued = QueuedInFlight::new(QueuedInFlightConfig {
        max_in_flight: 1_000,
        max_queue: 1_000,
        max_wait: Duration::from_millis(100),
    });
    group.bench_function("queued_in_flight_acquire_release", |b| {
        b.iter(|| black_box(ready(queued.acquire())))
    });
    group.bench_function("queued_in_flight_acquire_release_2_threads", |b| {
        contended(b, |_, _| {
            drop(black_box(ready(queued.acquire())));
        })
    });
    group.finish();
}
