//! A rule's limiter, built in two steps: [`LimiterConfig::from_spec`] turns the spec into the
//! limiter's own configuration and runs that configuration's own `validate`, naming the spec
//! field on error; [`Limiter::new`] then builds the live limiter, which cannot fail (each
//! constructor panics only on a configuration its `validate` refuses).
//!
//! [`validate`](super::validate) runs the first step as a dry run, so the limits are written
//! once, beside each limiter (e.g. [`MAX_BURST`], [`MAX_WARM_UP_PERIOD`], [`MAX_QUEUE_WAIT`]),
//! and a rule set that validates always compiles: no rule value reaching the server (config
//! file, `PUT /v1/admin/rules`, hot reload) can panic it.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use super::spec::{Dimension, LimiterSpec, MAX_RATE_PER_SEC, RuleError, RuleSpec};
use crate::clock::{GovernorClock, SharedClock};
use crate::keyed_rate::{
    KeyedRateConfig, KeyedRateConfigError, KeyedRateLimiter, MAX_TRACKED_KEYS,
};
use crate::leaky_bucket::{
    BurstMode, KeyedLeakyBucket, LeakyBucket, LeakyBucketConfig, LeakyBucketConfigError,
    LeakyBucketPolicy, MAX_BURST, MAX_RATE_PER_SECOND, Rate,
};
use crate::policy::{Global, Keyed, MaxKeysError, validate_max_keys};
use crate::queued_in_flight::{
    MAX_QUEUE_LENGTH, MAX_QUEUE_WAIT, QueuedInFlight, QueuedInFlightConfig,
    QueuedInFlightConfigError,
};
use crate::sliding_window::{
    MAX_WINDOW, SlidingWindowConfig, SlidingWindowConfigError, SlidingWindowPolicy,
};
use crate::token_bucket::{TokenBucket, TokenBucketConfig, TokenBucketConfigError};
use crate::warm_up::{MAX_WARM_UP_PERIOD, WarmUp, WarmUpError};

// The spec's rate bound is the leaky bucket's: one number for every rule kind.
const _: () = assert!(MAX_RATE_PER_SEC as u64 == MAX_RATE_PER_SECOND);

/// A rule's limiter configuration, validated by the limiter's own `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LimiterConfig {
    /// Global token bucket (the only one that can warm up).
    Token(TokenBucketConfig),
    /// Token bucket per key.
    KeyedToken(KeyedRateConfig),
    /// Global leaky bucket.
    Leaky(LeakyBucketConfig),
    /// Leaky bucket per key, with its `max_keys`.
    KeyedLeaky(LeakyBucketConfig, usize),
    /// Global sliding window.
    Window(SlidingWindowConfig),
    /// Sliding window per key, with its `max_keys`.
    KeyedWindow(SlidingWindowConfig, usize),
    /// Global concurrency limit with its queue.
    Concurrency(QueuedInFlightConfig),
}

/// A live limiter.
pub(super) enum Limiter {
    Token(TokenBucket<SharedClock>),
    KeyedToken(KeyedRateLimiter<GovernorClock>),
    Leaky(LeakyBucket<SharedClock>),
    KeyedLeaky(KeyedLeakyBucket<SharedClock>),
    Window(Global<SlidingWindowPolicy, SharedClock>),
    KeyedWindow(Keyed<SlidingWindowPolicy, SharedClock>),
    Concurrency(QueuedInFlight),
}

/// The error for field `field` of rule `index`.
fn refuse(index: usize, field: &str, problem: impl Into<String>) -> RuleError {
    RuleError {
        field: format!("rules[{index}].{field}"),
        problem: problem.into(),
    }
}

/// `n` as a `NonZeroU32`, or the error "at least 1" naming `field`.
fn at_least_one(n: u32, index: usize, field: &str) -> Result<NonZeroU32, RuleError> {
    NonZeroU32::new(n).ok_or_else(|| refuse(index, field, "at least 1"))
}

fn rate(rate_per_sec: u32, index: usize) -> Result<NonZeroU32, RuleError> {
    let rate = at_least_one(rate_per_sec, index, "limiter.rate_per_sec")?;
    if rate.get() > MAX_RATE_PER_SEC {
        return Err(refuse(
            index,
            "limiter.rate_per_sec",
            format!("1 to {MAX_RATE_PER_SEC}"),
        ));
    }
    Ok(rate)
}

