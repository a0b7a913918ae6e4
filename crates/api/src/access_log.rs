//! The sampled access log: one line (target `access`, level info) for every Nth request,
//! `every = 0` for none. Off costs one load per request; on, one atomic add, and a line only
//! for the sampled ones — which go through the non-blocking log writer like every other line,
//! so a request never waits for the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which requests to log.
#[derive(Debug, Default)]
pub struct AccessLog {
    every: u64,
    seen: AtomicU64,
}

impl AccessLog {
    /// Logs one request in `every` (0: none).
    pub fn new(every: u64) -> Self {
        Self {
            every,
            seen: AtomicU64::new(0),
        }
    }

    /// Whether the next request is one to log.
    fn sampled(&self) -> bool {
        self.every != 0
            && self
                .seen
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.every)
    }

    /// Logs a request's route, status and time taken, if it is sampled.
    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        if self.sampled() {
            tracing::info!(
                target: "access",
                method,
                route,
                status,
                took_us = took.as_micros() as u64,
                "request"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_in_every_is_sampled() {
        let off = AccessLog::new(0);
        assert!((0..100).all(|_| !off.sampled()));
        let every_third = AccessLog::new(3);
        let picked: Vec<bool> = (0..7).map(|_| every_third.sampled()).collect();
        assert_eq!(picked, [true, false, false, true, false, false, true]);
    }
}
