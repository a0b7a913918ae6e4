//! Warm-up: a rule ramps its rate from a cold start instead of allowing the full rate at once
//! (Alibaba Sentinel's `WarmUp` control behaviour), so a cold system (empty caches, cold JIT,
//! idle connection pools) is not flattened at 20:00:00.
//!
//! # Ramp
//! A cold rule runs at `rate / cold_factor` (Sentinel's default factor is 3) and rises
//! **linearly** to the full rate over `period`. [`WarmUp::permille_at`] gives the fraction of
//! the full rate in force, in thousandths. The limiters that take a warm-up
//! ([`token_bucket`](crate::token_bucket), [`leaky_bucket`](crate::leaky_bucket)) scale their
//! rate by it at each decision (the token bucket scales its burst too, at least 1).
//!
//! # When is a rule cold?
//! When its limiter is created, and again whenever it has seen no request for a whole
//! `period` (Sentinel re-cools an idle resource the same way: its stored tokens fill up).
//! The ramp restarts at the first request after such a gap.
//!
//! Sentinel derives its rate from the stored-token level of a token bucket; this crate uses an
//! explicit time ramp instead: the same start, end and duration, but a value a test can
//! predict exactly.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::to_nanos;

/// Sentinel's default cold factor: a cold rule starts at a third of its rate.
pub const DEFAULT_COLD_FACTOR: NonZeroU32 = NonZeroU32::new(3).expect("3 is not zero");

/// Longest accepted ramp. A flash sale's stampede peaks within seconds; a ramp over an hour
/// would hold the rule below its rate for the whole sale, which is a configuration error.
pub const MAX_WARM_UP_PERIOD: Duration = Duration::from_secs(3_600);

/// Largest accepted cold factor: the ramp is kept in thousandths of the full rate, so a cold
/// start below 1/1000 of it cannot be expressed.
pub const MAX_COLD_FACTOR: u32 = 1_000;

/// Thousandths in the full rate.
const FULL_PERMILLE: u64 = 1_000;

/// How a rule warms up from cold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmUp {
    /// Time to rise from the cold rate to the full rate. At most [`MAX_WARM_UP_PERIOD`].
    pub period: Duration,
    /// The cold rate is the full rate divided by this. At most [`MAX_COLD_FACTOR`].
    pub cold_factor: NonZeroU32,
}

/// Why a [`WarmUp`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarmUpError {
    /// `period` was above [`MAX_WARM_UP_PERIOD`].
    #[error("warm_up.period is {period:?}, above the limit of {MAX_WARM_UP_PERIOD:?}")]
    PeriodTooLong {
        /// The value given.
        period: Duration,
    },
    /// `cold_factor` was above [`MAX_COLD_FACTOR`].
    #[error("warm_up.cold_factor is {cold_factor}, above the limit of {MAX_COLD_FACTOR}")]
    ColdFactorTooLarge {
        /// The value given.
        cold_factor: u32,
    },
}

impl WarmUp {
    /// A ramp over `period` from a third of the rate ([`DEFAULT_COLD_FACTOR`]).
    pub fn over(period: Duration) -> Self {
        Self {
            period,
            cold_factor: DEFAULT_COLD_FACTOR,
        }
    }

    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), WarmUpError> {
        if self.period > MAX_WARM_UP_PERIOD {
            return Err(WarmUpError::PeriodTooLong {
                period: self.period,
            });
        }
        if self.cold_factor.get() > MAX_COLD_FACTOR {
            return Err(WarmUpError::ColdFactorTooLarge {
                cold_factor: self.cold_factor.get(),
            });
        }
        Ok(())
    }

    /// The rate in force `since_cold` after a cold start, in thousandths of the full rate:
    /// `1000 / cold_factor` at 0, rising linearly to 1000 at `period` and staying there.
    pub fn permille_at(&self, since_cold: Duration) -> u64 {
        let cold = (FULL_PERMILLE / u64::from(self.cold_factor.get())).max(1);
        let period = self.period.as_nanos();
        if since_cold.as_nanos() >= period {
            return FULL_PERMILLE;
        }
        let risen = u128::from(FULL_PERMILLE - cold) * since_cold.as_nanos() / period;
        // `risen < 1000 - cold` because `since_cold < period`.
        cold + u64::try_from(risen).expect("risen is below 1000")
    }
}

/// A [`WarmUp`] plus when its rule last went cold: the shared, per-rule part of warm-up.
#[derive(Debug)]
pub(crate) struct Ramp {
    warm_up: WarmUp,
    period_nanos: u64,
    /// Clock nanoseconds at the last cold start.
    cold_since_nanos: AtomicU64,
    /// Latest clock reading a decision was made at.
    last_seen_nanos: AtomicU64,
}

impl Ramp {
    /// A ramp that is cold at `now_nanos` (the limiter's creation).
    pub(crate) fn new(warm_up: WarmUp, now_nanos: u64) -> Self {
        Self {
            warm_up,
            period_nanos: to_nanos(warm_up.period),
            cold_since_nanos: AtomicU64::new(now_nanos),
            last_seen_nanos: AtomicU64::new(now_nanos),
        }
    }

    /// Thousandths of the full rate in force for a decision at `now_nanos`; restarts the ramp
    /// if no decision was made for a whole period.
    pub(crate) fn permille(&self, now_nanos: u64) -> u64 {
        let previous = self.last_seen_nanos.fetch_max(now_nanos, Ordering::Relaxed);
        if now_nanos.saturating_sub(previous) >= self.period_nanos && now_nanos > previous {
            self.cold_since_nanos.store(now_nanos, Ordering::Relaxed);
        }
        let cold_since = self.cold_since_nanos.load(Ordering::Relaxed);
        self.warm_up
            .permille_at(Duration::from_nanos(now_nanos.saturating_sub(cold_since)))
    }

    /// The lowest fraction the ramp ever applies (its cold start).
    pub(crate) fn cold_permille(&self) -> u64 {
        self.warm_up.permille_at(Duration::ZERO)
    }
}

/// `value * permille / 1000`, at least 1.
pub(crate) fn scale(value: u64, permille: u64) -> u64 {
    let scaled = u128::from(value) * u128::from(permille) / u128::from(FULL_PERMILLE);
    u64::try_from(scaled).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests;