fn warm_up_error(error: WarmUpError, index: usize) -> RuleError {
    match error {
        WarmUpError::PeriodTooLong { .. } => refuse(
            index,
            "limiter.warmup_secs",
            format!("at most {}", MAX_WARM_UP_PERIOD.as_secs()),
        ),
        // The spec has no cold factor: it is always the default, which is in range.
        WarmUpError::ColdFactorTooLarge { .. } => {
            refuse(index, "limiter.warmup_secs", error.to_string())
        }
    }
}

fn max_keys_problem() -> String {
    format!("1 to {MAX_TRACKED_KEYS}")
}

fn keyed_max_keys(max_keys: usize, index: usize) -> Result<usize, RuleError> {
    validate_max_keys(max_keys).map_err(|error| match error {
        MaxKeysError::Zero | MaxKeysError::TooLarge { .. } => {
            refuse(index, "max_keys", max_keys_problem())
        }
    })?;
    Ok(max_keys)
}

impl LimiterConfig {
    /// The limiter configuration of rule `index`, checked by the limiter's own `validate`;
    /// an error names the spec field (`rules[i].limiter.burst`).
    pub(super) fn from_spec(spec: &RuleSpec, index: usize) -> Result<Self, RuleError> {
        match spec.limiter {
            LimiterSpec::TokenBucket {
                rate_per_sec,
                burst,
                warmup_secs,
            } => Self::token_bucket(spec, index, rate_per_sec, burst, warmup_secs),
            LimiterSpec::LeakyBucket {
                rate_per_sec,
                burst,
                delay,
                nodelay,
            } => Self::leaky_bucket(spec, index, rate_per_sec, burst, delay, nodelay),
            LimiterSpec::SlidingWindow { limit, window_secs } => {
                Self::sliding_window(spec, index, limit, window_secs)
            }
            LimiterSpec::Concurrency {
                max,
                queue,
                max_wait_ms,
            } => Self::concurrency(spec, index, max, queue, max_wait_ms),
        }
    }

    /// A token bucket (with warm-up when global).
    fn token_bucket(
        spec: &RuleSpec,
        index: usize,
        rate_per_sec: u32,
        burst: u32,
        warmup_secs: u64,
    ) -> Result<Self, RuleError> {
        let keyed = spec.dimension != Dimension::Global;
        let per_second = rate(rate_per_sec, index)?;
        let burst = at_least_one(burst, index, "limiter.burst")?;
        if keyed {
            if warmup_secs > 0 {
                return Err(refuse(
                    index,
                    "limiter.warmup_secs",
                    "warm-up applies to global rules only (0 here)",
                ));
            }
            let config = KeyedRateConfig {
                per_second,
                burst,
                max_keys: spec.max_keys,
            };
            config.validate().map_err(|error| match error {
                KeyedRateConfigError::MaxKeysZero
                | KeyedRateConfigError::MaxKeysTooLarge { .. } => {
                    refuse(index, "max_keys", max_keys_problem())
                }
            })?;
            return Ok(Self::KeyedToken(config));
        }
        let mut config = TokenBucketConfig::new(per_second, burst);
        if warmup_secs > 0 {
            config.warm_up = Some(WarmUp::over(Duration::from_secs(warmup_secs)));
        }
        config.validate().map_err(|error| match error {
            TokenBucketConfigError::WarmUp(error) => warm_up_error(error, index),
        })?;
        Ok(Self::Token(config))
    }

    /// nginx's leaky bucket (`limit_req`): burst, delay and nodelay.
    fn leaky_bucket(
        spec: &RuleSpec,
        index: usize,
        rate_per_sec: u32,
        burst: u32,
        delay: u32,
        nodelay: bool,
    ) -> Result<Self, RuleError> {
        let keyed = spec.dimension != Dimension::Global;
        let per_second = rate(rate_per_sec, index)?;
        if delay > burst {
            return Err(refuse(index, "limiter.delay", "must not exceed burst"));
        }
        let mut config =
            LeakyBucketConfig::new(Rate::per_second(NonZeroU64::from(per_second)), burst);
        config.mode = if nodelay {
            BurstMode::Nodelay
        } else if delay > 0 {
            BurstMode::TwoStage { undelayed: delay }
        } else {
            BurstMode::Delayed
        };
        config.validate().map_err(|error| match error {
            LeakyBucketConfigError::RateTooHigh { .. } => refuse(
                index,
                "limiter.rate_per_sec",
                format!("1 to {MAX_RATE_PER_SECOND}"),
            ),
            LeakyBucketConfigError::BurstTooLarge { .. } => {
                refuse(index, "limiter.burst", format!("at most {MAX_BURST}"))
            }
            LeakyBucketConfigError::WarmUp(error) => warm_up_error(error, index),
        })?;
        Ok(if keyed {
            Self::KeyedLeaky(config, keyed_max_keys(spec.max_keys, index)?)
        } else {
            Self::Leaky(config)
        })
    }

