//! [`RateDecision`]: the outcome of one rate-limit check, as a value.

use std::time::Duration;

/// Outcome of [`KeyedRateLimiter::check`](super::KeyedRateLimiter::check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The request conforms; it has been counted.
    Allowed,
    /// The request must wait; it has not been counted.
    Limited {
        /// Earliest time from now at which the same key could be allowed.
        retry_after: Duration,
    },
}

impl RateDecision {
    /// Stable code for logs and metrics: `"allowed"` or `"rate_limited"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Limited { .. } => "rate_limited",
        }
    }

    /// Whether the request was allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// Whole seconds for an HTTP `Retry-After` header: `wait` rounded **up**, at least 1.
///
/// Rounding down would invite the client back before it can succeed; zero would invite an
/// immediate retry storm.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let rounded_up = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    rounded_up.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_with_minimum_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_nanos(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(RateDecision::Allowed.code(), "allowed");
        let limited = RateDecision::Limited {
            retry_after: Duration::from_secs(1),
        };
        assert_eq!(limited.code(), "rate_limited");
        assert!(!limited.is_allowed());
    }
}
