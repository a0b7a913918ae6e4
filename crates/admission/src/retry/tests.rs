//! Retry and timeout on tokio's paused clock: attempts, jittered delays, the total bound,
//! and no retry for non-idempotent operations.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: NonZeroU32::new(max_attempts).unwrap(),
        base_delay: 10 * MS,
        max_delay: 40 * MS,
        max_total: Duration::from_secs(1),
    }
}

/// An operation that fails `failures` times, then succeeds; logs each attempt's start time.
fn flaky(
    failures: u32,
    log: &RefCell<Vec<Instant>>,
) -> impl FnMut() -> std::future::Ready<Result<u32, &'static str>> + '_ {
    move || {
        log.borrow_mut().push(Instant::now());
        let attempt = log.borrow().len() as u32;
        std::future::ready(if attempt <= failures {
            Err("transient")
        } else {
            Ok(attempt)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn retries_until_success() {
    let log = RefCell::new(Vec::new());
    let result = retry(&policy(5), Idempotency::Idempotent, flaky(3, &log)).await;
    assert_eq!(result, Ok(4));
    assert_eq!(log.borrow().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn stops_after_max_attempts_with_the_last_error() {
    let log = RefCell::new(Vec::new());
    let result = retry(&policy(3), Idempotency::Idempotent, flaky(10, &log)).await;
    assert_eq!(
        result,
        Err(RetryError::Failed {
            attempts: 3,
            last: "transient"
        })
    );
    assert_eq!(log.borrow().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_gets_exactly_one_attempt() {
    let log = RefCell::new(Vec::new());
    let result = retry(&policy(10), Idempotency::NonIdempotent, flaky(1, &log)).await;
    assert_eq!(
        result,
        Err(RetryError::Failed {
            attempts: 1,
            last: "transient"
        })
    );
    assert_eq!(log.borrow().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn not_retryable_errors_stop_at_once() {
    let log = RefCell::new(Vec::new());
    let mut rng = StdRng::seed_from_u64(7);
    let result = retry_with(
        &policy(5),
        Idempotency::Idempotent,
        &mut rng,
        |error: &&str| *error != "transient",
        flaky(3, &log),
    )
    .await;
    assert!(matches!(
        result,
        Err(RetryError::Failed { attempts: 1, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn delays_are_within_full_jitter_bounds_and_reproducible() {
    let policy = policy(8);
    let mut gaps_by_seed = Vec::new();
    for _ in 0..2 {
        let log = RefCell::new(Vec::new());
        let mut rng = StdRng::seed_from_u64(42);
        let result = retry_with(
            &policy,
            Idempotency::Idempotent,
            &mut rng,
            |_| true,
            flaky(7, &log),
        )
        .await;
        assert_eq!(result, Ok(8));
        let gaps: Vec<Duration> = log.borrow().windows(2).map(|w| w[1] - w[0]).collect();
        for (index, gap) in gaps.iter().enumerate() {
            let cap = policy.delay_cap(index as u32 + 1);
            assert!(
                *gap <= cap,
                "wait {index} was {gap:?}, over its cap {cap:?}"
            );
        }
        assert_eq!(policy.delay_cap(1), 10 * MS);
        assert_eq!(policy.delay_cap(3), 40 * MS);
        assert_eq!(policy.delay_cap(7), 40 * MS, "capped at max_delay");
        gaps_by_seed.push(gaps);
    }
    assert_eq!(gaps_by_seed[0], gaps_by_seed[1], "one seed, one schedule");
}

#[test]
fn jitter_spreads_over_the_whole_range() {
    let policy = policy(3);
    let mut rng = StdRng::seed_from_u64(1);
    let waits: Vec<Duration> = (0..1_000).map(|_| policy.delay(3, &mut rng)).collect();
    let cap = 40 * MS;
    assert!(waits.iter().all(|w| *w <= cap));
    assert!(
        waits.iter().any(|w| *w < cap / 10),
        "full jitter reaches near zero"
    );
    assert!(waits.iter().any(|w| *w > cap * 9 / 10), "and near the cap");
}

#[tokio::test(start_paused = true)]
async fn total_time_bound_cancels_a_slow_attempt() {
    let started = Instant::now();
    let attempts = RefCell::new(0);
    let result: Result<(), RetryError<&str>> = retry(&policy(10), Idempotency::Idempotent, || {
        *attempts.borrow_mut() += 1;
        async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Err("slow failure")
        }
    })
    .await;
    assert_eq!(result, Err(RetryError::TimedOut { attempts: 3 }));
    assert_eq!(*attempts.borrow(), 3);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "ends exactly at max_total"
    );
}

#[tokio::test(start_paused = true)]
async fn does_not_sleep_past_the_total_bound() {
    let started = Instant::now();
    let policy = RetryPolicy {
        max_total: 5 * MS,
        base_delay: 40 * MS,
        ..policy(10)
    };
    let log = RefCell::new(Vec::new());
    let mut rng = StdRng::seed_from_u64(3);
    let result = retry_with(
        &policy,
        Idempotency::Idempotent,
        &mut rng,
        |_| true,
        flaky(10, &log),
    )
    .await;
    assert!(matches!(result, Err(RetryError::Failed { .. })));
    assert!(started.elapsed() < 5 * MS);
}

#[tokio::test(start_paused = true)]
async fn with_timeout_returns_a_typed_error() {
    let slow = tokio::time::sleep(Duration::from_secs(5));
    assert_eq!(
        with_timeout(100 * MS, slow).await,
        Err(TimeoutError { after: 100 * MS })
    );
    assert_eq!(with_timeout(100 * MS, async { 7 }).await, Ok(7));
}

#[test]
fn invalid_policy_names_the_field() {
    let bad = RetryPolicy {
        max_attempts: NonZeroU32::new(11).unwrap(),
        ..RetryPolicy::default()
    };
    assert_eq!(bad.validate().unwrap_err().field, "max_attempts");
    let bad = RetryPolicy {
        max_total: Duration::ZERO,
        ..RetryPolicy::default()
    };
    assert_eq!(bad.validate().unwrap_err().field, "max_total");
}
