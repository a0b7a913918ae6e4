//! [`BreakerConfig`]: when the breaker trips, how long it stays open, how it probes.

use std::num::NonZeroU32;
use std::time::Duration;

/// Largest sliding window, in calls. The window is a ring of two bytes per call, so this caps
/// a breaker's memory at 128 KiB; 65,536 calls is minutes of traffic for a journal batch
/// stream and seconds for a grab stream, more than any trip decision needs.
pub const MAX_WINDOW_CALLS: u32 = 65_536;

/// Most probes a half-open breaker lets through at once. Probes exist to ask "is it back?";
/// a thousand concurrent questions would be the very pile-up the breaker prevents.
pub const MAX_HALF_OPEN_PROBES: u32 = 1_000;

/// Longest `open_for`: an hour. A breaker that waits longer is an outage switch, and those
/// are degrade switches, flipped by a person.
pub const MAX_OPEN_FOR: Duration = Duration::from_secs(3_600);

/// When a [`CircuitBreaker`](super::CircuitBreaker) trips and how it recovers.
///
/// # Sliding window
/// **Count-based**: the last `window_calls` recorded outcomes of the closed state (a ring
/// buffer; Resilience4j's `COUNT_BASED`). Chosen over time buckets because it needs no clock
/// on the record path and its decision does not depend on traffic rate; the breaker guards
/// the busy paths (journal batches, backend calls), where the last N calls are recent. The
/// window is cleared whenever the breaker closes.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Size of the count-based sliding window (at most [`MAX_WINDOW_CALLS`]).
    pub window_calls: NonZeroU32,
    /// No trip before this many calls are in the window (at most `window_calls`), so two
    /// failures out of three calls at start-up do not open the breaker.
    pub min_calls: NonZeroU32,
    /// Trip when `failures / calls >= failure_ratio`, in `(0, 1]`.
    pub failure_ratio: f64,
    /// Trip when `slow calls / calls >= slow_call_ratio`, in `(0, 1]`.
    pub slow_call_ratio: f64,
    /// A call taking at least this long is slow (whether it succeeded or failed).
    pub slow_call_threshold: Duration,
    /// How long the breaker stays open before letting probes through (at most
    /// [`MAX_OPEN_FOR`]).
    pub open_for: Duration,
    /// Probes a half-open breaker admits at once (at most [`MAX_HALF_OPEN_PROBES`]).
    pub half_open_probes: NonZeroU32,
    /// Successful, fast probes needed to close again.
    pub successes_to_close: NonZeroU32,
}

impl Default for BreakerConfig {
    /// Defaults for guarding the journal: decide on the last 100 calls once 20 are seen; trip
    /// at 50% failures or 50% calls over 100 ms (an fsync normally takes under 10 ms); wait
    /// 1 s, then let 3 probes through and close after 3 good ones.
    fn default() -> Self {
        Self {
            window_calls: NonZeroU32::new(100).expect("non-zero"),
            min_calls: NonZeroU32::new(20).expect("non-zero"),
            failure_ratio: 0.5,
            slow_call_ratio: 0.5,
            slow_call_threshold: Duration::from_millis(100),
            open_for: Duration::from_secs(1),
            half_open_probes: NonZeroU32::new(3).expect("non-zero"),
            successes_to_close: NonZeroU32::new(3).expect("non-zero"),
        }
    }
}

/// A [`BreakerConfig`] field out of range; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("breaker config: `{field}` {problem}")]
pub struct BreakerConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl BreakerConfig {
    /// Checks every field's range; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), BreakerConfigError> {
        let fail = |field, problem| Err(BreakerConfigError { field, problem });
        if self.window_calls.get() > MAX_WINDOW_CALLS {
            return fail("window_calls", "must be at most MAX_WINDOW_CALLS (65,536)");
        }
        if self.min_calls > self.window_calls {
            return fail("min_calls", "must be at most window_calls");
        }
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            return fail("failure_ratio", "must be in (0, 1]");
        }
        if !(self.slow_call_ratio > 0.0 && self.slow_call_ratio <= 1.0) {
            return fail("slow_call_ratio", "must be in (0, 1]");
        }
        if self.open_for > MAX_OPEN_FOR {
            return fail("open_for", "must be at most MAX_OPEN_FOR (1 hour)");
        }
        if self.half_open_probes.get() > MAX_HALF_OPEN_PROBES {
            return fail(
                "half_open_probes",
                "must be at most MAX_HALF_OPEN_PROBES (1,000)",
            );
        }
        Ok(())
    }
}
