//! [`with_timeout`]: a deadline on any outbound call, with a typed error.

use std::future::Future;
use std::time::Duration;

/// The call did not finish in time (and was cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {after:?}")]
pub struct TimeoutError {
    /// The limit that passed.
    pub after: Duration,
}

/// Runs `future` for at most `duration` on tokio's clock; dropping it on expiry.
pub async fn with_timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, TimeoutError> {
    tokio::time::timeout(duration, future)
        .await
        .map_err(|_elapsed| TimeoutError { after: duration })
}
