//! [`retry`] and [`retry_with`]: run an operation under a [`RetryPolicy`].
//!
//! Why not `backon` (the stack's retry crate): its jitter adds `U(0, delay)` on top of the
//! delay rather than full jitter, its `total_delay` bounds only the sum of sleeps (not the
//! attempts' own time), and it reports no attempt count. What we need — an explicit
//! idempotency argument, a wall-time bound that also cancels a late attempt, an injectable
//! RNG and a typed error — is the ~40 lines below, on tokio's pausable clock.

use std::future::Future;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, sleep, timeout_at};

use super::policy::{Idempotency, RetryPolicy};

/// Why a retried operation gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryError<E> {
    /// The last attempt failed and no further one was allowed (attempts used up, the error
    /// not retryable, the operation not idempotent, or the next wait would pass `max_total`).
    #[error("failed after {attempts} attempt(s): {last}")]
    Failed {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: E,
    },
    /// `max_total` passed during an attempt, which was cancelled.
    #[error("gave up after {attempts} attempt(s): the retry time bound passed")]
    TimedOut {
        /// Attempts started, the cancelled one included.
        attempts: u32,
    },
}

/// Runs `op` until it succeeds, retrying every error if `idempotency` allows, with
/// full-jitter backoff from a randomly seeded RNG. See [`retry_with`].
///
/// # Panics
/// If `policy` fails [`RetryPolicy::validate`].
pub async fn retry<T, E, Op, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    op: Op,
) -> Result<T, RetryError<E>>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut rng = StdRng::from_rng(&mut rand::rng());
    retry_with(policy, idempotency, &mut rng, |_| true, op).await
}

/// Runs `op` until it succeeds or the policy says stop.
///
/// - `idempotency`: [`Idempotency::NonIdempotent`] means exactly one attempt.
/// - `rng`: draws the jitter (pass a seeded one to reproduce a run).
/// - `retryable`: whether an error is worth another attempt (e.g. not a 4xx).
///
/// Time is tokio's clock, so tests run it with paused time.
///
/// # Panics
/// If `policy` fails [`RetryPolicy::validate`].
pub async fn retry_with<T, E, Op, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    rng: &mut impl Rng,
    retryable: impl Fn(&E) -> bool,
    mut op: Op,
) -> Result<T, RetryError<E>>
where
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    if let Err(error) = policy.validate() {
        panic!("retry: {error}");
    }
    let max_attempts = match idempotency {
        Idempotency::Idempotent => policy.max_attempts.get(),
        Idempotency::NonIdempotent => 1,
    };
    let deadline = Instant::now() + policy.max_total;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = match timeout_at(deadline, op()).await {
            Err(_elapsed) => return Err(RetryError::TimedOut { attempts }),
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
        };
        if attempts >= max_attempts || !retryable(&last) {
            return Err(RetryError::Failed { attempts, last });
        }
        let wait = policy.delay(attempts, rng);
        if Instant::now() + wait >= deadline {
            return Err(RetryError::Failed { attempts, last });
        }
        sleep(wait).await;
    }
}