    /// A sliding window of `limit` requests.
    fn sliding_window(
        spec: &RuleSpec,
        index: usize,
        limit: u32,
        window_secs: u64,
    ) -> Result<Self, RuleError> {
        let keyed = spec.dimension != Dimension::Global;
        let config = SlidingWindowConfig {
            limit: at_least_one(limit, index, "limiter.limit")?,
            window: Duration::from_secs(window_secs),
        };
        config.validate().map_err(|error| match error {
            SlidingWindowConfigError::WindowOutOfRange { .. } => refuse(
                index,
                "limiter.window_secs",
                format!("1 to {}", MAX_WINDOW.as_secs()),
            ),
        })?;
        Ok(if keyed {
            Self::KeyedWindow(config, keyed_max_keys(spec.max_keys, index)?)
        } else {
            Self::Window(config)
        })
    }

    /// A concurrency limit with its bounded queue (global only).
    fn concurrency(
        spec: &RuleSpec,
        index: usize,
        max: u32,
        queue: u32,
        max_wait_ms: u64,
    ) -> Result<Self, RuleError> {
        let keyed = spec.dimension != Dimension::Global;
        // One rule is one semaphore: a per-route or per-campaign limit would need one
        // per key, so such a rule would silently be global. Refuse it instead.
        if keyed {
            return Err(refuse(
                index,
                "limiter.kind",
                "concurrency limits apply to the global dimension only",
            ));
        }
        if queue > 0 && max_wait_ms == 0 {
            return Err(refuse(
                index,
                "limiter.max_wait_ms",
                "a queue needs a positive max_wait_ms",
            ));
        }
        let config = QueuedInFlightConfig {
            max_in_flight: usize::try_from(max).unwrap_or(usize::MAX),
            max_queue: usize::try_from(queue).unwrap_or(usize::MAX),
            max_wait: Duration::from_millis(max_wait_ms),
        };
        config.validate().map_err(|error| match error {
            QueuedInFlightConfigError::MaxInFlightZero => {
                refuse(index, "limiter.max", "at least 1")
            }
            QueuedInFlightConfigError::MaxInFlightTooLarge { .. } => {
                refuse(index, "limiter.max", error.to_string())
            }
            QueuedInFlightConfigError::QueueTooLong { .. } => refuse(
                index,
                "limiter.queue",
                format!("at most {MAX_QUEUE_LENGTH}"),
            ),
            QueuedInFlightConfigError::WaitTooLong { .. } => refuse(
                index,
                "limiter.max_wait_ms",
                format!("at most {}", MAX_QUEUE_WAIT.as_millis()),
            ),
        })?;
        Ok(Self::Concurrency(config))
    }
}

impl Limiter {
    /// The live limiter for a configuration [`LimiterConfig::from_spec`] returned (so already
    /// validated: no constructor below can panic), deciding on `clock`.
    pub(super) fn new(config: LimiterConfig, clock: SharedClock) -> Self {
        match config {
            LimiterConfig::Token(config) => Self::Token(TokenBucket::new(config, clock)),
            LimiterConfig::KeyedToken(config) => {
                Self::KeyedToken(KeyedRateLimiter::new(config, GovernorClock(clock)))
            }
            LimiterConfig::Leaky(config) => {
                Self::Leaky(Global::new(LeakyBucketPolicy::new(config, &clock), clock))
            }
            LimiterConfig::KeyedLeaky(config, max_keys) => Self::KeyedLeaky(Keyed::new(
                LeakyBucketPolicy::new(config, &clock),
                max_keys,
                clock,
            )),
            LimiterConfig::Window(config) => {
                Self::Window(Global::new(SlidingWindowPolicy::new(config), clock))
            }
            LimiterConfig::KeyedWindow(config, max_keys) => Self::KeyedWindow(Keyed::new(
                SlidingWindowPolicy::new(config),
                max_keys,
                clock,
            )),
            LimiterConfig::Concurrency(config) => Self::Concurrency(QueuedInFlight::new(config)),
        }
    }
}
