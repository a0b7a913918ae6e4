//! A concurrency (in-flight) limit with a **bounded** queue and a maximum wait (Sentinel's
//! "queue with max wait"), never an unbounded one.
//!
//! [`QueuedInFlight::acquire`] takes a free slot at once if there is one. Otherwise it joins a
//! FIFO queue of at most `max_queue` waiters for at most `max_wait`:
//! - queue already full → [`QueueDecision::QueueFull`] at once;
//! - no slot within `max_wait` → [`QueueDecision::QueueTimeout`];
//! - else [`QueueDecision::Admitted`] with a RAII [`QueuedPermit`] that frees the slot (and
//!   wakes the next waiter) when dropped.
//!
//! [`in_flight`](crate::in_flight) is the immediate-rejection variant (`max_queue = 0`
//! behaves the same, through a different path).
//!
//! # Concurrency choices
//! A tokio [`Semaphore`](tokio::sync::Semaphore) holds the slots: it is FIFO and hands a freed
//! permit straight to the oldest waiter, so a newcomer's fast path can never overtake the
//! queue. The queue length is an `AtomicUsize` raised by compare-and-swap before waiting, so
//! it never overshoots `max_queue`; a guard lowers it when the wait ends, including when the
//! caller's future is dropped (client gone).
//!
//! # Clock
//! Waiting is real asynchronous time, so it runs on tokio's timer rather than
//! [`Clock`](crate::clock::Clock); tests pause it with `#[tokio::test(start_paused = true)]`.

mod config;
mod decision;
mod limiter;

pub use config::{
    MAX_QUEUE_LENGTH, MAX_QUEUE_WAIT, QueuedInFlightConfig, QueuedInFlightConfigError,
};
pub use decision::{QueueDecision, QueuedPermit};
pub use limiter::QueuedInFlight;

#[cfg(test)]
mod tests;
