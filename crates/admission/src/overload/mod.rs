//! Adaptive overload protection: shed new work at the door when the system is past its
//! knee, so the work already admitted stays fast (Sentinel's system rule, the BBR idea).
//!
//! - [`limiter`]: [`AdaptiveLimiter`], its decision [`Admission`] (`Admit(permit)` or
//!   `Shed { reason }`) and the RAII [`AdaptivePermit`] that records latency when dropped.
//! - [`config`]: [`AdaptiveConfig`] and its named limits.
//! - [`window`]: the bucketed windows and the per-bucket [`AdaptiveEstimate`].
//! - [`histogram`]: a fixed log-linear latency histogram (p99 without allocation).
//!
//! The clock is injected ([`Clock`](crate::clock::Clock)); tests drive a model
//! server on a `ManualClock`.

pub mod config;
pub mod histogram;
pub mod limiter;
pub mod window;

pub use config::{
    AdaptiveConfig, AdaptiveConfigError, MAX_BUCKET_WIDTH, MAX_WINDOW_BUCKETS, MIN_BUCKET_WIDTH,
};
pub use limiter::{AdaptiveLimiter, AdaptivePermit, Admission, ShedReason};
pub use window::AdaptiveEstimate;

#[cfg(test)]
mod tests;
