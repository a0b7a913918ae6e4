//! `Idempotency-Key`: a retried grab gets its first response back.
//!
//! Scope: (user, campaign, key). Bounded: at most `max_entries` stored responses (quick_cache,
//! least-recently-used eviction by its CLOCK-Pro policy); each is replayed for `ttl` after it
//! was stored, then treated as absent. A second request with a key whose first request is still
//! running gets 409 `idempotency_key_in_use` (the quick_cache placeholder is that marker; it is
//! removed if the first request is dropped before it finishes).

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use quick_cache::sync::{Cache, GuardResult, PlaceholderGuard};
use stampede_core::{CampaignId, UnixMillis};

/// Longest accepted key. Clients send UUIDs (36 chars); 128 leaves room and bounds memory.
pub const MAX_KEY_BYTES: usize = 128;

/// Scope of one key.
pub type Scope = (String, CampaignId, String);

/// A stored first response.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its status.
    pub status: StatusCode,
    /// Its JSON body.
    pub body: Bytes,
    /// When it was stored.
    pub stored_at: UnixMillis,
}

/// The bounded store.
pub struct IdempotencyStore {
    cache: Cache<Scope, Stored>,
    ttl_millis: u64,
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("len", &self.cache.len())
            .finish()
    }
}

/// What to do with a keyed request.
pub enum Begin<'a> {
    /// Answer the stored response.
    Replay(Stored),
    /// The same key is being processed now.
    InUse,
    /// First time: process, then [`Pending::finish`].
    Fresh(Pending<'a>),
}

/// A keyed request being processed. Dropping it without finishing forgets the key.
pub struct Pending<'a> {
    guard: PlaceholderGuard<
        'a,
        Scope,
        Stored,
        quick_cache::UnitWeighter,
        quick_cache::DefaultHashBuilder,
        quick_cache::sync::DefaultLifecycle<Scope, Stored>,
    >,
}

impl Pending<'_> {
    /// Stores the response for replays.
    pub fn finish(self, stored: Stored) {
        let _ = self.guard.insert(stored);
    }
}

/// Checks an `Idempotency-Key` header value: 1..=128 printable ASCII characters.
pub fn validate_key(key: &[u8]) -> Result<&str, String> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "Idempotency-Key: must be 1 to {MAX_KEY_BYTES} characters"
        ));
    }
    if !key.iter().all(|b| b.is_ascii_graphic()) {
        return Err("Idempotency-Key: must be printable ASCII without spaces".into());
    }
    std::str::from_utf8(key).map_err(|_| "Idempotency-Key: must be ASCII".into())
}

impl IdempotencyStore {
    /// A store of at most `max_entries` responses kept for `ttl`.
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        Self {
            cache: Cache::new(max_entries.max(1)),
            ttl_millis: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Looks the scope up at `now`.
    pub fn begin(&self, scope: &Scope, now: UnixMillis) -> Begin<'_> {
        // Two rounds at most: the second after removing an expired entry.
        for _ in 0..2 {
            match self.cache.get_value_or_guard(scope, Some(Duration::ZERO)) {
                GuardResult::Value(stored) => {
                    if now.0.saturating_sub(stored.stored_at.0) < self.ttl_millis {
                        return Begin::Replay(stored);
                    }
                    self.cache.remove(scope);
                }
                GuardResult::Guard(guard) => return Begin::Fresh(Pending { guard }),
                GuardResult::Timeout => return Begin::InUse,
            }
        }
        Begin::InUse
    }

    /// Stored responses now.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str) -> Scope {
        ("u".into(), CampaignId(1), key.into())
    }

    fn stored(at: u64) -> Stored {
        Stored {
            status: StatusCode::OK,
            body: Bytes::from_static(b"{}"),
            stored_at: UnixMillis(at),
        }
    }

    #[test]
    fn replays_within_ttl_then_forgets() {
        let store = IdempotencyStore::new(10, Duration::from_secs(1));
        let Begin::Fresh(pending) = store.begin(&scope("k"), UnixMillis(0)) else {
            panic!()
        };
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(0)),
            Begin::InUse
        ));
        pending.finish(stored(0));
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(999)),
            Begin::Replay(_)
        ));
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(1000)),
            Begin::Fresh(_)
        ));
    }

    #[test]
    fn dropped_request_frees_the_key() {
        let store = IdempotencyStore::new(10, Duration::from_secs(1));
        let Begin::Fresh(pending) = store.begin(&scope("k"), UnixMillis(0)) else {
            panic!()
        };
        drop(pending);
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(0)),
            Begin::Fresh(_)
        ));
    }

    #[test]
    fn bounded() {
        let store = IdempotencyStore::new(100, Duration::from_secs(60));
        for i in 0..10_000 {
            if let Begin::Fresh(p) = store.begin(&scope(&i.to_string()), UnixMillis(0)) {
                p.finish(stored(0));
            }
        }
        assert!(store.len() <= 200, "store grew to {}", store.len());
    }

    #[test]
    fn key_rules() {
        assert!(validate_key(b"abc-123").is_ok());
        assert!(validate_key(b"").is_err());
        assert!(validate_key(b"a b").is_err());
        assert!(validate_key(&[b'a'; 129]).is_err());
    }
}
