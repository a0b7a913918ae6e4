//! The only place the bench reads a clock (STYLE §8): everything else takes a [`Clock`].

use std::time::{SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// A source of monotonic and wall-clock time.
pub(crate) trait Clock: Send + Sync {
    /// Monotonic now, for latency and scheduling (tokio's, so paused-time tests work).
    fn now(&self) -> Instant;
    /// Seconds since the Unix epoch, for token expiry.
    fn unix_now_secs(&self) -> u64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[allow(clippy::disallowed_methods)] // This module is the one allowed wall-clock read.
    fn unix_now_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0)
    }
}
