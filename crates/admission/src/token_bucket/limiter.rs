//! [`TokenBucket`]: one GCRA state in an atomic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::config::TokenBucketConfig;
use crate::clock::Clock;
use crate::keyed_rate::RateDecision;
use crate::warm_up::{Ramp, scale};

/// Nanoseconds in a second.
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A global GCRA rate limiter (see the module docs), shared by reference across threads.
#[derive(Debug)]
pub struct TokenBucket<C: Clock> {
    /// Theoretical arrival time, in clock nanoseconds; 0 until the first admission.
    tat_nanos: AtomicU64,
    /// Emission interval at the full rate.
    interval_nanos: u64,
    burst: u64,
    ramp: Option<Ramp>,
    clock: C,
}

impl<C: Clock> TokenBucket<C> {
    /// A limiter for `config`, deciding on `clock`; a warm-up starts cold now.
    ///
    /// # Panics
    /// If `config` fails [`TokenBucketConfig::validate`]; validate it when loading config.
    pub fn new(config: TokenBucketConfig, clock: C) -> Self {
        if let Err(error) = config.validate() {
            panic!("TokenBucket::new: invalid config: {error}");
        }
        let now = clock.monotonic_nanos();
        Self {
            tat_nanos: AtomicU64::new(0),
            // At most a second; at least 1 ns, since `per_second` is at most about 4e9.
            interval_nanos: (NANOS_PER_SECOND / u64::from(config.per_second.get())).max(1),
            burst: u64::from(config.burst.get()),
            ramp: config.warm_up.map(|warm_up| Ramp::new(warm_up, now)),
            clock,
        }
    }

    /// Decides one request now and, if allowed, counts it.
    pub fn check(&self) -> RateDecision {
        let now = self.clock.monotonic_nanos();
        let (interval, tolerance) = self.interval_and_tolerance(now);
        let mut tat = self.tat_nanos.load(Ordering::Acquire);
        loop {
            let earliest = tat.saturating_sub(tolerance);
            if now < earliest {
                return RateDecision::Limited {
                    retry_after: Duration::from_nanos(earliest - now),
                };
            }
            let next = tat.max(now).saturating_add(interval);
            match self.tat_nanos.compare_exchange_weak(
                tat,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return RateDecision::Allowed,
                Err(current) => tat = current,
            }
        }
    }

    /// Emission interval and tolerance in force at `now`, warm-up applied.
    fn interval_and_tolerance(&self, now: u64) -> (u64, u64) {
        let (interval, burst) = match &self.ramp {
            None => (self.interval_nanos, self.burst),
            Some(ramp) => {
                let permille = ramp.permille(now);
                // Rate × p/1000 means interval × 1000/p.
                let interval = self.interval_nanos.saturating_mul(1_000) / permille;
                (interval, scale(self.burst, permille))
            }
        };
        (interval, interval.saturating_mul(burst - 1))
    }
}
