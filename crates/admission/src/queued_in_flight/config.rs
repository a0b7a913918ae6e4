//! [`QueuedInFlightConfig`] and its bounds.

use std::time::Duration;

/// Largest accepted `max_queue`. Each waiter is a parked request holding a connection and a
/// few KiB; 100,000 of them is already more than one node should hold, and a queue that long
/// cannot drain within any useful `max_wait`.
pub const MAX_QUEUE_LENGTH: usize = 100_000;

/// Longest accepted `max_wait`. Clients and proxies time out around 30–60 s; holding a request
/// longer only to fail it wastes the slot it waited for.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// Slots, queue length and wait of a [`QueuedInFlight`](super::QueuedInFlight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedInFlightConfig {
    /// Requests running at once; at least 1.
    pub max_in_flight: usize,
    /// Requests waiting for a slot at once; at most [`MAX_QUEUE_LENGTH`]. 0 rejects at once.
    pub max_queue: usize,
    /// Longest a request waits for a slot; at most [`MAX_QUEUE_WAIT`].
    pub max_wait: Duration,
}

/// Why a [`QueuedInFlightConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueuedInFlightConfigError {
    /// `max_in_flight` was zero, which would reject every request.
    #[error("max_in_flight must be at least 1")]
    MaxInFlightZero,
    /// `max_in_flight` was above tokio's semaphore limit.
    #[error("max_in_flight is {max_in_flight}, above the semaphore limit")]
    MaxInFlightTooLarge {
        /// The value given.
        max_in_flight: usize,
    },
    /// `max_queue` was above [`MAX_QUEUE_LENGTH`].
    #[error("max_queue is {max_queue}, above the limit of {MAX_QUEUE_LENGTH}")]
    QueueTooLong {
        /// The value given.
        max_queue: usize,
    },
    /// `max_wait` was above [`MAX_QUEUE_WAIT`].
    #[error("max_wait is {max_wait:?}, above the limit of {MAX_QUEUE_WAIT:?}")]
    WaitTooLong {
        /// The value given.
        max_wait: Duration,
    },
}

impl QueuedInFlightConfig {
    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), QueuedInFlightConfigError> {
        if self.max_in_flight == 0 {
            return Err(QueuedInFlightConfigError::MaxInFlightZero);
        }
        if self.max_in_flight > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(QueuedInFlightConfigError::MaxInFlightTooLarge {
                max_in_flight: self.max_in_flight,
            });
        }
        if self.max_queue > MAX_QUEUE_LENGTH {
            return Err(QueuedInFlightConfigError::QueueTooLong {
                max_queue: self.max_queue,
            });
        }
        if self.max_wait > MAX_QUEUE_WAIT {
            return Err(QueuedInFlightConfigError::WaitTooLong {
                max_wait: self.max_wait,
            });
        }
        Ok(())
    }
}
