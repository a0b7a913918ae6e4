//! [`RetryPolicy`], [`Idempotency`] and the full-jitter backoff.

use std::num::NonZeroU32;
use std::time::Duration;

use rand::Rng;

/// Most attempts a policy may allow. Every retry adds load to a dependency that is already
/// failing; past 10, exponential waits outlast any request a user is still waiting on.
pub const MAX_ATTEMPTS: u32 = 10;

/// Longest `max_total`: 60 s. Outbound calls serve requests; nobody waits longer.
pub const MAX_TOTAL: Duration = Duration::from_secs(60);

/// Whether an operation may be repeated. An explicit argument to [`retry`](super::retry), so
/// every call site states it: a non-idempotent operation (e.g. "append a win") gets exactly
/// one attempt, whatever the policy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it has the same effect as doing it once (reads, upserts by key, `SET`).
    Idempotent,
    /// Repeating it may do it twice; never retried.
    NonIdempotent,
}

/// How often and how long to retry. Backoff is exponential with **full jitter** (AWS's
/// "Exponential Backoff and Jitter"): before retry `n` (1-based) the wait is uniform in
/// `[0, min(max_delay, base_delay × 2^(n-1))]`, which spreads a crowd of clients that failed
/// together instead of sending them back in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at most [`MAX_ATTEMPTS`]).
    pub max_attempts: NonZeroU32,
    /// The cap of the first wait; doubles for each further retry.
    pub base_delay: Duration,
    /// The largest wait cap.
    pub max_delay: Duration,
    /// The whole retry, attempts and waits, ends by this long after it started (at most
    /// [`MAX_TOTAL`]); an attempt still running then is cancelled.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, waits capped at 10 ms, 20 ms (at most 200 ms), all within 1 s: tuned
    /// for in-datacenter backends (Redis, PostgreSQL, broker) behind a user request.
    fn default() -> Self {
        Self {
            max_attempts: NonZeroU32::new(3).expect("non-zero"),
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            max_total: Duration::from_secs(1),
        }
    }
}

/// A [`RetryPolicy`] field out of range; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry policy: `{field}` {problem}")]
pub struct RetryPolicyError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl RetryPolicy {
    /// Checks every field's range; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), RetryPolicyError> {
        let fail = |field, problem| Err(RetryPolicyError { field, problem });
        if self.max_attempts.get() > MAX_ATTEMPTS {
            return fail("max_attempts", "must be at most MAX_ATTEMPTS (10)");
        }
        if self.max_delay < self.base_delay {
            return fail("max_delay", "must be at least base_delay");
        }
        if self.max_total.is_zero() || self.max_total > MAX_TOTAL {
            return fail(
                "max_total",
                "must be above zero and at most MAX_TOTAL (60 s)",
            );
        }
        Ok(())
    }

    /// The wait cap before retry `retry` (1-based): `min(max_delay, base_delay × 2^(retry-1))`.
    pub fn delay_cap(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1_u32 << doublings)
            .min(self.max_delay)
    }

    /// A full-jitter wait before retry `retry`, drawn from `rng`.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.delay_cap(retry);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}
