//! [`TokenBucketConfig`] and its bounds.

use std::num::NonZeroU32;

use crate::warm_up::{WarmUp, WarmUpError};

/// Rate, burst and optional warm-up of a [`TokenBucket`](super::TokenBucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucketConfig {
    /// Sustained decisions allowed per second.
    pub per_second: NonZeroU32,
    /// Decisions allowed at once after being idle.
    pub burst: NonZeroU32,
    /// Ramp from a cold start, or `None` to run at the full rate at once.
    pub warm_up: Option<WarmUp>,
}

/// Why a [`TokenBucketConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenBucketConfigError {
    /// The warm-up was out of bounds.
    #[error(transparent)]
    WarmUp(#[from] WarmUpError),
}

impl TokenBucketConfig {
    /// `per_second` with a burst of `burst` and no warm-up.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            per_second,
            burst,
            warm_up: None,
        }
    }

    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), TokenBucketConfigError> {
        if let Some(warm_up) = &self.warm_up {
            warm_up.validate()?;
        }
        Ok(())
    }
}
