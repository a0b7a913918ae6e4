//! [`LeakyBucketPolicy`]: nginx's `limit_req` steps as a pure [`Policy`].

use std::time::Duration;

use super::config::{BurstMode, LeakyBucketConfig};
use super::decision::LeakyDecision;
use crate::clock::Clock;
use crate::keyed_rate::FULL_TABLE_RETRY_AFTER;
use crate::policy::Policy;
use crate::warm_up::{Ramp, scale};

/// Nano-requests in one request: the unit of `excess` (nginx uses 1000).
const NANO_REQUESTS: u64 = 1_000_000_000;

/// One key's queue: requests waiting ahead and when that was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakyState {
    /// Requests queued ahead, in nano-requests (nginx's `excess`, 10⁶ times finer).
    excess: u64,
    /// Clock nanoseconds of the last admitted request (nginx's `last`).
    last_nanos: u64,
}

/// nginx `limit_req` as a [`Policy`]; see the module docs.
#[derive(Debug)]
pub struct LeakyBucketPolicy {
    config: LeakyBucketConfig,
    /// `burst` in nano-requests.
    burst: u64,
    /// Excess passed without delay, in nano-requests (0, `N`, or `u64::MAX` for nodelay).
    undelayed: u64,
    ramp: Option<Ramp>,
}

impl LeakyBucketPolicy {
    /// The policy for `config`; a warm-up starts cold at `clock`'s reading now.
    ///
    /// # Panics
    /// If `config` fails [`LeakyBucketConfig::validate`]; validate it when loading config.
    pub fn new(config: LeakyBucketConfig, clock: &impl Clock) -> Self {
        if let Err(error) = config.validate() {
            panic!("LeakyBucketPolicy::new: invalid config: {error}");
        }
        let undelayed = match config.mode {
            BurstMode::Delayed => 0,
            BurstMode::Nodelay => u64::MAX,
            BurstMode::TwoStage { undelayed } => u64::from(undelayed) * NANO_REQUESTS,
        };
        Self {
            config,
            burst: u64::from(config.burst) * NANO_REQUESTS,
            undelayed,
            ramp: config
                .warm_up
                .map(|warm_up| Ramp::new(warm_up, clock.monotonic_nanos())),
        }
    }

    /// The rule's configuration.
    pub fn config(&self) -> &LeakyBucketConfig {
        &self.config
    }

    /// Leak rate at `now`, milli-requests per second, warm-up applied.
    fn rate_at(&self, now: u64) -> u64 {
        let full = self.config.rate.milli_per_second();
        match &self.ramp {
            None => full,
            Some(ramp) => scale(full, ramp.permille(now)),
        }
    }

    /// Excess before this request's own addition, after leaking since `state` was stored.
    fn excess_at(state: &LeakyState, now: u64, rate: u64) -> u64 {
        let leaked = leaked(rate, now.saturating_sub(state.last_nanos));
        (state.excess + NANO_REQUESTS).saturating_sub(leaked)
    }
}

impl Policy for LeakyBucketPolicy {
    type State = LeakyState;
    type Decision = LeakyDecision;

    fn decide(&self, state: Option<&LeakyState>, now: u64) -> (LeakyDecision, Option<LeakyState>) {
        let rate = self.rate_at(now);
        let excess = state.map_or(0, |state| Self::excess_at(state, now, rate));
        if excess > self.burst {
            let retry_after = nanos_to_leak(rate, excess - self.burst);
            return (LeakyDecision::Reject { retry_after }, None);
        }
        let decision = if excess > self.undelayed {
            LeakyDecision::Delay(nanos_to_leak(rate, excess - self.undelayed))
        } else {
            LeakyDecision::Allow
        };
        let next = LeakyState {
            excess,
            last_nanos: now,
        };
        (decision, Some(next))
    }

    fn is_idle(&self, state: &LeakyState, now: u64) -> bool {
        // A fresh key stores excess 0; so does this one once the queue and the request's own
        // unit have leaked. The cold rate is the slowest the ramp can leak, so the answer
        // holds whatever the ramp does next.
        let slowest = match &self.ramp {
            None => self.config.rate.milli_per_second(),
            Some(ramp) => scale(self.config.rate.milli_per_second(), ramp.cold_permille()),
        };
        Self::excess_at(state, now, slowest) == 0
    }

    fn table_full(&self) -> LeakyDecision {
        LeakyDecision::Reject {
            retry_after: FULL_TABLE_RETRY_AFTER,
        }
    }
}

/// Nano-requests leaked in `elapsed_nanos` at `rate` milli-requests per second.
fn leaked(rate: u64, elapsed_nanos: u64) -> u64 {
    // rate/1000 requests per second = rate/1000 nano-requests per nanosecond.
    let leaked = u128::from(rate) * u128::from(elapsed_nanos) / 1_000;
    u64::try_from(leaked).unwrap_or(u64::MAX)
}

/// The shortest time in which at least `amount` nano-requests leak at `rate`.
fn nanos_to_leak(rate: u64, amount: u64) -> Duration {
    let nanos = (u128::from(amount) * 1_000).div_ceil(u128::from(rate));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
