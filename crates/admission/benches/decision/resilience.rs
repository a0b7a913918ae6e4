//! `resilience/*`: the circuit breaker (closed: `try_acquire` + `record`; open: `is_open`)
//! and the adaptive limiter (`try_admit` + `finish`, real clock), on 1 and 2 threads.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use stampede_admission::breaker::{BreakerConfig, CallOutcome, CircuitBreaker};
use stampede_admission::clock::{Clock, SystemClock};
use stampede_admission::overload::{AdaptiveConfig, AdaptiveLimiter, Admission};

/// Threads in the contended cases (the dev box has 2 cores).
const THREADS: usize = 2;

/// Runs `work(iterations)` on `THREADS` threads at once; the wall time is the per-operation
/// latency under contention.
fn contended(iterations: u64, work: impl Fn(u64) + Sync) -> Duration {
    #[allow(clippy::disallowed_methods, reason = "benchmarks time real work")]
    let began = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| work(iterations));
        }
    });
    began.elapsed()
}

fn breaker_call(breaker: &CircuitBreaker, now: Duration) {
    let permit = breaker.try_acquire(black_box(now)).expect("closed");
    permit.record(CallOutcome::Success, black_box(Duration::from_micros(50)));
}

fn admit_finish(limiter: &AdaptiveLimiter<SystemClock>) {
    match limiter.try_admit() {
        Admission::Admit(permit) => permit.finish(),
        Admission::Shed { .. } => unreachable!("one caller at a time never reaches the floor"),
    }
}

pub(crate) fn resilience(c: &mut Criterion) {
    let mut group = c.benchmark_group("resilience");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));

    let breaker = CircuitBreaker::new(BreakerConfig::default());
    let now = Duration::from_secs(1);
    group.bench_function("breaker_closed_acquire_record", |b| {
        b.iter(|| breaker_call(&breaker, now))
    });
    group.bench_function("breaker_closed_acquire_record_2_threads", |b| {
        b.iter_custom(|iterations| {
            contended(iterations, |n| {
                (0..n).for_each(|_| breaker_call(&breaker, now))
            })
        })
    });
    group.bench_function("breaker_is_open", |b| {
        b.iter(|| black_box(breaker.is_open(black_box(now))))
    });

    let limiter = AdaptiveLimiter::new(AdaptiveConfig::default(), SystemClock::new());
    group.bench_function("adaptive_admit_finish", |b| {
        b.iter(|| admit_finish(&limiter))
    });
    group.bench_function("adaptive_admit_finish_2_threads", |b| {
        b.iter_custom(|iterations| {
            contended(iterations, |n| (0..n).for_each(|_| admit_finish(&limiter)))
        })
    });
    let clock = SystemClock::new();
    group.bench_function("clock_now_for_reference", |b| {
        b.iter(|| black_box(clock.monotonic()))
    });
    group.finish();
}
