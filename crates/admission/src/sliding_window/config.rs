//! [`SlidingWindowConfig`] and its bounds.

use std::num::NonZeroU32;
use std::time::Duration;

/// Shortest accepted window: below a millisecond the counter is a rate limiter in disguise
/// and the token bucket is the right tool.
pub const MIN_WINDOW: Duration = Duration::from_millis(1);

/// Longest accepted window: a day. "N per day" rules outlive a flash sale, and idle eviction
/// can only forget a key two windows after its last request, so longer windows pin memory.
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

/// "`limit` per `window`", e.g. 100 per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindowConfig {
    /// Requests admitted per window.
    pub limit: NonZeroU32,
    /// Window length, in `MIN_WINDOW..=MAX_WINDOW`.
    pub window: Duration,
}

/// Why a [`SlidingWindowConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlidingWindowConfigError {
    /// `window` was outside `MIN_WINDOW..=MAX_WINDOW`.
    #[error("window is {window:?}, outside {MIN_WINDOW:?}..={MAX_WINDOW:?}")]
    WindowOutOfRange {
        /// The value given.
        window: Duration,
    },
}

impl SlidingWindowConfig {
    /// `limit` requests per minute.
    pub fn per_minute(limit: NonZeroU32) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
        }
    }

    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), SlidingWindowConfigError> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.window) {
            return Err(SlidingWindowConfigError::WindowOutOfRange {
                window: self.window,
            });
        }
        Ok(())
    }
}
