//! `Idempotency-Key`: a retried grab gets its first response back.
//!
//! Scope: (user, campaign, key). Bounded: at most `max_entries` stored responses (quick_cache,
//! least-recently-used eviction by its CLOCK-Pro policy); each is replayed for `ttl` after it
//! was stored, then treated as absent.
//!
//! The first request of a key is decided on a task of its own
//! ([`crate::handlers::keyed_grab`]) that holds the key's [`Pending`] placeholder until the
//! grab is decided and its answer stored, whether or not the client is still connected: a
//! client that reset its connection and retries gets the first decision, never a second
//! order. A request whose key's first request is still running waits for it up to
//! [`KEY_IN_USE_WAIT`] and gets its answer, else 409 `idempotency_key_in_use`. At most
//! [`MAX_KEYED_GRABS_RUNNING`] first requests run at once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_cache::sync::{Cache, PlaceholderGuard};
use stampede_core::{CampaignId, UnixMillis, UserId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest accepted key: the ledger's rule ([`stampede_core::GrabKey`]), which journals a
/// key with its win.
pub const MAX_KEY_BYTES: usize = stampede_core::MAX_GRAB_KEY_BYTES;

/// Longest a request waits for its key's first request to finish before it is answered 409
/// `idempotency_key_in_use`: 1 s. A first request is answered within the journal reply
/// timeout (default 250 ms) unless the disk is stalled, so a retry that overlaps it almost
/// always gets its answer instead of a 409; and a retry is held no longer than a user waits
/// for a grab. The wait holds an in-flight slot, so it is short on purpose.
pub const KEY_IN_USE_WAIT: Duration = Duration::from_secs(1);

/// Most keyed first requests being decided at once, their clients connected or not: 16,384,
/// the default `max_in_flight`. A client gone no longer holds an in-flight slot, but its
/// keyed grab still runs to its decision (bounded by the reply timeout, or, on a stalled
/// disk, by the writer's bounded queue); without this cap a client resetting connections
/// faster than grabs finish could grow those tasks past what in-flight limiting allows. At
/// the cap a keyed grab is answered 503 `overloaded` (transient: its key is not taken).
pub const MAX_KEYED_GRABS_RUNNING: usize = 16_384;

/// Scope of one key.
pub type Scope = (UserId, CampaignId, stampede_core::GrabKey);

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

impl Stored {
    /// The stored response, replayed.
    pub fn response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// The bounded store.
pub struct IdempotencyStore {
    cache: Cache<Scope, Stored>,
    ttl_millis: u64,
    /// Permits of [`MAX_KEYED_GRABS_RUNNING`].
    running: Arc<Semaphore>,
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
    /// The same key's first request was still running after [`KEY_IN_USE_WAIT`].
    InUse,
    /// First time: process, then [`Pending::finish`].
    Fresh(Pending<'a>),
}

/// A keyed request being processed. Dropping it without finishing forgets the key (a request
/// waiting on the key then becomes the first).
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
    stampede_core::GrabKey::validate(key).map_err(|e| e.to_string())
}

impl IdempotencyStore {
    /// A store of at most `max_entries` responses kept for `ttl`.
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        Self {
            cache: Cache::new(max_entries.max(1)),
            ttl_millis: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            running: Arc::new(Semaphore::new(MAX_KEYED_GRABS_RUNNING)),
        }
    }

    /// A permit to run one keyed grab, held until its answer is stored; `None` at
    /// [`MAX_KEYED_GRABS_RUNNING`].
    pub fn try_start(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.running).try_acquire_owned().ok()
    }

    /// Looks the scope up at `now`, waiting up to [`KEY_IN_USE_WAIT`] for a first request of
    /// the same key that is still running.
    pub async fn begin(&self, scope: &Scope, now: UnixMillis) -> Begin<'_> {
        // Two rounds at most: the second after removing an expired entry.
        for _ in 0..2 {
            let looked_up =
                tokio::time::timeout(KEY_IN_USE_WAIT, self.cache.get_value_or_guard_async(scope));
            match looked_up.await {
                Ok(Ok(stored)) => {
                    if now.0.saturating_sub(stored.stored_at.0) < self.ttl_millis {
                        return Begin::Replay(stored);
                    }
                    self.cache.remove(scope);
                }
                Ok(Err(guard)) => return Begin::Fresh(Pending { guard }),
                Err(_still_running) => return Begin::InUse,
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
        (
            UserId::parse("u").unwrap(),
            CampaignId(1),
            stampede_core::GrabKey::parse(key).unwrap(),
        )
    }

    fn stored(at: u64) -> Stored {
        Stored {
            status: StatusCode::OK,
            body: Bytes::from_static(b"{}"),
            stored_at: UnixMillis(at),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn replays_within_ttl_then_forgets() {
        let store = IdempotencyStore::new(10, Duration::from_secs(1));
        let Begin::Fresh(pending) = store.begin(&scope("k"), UnixMillis(0)).await else {
            panic!()
        };
        // The first is still running: a second waits `KEY_IN_USE_WAIT` (paused time), then 409.
        let waited = tokio::time::Instant::now();
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(0)).await,
            Begin::InUse
        ));
        assert_eq!(waited.elapsed(), KEY_IN_USE_WAIT);
        pending.finish(stored(0));
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(999)).await,
            Begin::Replay(_)
        ));
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(1000)).await,
            Begin::Fresh(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waiting_on_the_key_gets_the_first_answer() {
        let store = Arc::new(IdempotencyStore::new(10, Duration::from_secs(60)));
        let Begin::Fresh(pending) = store.begin(&scope("k"), UnixMillis(0)).await else {
            panic!()
        };
        let waiter = tokio::spawn({
            let store = Arc::clone(&store);
            async move {
                matches!(
                    store.begin(&scope("k"), UnixMillis(1)).await,
                    Begin::Replay(_)
                )
            }
        });
        tokio::task::yield_now().await;
        pending.finish(stored(0));
        assert!(
            waiter.await.unwrap(),
            "the waiting request replays the first answer"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_request_frees_the_key() {
        let store = IdempotencyStore::new(10, Duration::from_secs(1));
        let Begin::Fresh(pending) = store.begin(&scope("k"), UnixMillis(0)).await else {
            panic!()
        };
        drop(pending);
        assert!(matches!(
            store.begin(&scope("k"), UnixMillis(0)).await,
            Begin::Fresh(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn bounded() {
        let store = IdempotencyStore::new(100, Duration::from_secs(60));
        for i in 0..10_000 {
            if let Begin::Fresh(p) = store.begin(&scope(&i.to_string()), UnixMillis(0)).await {
                p.finish(stored(0));
            }
        }
        assert!(store.len() <= 200, "store grew to {}", store.len());
        let permits: Vec<_> = (0..MAX_KEYED_GRABS_RUNNING)
            .map(|_| store.try_start().expect("below the cap"))
            .collect();
        assert!(store.try_start().is_none(), "at the cap");
        drop(permits);
        assert!(store.try_start().is_some());
    }

    #[test]
    fn key_rules() {
        assert!(validate_key(b"abc-123").is_ok());
        assert!(validate_key(b"").is_err());
        assert!(validate_key(b"a b").is_err());
        assert!(validate_key(&[b'a'; 129]).is_err());
    }
}
