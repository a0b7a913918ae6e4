//! A keyed GCRA rate limiter with **bounded memory**, on an injected clock.
//!
//! Built on governor's keyed dashmap limiter. Keys are `u64`: the API hashes user ids with a
//! random-seeded hasher before calling, which keeps each entry to a key plus one atomic.
//!
//! # Bounding rule
//! - The table holds at most [`KeyedRateConfig::max_keys`] keys, itself at most
//!   [`MAX_TRACKED_KEYS`].
//! - The server calls [`KeyedRateLimiter::evict_idle`] every [`IDLE_EVICTION_INTERVAL`]
//!   (one second). It drops keys whose state is indistinguishable from a fresh key, so
//!   eviction never changes a decision.
//! - When a **new** key arrives and the table is full, `check` first runs `evict_idle`
//!   inline, at most once per [`MIN_INLINE_EVICTION_GAP`].
//!
//! # Rejection rule
//! If the table is still full, the new key is answered
//! `Limited { retry_after: FULL_TABLE_RETRY_AFTER }` (one second) and is not stored.
//! **Keys already in the table keep their normal decisions**: a flood of new keys cannot lock
//! out users already being served. The bound is soft by at most the number of threads
//! calling `check` at the same moment (the size check and insert are not one atomic step).
//!
//! # Memory
//! Measured with `cargo run --release -p stampede-admission --example bytes_per_key`
//! (1,000,000 keys, process RSS growth / 1e6): **about 36 bytes per tracked key**
//! (35.8 on x86-64 Linux: 16 bytes of key and state, plus hash-table control bytes and the
//! spare capacity of power-of-two tables). The `tests/memory.rs` test only checks a generous bound.
//!
//! # Retry-After
//! [`retry_after_secs`] turns a `retry_after` into whole seconds for the HTTP header,
//! rounded up, at least 1.

mod config;
mod decision;
mod limiter;
mod store;

pub use config::{
    FULL_TABLE_RETRY_AFTER, IDLE_EVICTION_INTERVAL, KeyedRateConfig, KeyedRateConfigError,
    MAX_TRACKED_KEYS, MIN_INLINE_EVICTION_GAP,
};
pub use decision::{RateDecision, retry_after_secs};
pub use limiter::KeyedRateLimiter;

/// The limiter as production runs it, on governor's default (quanta) clock.
pub type DefaultKeyedRateLimiter = KeyedRateLimiter<governor::clock::DefaultClock>;

#[cfg(test)]
mod tests;
