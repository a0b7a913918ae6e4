//! A global (un-keyed) token bucket as GCRA, lock-free, with optional [warm-up](crate::warm_up).
//!
//! The default limiter for per-user and per-IP rules is the keyed GCRA in
//! [`keyed_rate`](crate::keyed_rate) (governor, bounded keys, about 36 bytes per key). This
//! module is its one-state sibling for global and per-route rules, written here rather than
//! wrapping governor's direct limiter because governor's quota is fixed at construction and a
//! warm-up needs the rate to change over time. `benches/decision.rs` measures both: on the
//! same TSC clock ([`SystemClock`](crate::clock::SystemClock)) this one decides in 10.5 ns
//! against governor's direct limiter's 16.6 ns (50 vs 42 ns per decision with 2 threads on
//! one bucket); on [`SystemClock`](crate::clock::SystemClock) it takes 49 ns, mostly the
//! `Instant::now` read.
//!
//! # Algorithm
//! GCRA (virtual scheduling), the token bucket expressed as one timestamp: the theoretical
//! arrival time `tat`. With emission interval `T = 1 / rate` and tolerance
//! `τ = (burst − 1) · T`, a request at `now` conforms iff `now ≥ tat − τ`; it then sets
//! `tat = max(tat, now) + T`. A limited request is not counted and is told to retry after
//! `tat − τ − now`. `tat` is one `AtomicU64` updated by compare-and-swap, so deciding takes
//! no lock. Under warm-up both `T` and the burst are scaled by the ramp at each decision.

mod config;
mod limiter;

pub use config::{TokenBucketConfig, TokenBucketConfigError};
pub use limiter::TokenBucket;

#[cfg(test)]
mod tests;
