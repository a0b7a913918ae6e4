//! [`LeakyBucketConfig`]: nginx's `limit_req` options, and their bounds.

use std::num::NonZeroU64;

use crate::warm_up::{WarmUp, WarmUpError};

/// Largest accepted `burst`. A queue of a million requests at any sane rate keeps clients
/// waiting for minutes, which is a configuration error; it also keeps `burst` in
/// nano-requests (10⁹ each) far inside a `u64` (1.8·10¹⁰ requests).
pub const MAX_BURST: u32 = 1_000_000;

/// Largest accepted rate: ten million requests a second is more than one node serves, and
/// keeps the leak arithmetic far inside `u128`.
pub const MAX_RATE_PER_SECOND: u64 = 10_000_000;

/// A sustained rate, kept (as nginx does) in milli-requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    milli_per_second: NonZeroU64,
}

impl Rate {
    /// nginx `rate=Nr/s`.
    pub const fn per_second(requests: NonZeroU64) -> Self {
        Self {
            milli_per_second: requests.saturating_mul(NonZeroU64::new(1_000).unwrap()),
        }
    }

    /// nginx `rate=Nr/m`: `N · 1000 / 60` milli-requests per second, rounded down (as nginx
    /// does), at least 1.
    pub const fn per_minute(requests: NonZeroU64) -> Self {
        let milli = requests.get().saturating_mul(1_000) / 60;
        Self {
            milli_per_second: match NonZeroU64::new(milli) {
                Some(milli) => milli,
                None => NonZeroU64::MIN,
            },
        }
    }

    /// Milli-requests per second (nginx's `ctx->rate`).
    pub const fn milli_per_second(self) -> u64 {
        self.milli_per_second.get()
    }
}

/// How excess requests within the burst are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BurstMode {
    /// nginx's default: every excess request is delayed to the rate.
    #[default]
    Delayed,
    /// nginx `nodelay`: excess requests within the burst pass at once.
    Nodelay,
    /// nginx `delay=N`: the first `undelayed` excess requests pass at once, the rest of the
    /// burst is delayed to the rate.
    TwoStage {
        /// Excess requests passed without delay (nginx's `N`).
        undelayed: u32,
    },
}

/// One `limit_req` rule (see the module docs for the nginx mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakyBucketConfig {
    /// Sustained rate the queue drains at. At most [`MAX_RATE_PER_SECOND`].
    pub rate: Rate,
    /// Excess requests queued (delayed or passed) beyond the rate before rejecting.
    /// At most [`MAX_BURST`].
    pub burst: u32,
    /// What happens to excess requests within the burst.
    pub mode: BurstMode,
    /// Ramp of the leak rate from a cold start, or `None`.
    pub warm_up: Option<WarmUp>,
}

/// Why a [`LeakyBucketConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeakyBucketConfigError {
    /// `rate` was above [`MAX_RATE_PER_SECOND`].
    #[error("rate is {milli_per_second} milli-requests/s, above {MAX_RATE_PER_SECOND} r/s")]
    RateTooHigh {
        /// The value given, in milli-requests per second.
        milli_per_second: u64,
    },
    /// `burst` was above [`MAX_BURST`].
    #[error("burst is {burst}, above the limit of {MAX_BURST}")]
    BurstTooLarge {
        /// The value given.
        burst: u32,
    },
    /// The warm-up was out of bounds.
    #[error(transparent)]
    WarmUp(#[from] WarmUpError),
}

impl LeakyBucketConfig {
    /// `rate` with `burst`, every excess request delayed (nginx's default).
    pub fn new(rate: Rate, burst: u32) -> Self {
        Self {
            rate,
            burst,
            mode: BurstMode::Delayed,
            warm_up: None,
        }
    }

    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), LeakyBucketConfigError> {
        let milli_per_second = self.rate.milli_per_second();
        if milli_per_second > MAX_RATE_PER_SECOND * 1_000 {
            return Err(LeakyBucketConfigError::RateTooHigh { milli_per_second });
        }
        if self.burst > MAX_BURST {
            return Err(LeakyBucketConfigError::BurstTooLarge { burst: self.burst });
        }
        if let Some(warm_up) = &self.warm_up {
            warm_up.validate()?;
        }
        Ok(())
    }
}
