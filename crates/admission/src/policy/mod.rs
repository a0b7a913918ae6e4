//! One limiter algorithm, two homes: a single shared state ([`Global`]) or one state per key
//! in a bounded table ([`Keyed`]).
//!
//! A [`Policy`] is the pure algorithm: given the stored state (or none, for a key never seen)
//! and `now`, it returns a decision and the state to store. It reads no clock and takes no lock,
//! so the leaky bucket and sliding window are each written once and tested against a reference
//! model directly. [`Global`] keeps one state behind a mutex (nginx, too, takes a lock per
//! decision); [`Keyed`] keeps a [`DashMap`](dashmap::DashMap) of `u64` key → state (each key a
//! seeded hash, used as its own hash) with the same bounding and rejection rules as
//! [`keyed_rate`](crate::keyed_rate):
//!
//! - at most `max_keys` keys (itself at most [`MAX_TRACKED_KEYS`](crate::keyed_rate::MAX_TRACKED_KEYS));
//! - [`Keyed::evict_idle`], called every
//!   [`IDLE_EVICTION_INTERVAL`](crate::keyed_rate::IDLE_EVICTION_INTERVAL), drops keys whose
//!   state decides exactly like a fresh key ([`Policy::is_idle`]), so eviction never changes a
//!   decision;
//! - a **new** key meeting a full table first runs an inline eviction (at most once per
//!   [`MIN_INLINE_EVICTION_GAP`](crate::keyed_rate::MIN_INLINE_EVICTION_GAP)); if still full it
//!   gets [`Policy::table_full`] (a rejection with a one-second retry) and is not stored.
//!   Keys already tracked keep their normal decisions.

mod global;
mod keyed;

pub use global::Global;
pub use keyed::{Keyed, MaxKeysError, validate_max_keys};

/// A limiter algorithm as a pure function of (stored state, now).
pub trait Policy: Send + Sync + 'static {
    /// What is remembered per key (or once, for a global limiter). Kept small: it is the bulk
    /// of the bytes per key.
    type State: Copy + Send + Sync + 'static;
    /// The outcome of one request, as a value.
    type Decision: Copy;

    /// Decides one request at `now_nanos` (the [`Clock`](crate::clock::Clock) reading).
    ///
    /// `state` is `None` for a key never seen or evicted. Returns the decision and, if the
    /// request changed anything, the state to store (rejections store nothing).
    fn decide(
        &self,
        state: Option<&Self::State>,
        now_nanos: u64,
    ) -> (Self::Decision, Option<Self::State>);

    /// Whether `state` would decide every future request exactly as a fresh key would, so
    /// it may be forgotten.
    fn is_idle(&self, state: &Self::State, now_nanos: u64) -> bool;

    /// The decision for a new key while the key table is full.
    fn table_full(&self) -> Self::Decision;
}

#[cfg(test)]
mod tests;
