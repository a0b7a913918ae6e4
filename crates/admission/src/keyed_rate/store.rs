//! [`KeyStore`]: governor's dashmap state store, shared with the limiter and counted.
//!
//! governor's `RateLimiter` owns its store and offers no `contains_key`, and dashmap's `len`
//! read-locks every shard (too slow for every request). This wrapper shares the map through
//! an `Arc` and keeps a cheap estimate of its size, so `check` can tell "table full, new key"
//! with one relaxed atomic load on the hot path.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};

/// Shared handle to the per-key GCRA state (`u64` key → theoretical arrival time).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyStore {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    map: DashMapStateStore<u64>,
    /// Keys inserted since the last `resync_len`, plus the count then. Over-counts when two
    /// threads insert the same new key at once; under-counts by at most the inserts racing a
    /// resync. Either error is bounded by the number of threads calling `check`.
    len_estimate: AtomicUsize,
}

impl KeyStore {
    /// Cheap size estimate (one atomic load); see [`Shared::len_estimate`].
    pub(crate) fn len_estimate(&self) -> usize {
        self.shared.len_estimate.load(Ordering::Relaxed)
    }

    /// Exact size; read-locks every shard, so keep it off the hot path.
    pub(crate) fn len(&self) -> usize {
        self.shared.map.len()
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        self.shared.map.contains_key(&key)
    }

    /// Sets the estimate to the exact size (after an eviction).
    pub(crate) fn resync_len(&self) {
        self.shared
            .len_estimate
            .store(self.shared.map.len(), Ordering::Relaxed);
    }
}

impl StateStore for KeyStore {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // governor passes `None` exactly when the entry was just created (a stored arrival
        // time is never zero), so seeing `None` means this call inserted the key.
        let inserted = Cell::new(false);
        let result = self.shared.map.measure_and_replace(key, |previous| {
            if previous.is_none() {
                inserted.set(true);
            }
            f(previous)
        });
        if inserted.get() {
            self.shared.len_estimate.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

impl ShrinkableKeyedStateStore<u64> for KeyStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&self.shared.map, drop_below);
    }

    fn shrink_to_fit(&self) {
        self.shared.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.shared.map.len()
    }

    fn is_empty(&self) -> bool {
        self.shared.map.is_empty()
    }
}
