//! [`Keyed`]: one policy state per key, in a table bounded by `max_keys`.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::Policy;
use crate::clock::{Clock, to_nanos};
use crate::keyed_rate::{MAX_TRACKED_KEYS, MIN_INLINE_EVICTION_GAP};

/// Marks "no eviction has run yet" in `last_eviction_nanos`.
const NEVER: u64 = u64::MAX;

/// Passes a `u64` key through as its own hash.
///
/// Keys are already 64-bit hashes with a secret seed (see [`Keyed`]), so hashing them again
/// (dashmap's default SipHash-1-3) would only cost time on every decision. A seeded hash is
/// uniform in every bit, which is what dashmap's shard choice (high bits) and the table's
/// bucket and tag choice (low and top bits) need.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }

    /// Only `u64` keys are hashed here; any other input is still folded in, never dropped.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}

/// Builds [`KeyHasher`]s.
type KeyHasherBuilder = BuildHasherDefault<KeyHasher>;

/// Why a `max_keys` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaxKeysError {
    /// `max_keys` was zero, which would reject every key.
    #[error("max_keys must be at least 1")]
    Zero,
    /// `max_keys` was above [`MAX_TRACKED_KEYS`].
    #[error("max_keys is {max_keys}, above the limit of {MAX_TRACKED_KEYS}")]
    TooLarge {
        /// The value given.
        max_keys: usize,
    },
}

/// Checks `max_keys` is in `1..=MAX_TRACKED_KEYS`.
pub fn validate_max_keys(max_keys: usize) -> Result<(), MaxKeysError> {
    match max_keys {
        0 => Err(MaxKeysError::Zero),
        max_keys if max_keys > MAX_TRACKED_KEYS => Err(MaxKeysError::TooLarge { max_keys }),
        _ => Ok(()),
    }
}

/// A [`Policy`] per `u64` key, tracking at most `max_keys` keys (rules in the module docs).
///
/// Keys must be hashes with a secret random seed (the rules do this): the table uses each key
/// as its own hash, so a seeded hash keeps clients from choosing which keys share a shard
/// and spreads the keys evenly.
#[derive(Debug)]
pub struct Keyed<P: Policy, C: Clock> {
    policy: P,
    clock: C,
    map: DashMap<u64, P::State, KeyHasherBuilder>,
    /// Keys inserted since the last eviction plus the count then: one relaxed load on the hot
    /// path instead of locking every shard. Off by at most the threads inserting at once.
    len_estimate: AtomicUsize,
    max_keys: usize,
    /// When `evict_idle` last ran (clock nanoseconds), or [`NEVER`].
    last_eviction_nanos: AtomicU64,
}

impl<P: Policy, C: Clock> Keyed<P, C> {
    /// A table applying `policy` to each key, holding at most `max_keys` keys.
    ///
    /// # Panics
    /// If `max_keys` fails [`validate_max_keys`]; validate it when loading config instead.
    pub fn new(policy: P, max_keys: usize, clock: C) -> Self {
        if let Err(error) = validate_max_keys(max_keys) {
            panic!("Keyed::new: invalid max_keys: {error}");
        }
        Self {
            policy,
            clock,
            map: DashMap::with_hasher(KeyHasherBuilder::default()),
            len_estimate: AtomicUsize::new(0),
            max_keys,
            last_eviction_nanos: AtomicU64::new(NEVER),
        }
    }

    /// Decides one request for `key` now and, if admitted, counts it.
    pub fn check(&self, key: u64) -> P::Decision {
        let now = self.clock.monotonic_nanos();
        // Hot path: one relaxed load. Only a full table pays for the lookup and eviction,
        // which must happen before `entry` takes a shard lock (eviction locks every shard).
        if self.len_estimate.load(Ordering::Relaxed) >= self.max_keys
            && !self.map.contains_key(&key)
            && self.still_full_after_inline_eviction(now)
        {
            return self.policy.table_full();
        }
        match self.map.entry(key) {
            Entry::Occupied(mut entry) => {
                let (decision, next) = self.policy.decide(Some(entry.get()), now);
                if let Some(next) = next {
                    *entry.get_mut() = next;
                }
                decision
            }
            Entry::Vacant(entry) => {
                let (decision, next) = self.policy.decide(None, now);
                if let Some(next) = next {
                    entry.insert(next);
                    self.len_estimate.fetch_add(1, Ordering::Relaxed);
                }
                decision
            }
        }
    }

    /// Forgets keys whose state decides like a fresh key's, then gives spare capacity back.
    ///
    /// The server calls this every
    /// [`IDLE_EVICTION_INTERVAL`](crate::keyed_rate::IDLE_EVICTION_INTERVAL); `check` also
    /// calls it when a new key meets a full table.
    pub fn evict_idle(&self) {
        let now = self.clock.monotonic_nanos();
        self.map.retain(|_, state| !self.policy.is_idle(state, now));
        self.map.shrink_to_fit();
        self.len_estimate.store(self.map.len(), Ordering::Relaxed);
        self.last_eviction_nanos.store(now, Ordering::Relaxed);
    }

    /// Number of keys tracked now. Read-locks every shard: for metrics and tests.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is tracked now (same cost as [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The policy (and through it the rule's configuration).
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// Runs [`evict_idle`](Self::evict_idle) unless one ran within
    /// [`MIN_INLINE_EVICTION_GAP`], then says whether the table is still full.
    fn still_full_after_inline_eviction(&self, now: u64) -> bool {
        let last = self.last_eviction_nanos.load(Ordering::Relaxed);
        let due = last == NEVER || now.saturating_sub(last) >= to_nanos(MIN_INLINE_EVICTION_GAP);
        // The CAS elects one caller to evict; the others answer from the current table.
        if due
            && self
                .last_eviction_nanos
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.evict_idle();
        }
        self.len_estimate.load(Ordering::Relaxed) >= self.max_keys
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn a_key_is_its_own_hash() {
        let build = KeyHasherBuilder::default();
        for key in [0, 1, 0x9E37_79B9_7F4A_7C15, u64::MAX] {
            assert_eq!(build.hash_one(key), key);
        }
    }
}
