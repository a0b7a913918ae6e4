//! [`LeakyDecision`]: the outcome of one leaky-bucket check, as a value.

use std::time::Duration;

/// Outcome of a leaky-bucket check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakyDecision {
    /// Pass at once; counted.
    Allow,
    /// Pass after sleeping this long (the caller sleeps); counted.
    Delay(Duration),
    /// Over the burst; not counted. Answer the rule's status (429 or 503) with
    /// `Retry-After`.
    Reject {
        /// Earliest time from now at which the same key would be admitted.
        retry_after: Duration,
    },
}

impl LeakyDecision {
    /// Stable code for logs and metrics: `"allowed"`, `"delayed"` or `"rate_limited"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Allow => "allowed",
            Self::Delay(_) => "delayed",
            Self::Reject { .. } => "rate_limited",
        }
    }

    /// Whether the request is admitted (at once or after a delay).
    pub fn is_admitted(&self) -> bool {
        !matches!(self, Self::Reject { .. })
    }
}
