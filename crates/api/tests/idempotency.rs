//! `Idempotency-Key` across a client that goes away: the key's first decision is kept and its
//! retry gets it, never a second order.
//!
//! Deterministic: the router is driven as a tower service (no socket) over an engine whose
//! in-memory journal stalls its fsync on demand, so the test knows the first grab is decided
//! and waiting in the writer when it drops the request (the client resetting its connection),
//! or when the journal reply timeout answers `degraded`. The campaign allows 100 wins per
//! user, so a retry decided afresh would win a second item.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use stampede_api::{AppState, Auth, app, mint_token};
use stampede_core::{CampaignId, CampaignSpec, Cents, CommonSpec, SeckillSpec};
use stampede_engine::{Clock, Durability, Engine, JournalGuard, JournalGuardConfig, SystemClock};
use stampede_journal::MemoryStorage;
use stampede_server::Config;
use tempfile::TempDir;
use tower::ServiceExt;

const TOKEN_SECRET: &[u8] = b"test-token-secret-0123456789abcdef";
const STOCK: u64 = 10;
/// How long the test waits for something the server does asynchronously.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

struct Harness {
    state: Arc<AppState>,
    storage: MemoryStorage,
    campaign: CampaignId,
    _dir: TempDir,
}

/// A state over a stallable in-memory journal, with a 100-per-user seckill of `STOCK` items.
async fn harness(journal_reply_timeout: Duration) -> Harness {
    let dir = tempfile::tempdir().expect("data directory");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        // The per-user rate limit would answer a fresh retry 429 and hide a second order.
        grab_rate_per_second: 1_000,
        grab_rate_burst: 1_000,
        log: "warn".into(),
        ..Config::default()
    };
    config.validate().expect("valid config");
    let storage = MemoryStorage::new(7);
    let guard = JournalGuard::new(
        JournalGuardConfig {
            journal_reply_timeout,
            ..JournalGuardConfig::default()
        },
        Arc::new(stampede_admission::SystemClock::new()),
    )
    .expect("valid guard");
    let (engine, _) = Engine::open_storage_guarded(
        storage.clone(),
        Durability::Fsync,
        Some(1),
        Arc::new(SystemClock::new()),
        guard,
    )
    .expect("engine opens");
    let spec = CampaignSpec::Seckill(SeckillSpec {
        common: CommonSpec {
            name: "keyed".into(),
            starts_at: None,
            ends_at: None,
        },
        stock: STOCK,
        per_user_limit: 100,
        price_cents: Cents(100),
        payment_window_secs: 900,
        regrab_after_release: false,
    });
    let campaign = engine
        .create_campaign(spec)
        .await
        .expect("created")
        .created()
        .expect("accepted")
        .id;
    let state = stampede_server::assemble(
        &config,
        engine,
        Auth::new(TOKEN_SECRET, b"admin-key-0123456789abcdef"),
        &[(
            stampede_core::ChannelName::parse("sim").unwrap(),
            "sim-channel-secret-0123456789".to_owned(),
        )],
        stampede_api::metrics::install(),
    )
    .expect("state");
    Harness {
        state,
        storage,
        campaign,
        _dir: dir,
    }
}

impl Harness {
    /// A grab by alice under `key`.
    fn keyed_grab(&self, key: &str) -> Request<Body> {
        let expires = SystemClock::new().now().0 / 1000 + 3_600;
        Request::post(format!("/v1/campaigns/{}/grab", self.campaign))
            .header(
                "authorization",
                format!("Bearer {}", mint_token(TOKEN_SECRET, "alice", expires)),
            )
            .header("idempotency-key", key)
            .body(Body::empty())
            .expect("request")
    }

    /// Sends a request through the router; status and JSON body.
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = app(Arc::clone(&self.state))
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).expect("JSON body"))
    }

    /// Items taken from the campaign, durable or not (only alice grabs).
    fn taken(&self) -> u64 {
        self.state.shards.home().engine.inspect(|ledger| {
            STOCK
                - ledger
                    .campaign(self.campaign)
                    .expect("campaign")
                    .remaining()
        })
    }

    /// Polls `condition` until it holds or `SETTLE_LIMIT` passes; whether it held.
    async fn settles(&self, condition: impl Fn(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        while !condition(self) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_after_its_keyed_grab_was_decided_gets_that_order_on_retry() {
    // A reply timeout far above the test's stall: the first grab waits for the writer.
    let h = harness(Duration::from_secs(10)).await;
    h.storage.stall_syncs();
    let first = tokio::spawn({
        let router = app(Arc::clone(&h.state));
        router.oneshot(h.keyed_grab("k"))
    });
    // The writer decided the grab (the item is taken) and waits on the stalled fsync.
    assert!(
        h.settles(|h| h.taken() == 1).await,
        "the first grab was never decided"
    );
    // The client resets its connection: its request future is dropped.
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    h.storage.resume_syncs();
    // The key keeps the first decision. (Without that, go on: the retry shows what happens.)
    let stored = h.settles(|h| h.state.idempotency.len() == 1).await;

    let (status, retry) = h.send(h.keyed_grab("k")).await;
    assert_eq!(status, StatusCode::OK, "{retry}");
    assert_eq!(h.taken(), 1, "the retry made a second order: {retry}");
    assert!(stored, "the first decision was not stored for its key");
    assert_eq!(retry["outcome"], "won", "{retry}");
    let order_id = retry["order_id"].as_str().expect("order id");
    let order = h
        .state
        .shards
        .home()
        .engine
        .order(stampede_core::OrderId::parse(order_id).expect("an order id"))
        .expect("the order exists");
    assert_eq!(order.user_id.as_str(), "alice");
    // Again: the same answer, still one order.
    assert_eq!(h.send(h.keyed_grab("k")).await, (StatusCode::OK, retry));
    assert_eq!(h.taken(), 1);
    h.state.shards.home().engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_grab_answered_degraded_is_still_decided_once_and_its_retry_gets_it() {
    let h = harness(Duration::from_millis(100)).await;
    h.storage.stall_syncs();
    // The writer does not answer within the reply timeout: `degraded`, outcome unknown.
    let (status, first) = h.send(h.keyed_grab("k")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{first}");
    assert_eq!(first["error"]["code"], "degraded", "{first}");
    // The grab stays wanted: the writer decides it, behind the stalled fsync.
    assert!(h.settles(|h| h.taken() == 1).await, "the grab was skipped");
    // A retry while it is not durable yet waits, then is told the key is in use; it
    // decides nothing itself.
    let (status, busy) = h.send(h.keyed_grab("k")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{busy}");
    assert_eq!(busy["error"]["code"], "idempotency_key_in_use", "{busy}");
    h.storage.resume_syncs();
    assert!(
        h.settles(|h| h.state.idempotency.len() == 1).await,
        "the late decision was not stored for its key"
    );
    let (status, retry) = h.send(h.keyed_grab("k")).await;
    assert_eq!(status, StatusCode::OK, "{retry}");
    assert_eq!(retry["outcome"], "won", "{retry}");
    assert_eq!(h.taken(), 1, "one order for one key");
    h.state.shards.home().engine.shutdown();
}
