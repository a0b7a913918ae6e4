//! [`KeyedRateLimiter`]: per-key GCRA decisions with a bounded key table.

use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::{Quota, RateLimiter};

use super::config::{FULL_TABLE_RETRY_AFTER, KeyedRateConfig, MIN_INLINE_EVICTION_GAP};
use super::decision::RateDecision;
use super::store::KeyStore;

/// Marks "no eviction has run yet" in `last_eviction_nanos`.
const NEVER: u64 = u64::MAX;

/// A keyed GCRA rate limiter whose key table never grows past `max_keys` (see the module
/// docs for the bounding and rejection rules).
///
/// `C` is the injected clock: [`governor::clock::DefaultClock`] in production,
/// [`governor::clock::FakeRelativeClock`] in tests. Shared across threads by reference
/// (`check` takes `&self`); wrap it in an `Arc` to share it with the eviction task.
#[derive(Debug)]
pub struct KeyedRateLimiter<C: Clock> {
    limiter: RateLimiter<u64, KeyStore, C, NoOpMiddleware<C::Instant>>,
    store: KeyStore,
    max_keys: usize,
    /// Clock reading at construction; eviction times are kept as nanoseconds since it.
    start: C::Instant,
    /// When `evict_idle` last ran, in nanoseconds since `start`, or [`NEVER`].
    last_eviction_nanos: AtomicU64,
}

impl<C: Clock> KeyedRateLimiter<C> {
    /// Creates a limiter allowing `config.per_second` decisions per second per key, with
    /// bursts of `config.burst`, tracking at most `config.max_keys` keys.
    ///
    /// # Panics
    /// If `config` fails [`KeyedRateConfig::validate`]; validate it when loading config to
    /// report the error instead.
    pub fn new(config: KeyedRateConfig, clock: C) -> Self {
        if let Err(error) = config.validate() {
            panic!("KeyedRateLimiter::new: invalid config: {error}");
        }
        let quota = Quota::per_second(config.per_second).allow_burst(config.burst);
        let store = KeyStore::default();
        let start = clock.now();
        Self {
            limiter: RateLimiter::new(quota, store.clone(), clock),
            store,
            max_keys: config.max_keys,
            start,
            last_eviction_nanos: AtomicU64::new(NEVER),
        }
    }

    /// Decides one request for `key` and, if allowed, counts it.
    ///
    /// Keys should already be hashes with a secret random seed (the API does this), so
    /// clients cannot choose which keys share a table shard.
    pub fn check(&self, key: u64) -> RateDecision {
        // Hot path: one relaxed load. Only a full table pays for the lookup and eviction.
        if self.store.len_estimate() >= self.max_keys
            && !self.store.contains(key)
            && self.still_full_after_inline_eviction()
        {
            return RateDecision::Limited {
                retry_after: FULL_TABLE_RETRY_AFTER,
            };
        }
        match self.limiter.check_key(&key) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.limiter.clock().now()),
            },
        }
    }

    /// Number of keys tracked now. Read-locks every shard: for metrics and tests, not for
    /// every request.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no key is tracked now (same cost as [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets keys whose state equals a fresh key's (idle for at least one emission
    /// interval), then gives spare capacity back to the allocator.
    ///
    /// The server calls this every [`IDLE_EVICTION_INTERVAL`](super::IDLE_EVICTION_INTERVAL);
    /// `check` also calls it when a new key meets a full table. Evicting never changes a
    /// decision: an evicted key is treated exactly as it would have been.
    pub fn evict_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.store.resync_len();
        self.last_eviction_nanos
            .store(self.nanos_since_start(), Ordering::Relaxed);
    }

    /// Runs [`evict_idle`](Self::evict_idle) unless one ran within
    /// [`MIN_INLINE_EVICTION_GAP`], then says whether the table is still full.
    fn still_full_after_inline_eviction(&self) -> bool {
        let now = self.nanos_since_start();
        let last = self.last_eviction_nanos.load(Ordering::Relaxed);
        let gap = u64::try_from(MIN_INLINE_EVICTION_GAP.as_nanos()).unwrap_or(u64::MAX);
        let due = last == NEVER || now.saturating_sub(last) >= gap;
        // The CAS elects one caller to evict; the others answer from the current table.
        if due
            && self
                .last_eviction_nanos
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.evict_idle();
        }
        self.store.len_estimate() >= self.max_keys
    }

    fn nanos_since_start(&self) -> u64 {
        self.limiter
            .clock()
            .now()
            .duration_since(self.start)
            .as_u64()
    }
}
