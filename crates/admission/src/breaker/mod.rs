//! A circuit breaker: stop calling a dependency that is failing or slow, probe it after a
//! wait, and resume when it answers well again (Resilience4j's model, linkerd's shape).
//!
//! - [`state`]: the pure state machine, [`BreakerState`] as an explicit enum whose match
//!   arms name their allowed transitions; decisions are values ([`BreakerOpen`]), and so is
//!   the closed window's health ([`SuccessRatio`], for callers that weigh load by it).
//! - [`config`]: [`BreakerConfig`], a **count-based** sliding window (see its docs), ratios,
//!   slow-call threshold, open period, probes; named limits.
//! - [`breaker`](mod@breaker): [`CircuitBreaker`], the thread-safe handle (`&self`, cheap
//!   clone), and the RAII [`CallPermit`] (dropped unrecorded = failure).
//! - the clock is the crate's injected [`Clock`](crate::clock::Clock) (`SystemClock`, `ManualClock`).
//!
//! Time is always an argument: `try_acquire(now)` and `record(outcome, elapsed)`, so the
//! breaker reads no clock; its callers (the engine's journal guard, the payment router) read
//! their injected clock.
//!
//! ```
//! use std::time::Duration;
//! use stampede_admission::breaker::{BreakerConfig, CallOutcome, CircuitBreaker};
//!
//! let breaker = CircuitBreaker::new(BreakerConfig::default());
//! let now = Duration::from_secs(1);
//! let permit = breaker.try_acquire(now).expect("closed");
//! permit.record(CallOutcome::Success, Duration::from_millis(2));
//! assert!(!breaker.is_open(now));
//! ```

#[allow(clippy::module_inception)] // the handle type's file, named for it
pub mod breaker;
pub mod config;
pub mod state;
mod window;

pub use breaker::{CallOutcome, CallPermit, CircuitBreaker};
pub use config::{
    BreakerConfig, BreakerConfigError, MAX_HALF_OPEN_PROBES, MAX_OPEN_FOR, MAX_WINDOW_CALLS,
};
pub use state::{BreakerOpen, BreakerState, SuccessRatio};

#[cfg(test)]
mod tests;
