//! Shared application state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

pub use crate::shards::Services;
use metrics_exporter_prometheus::PrometheusHandle;
use stampede_admission::InFlight;

use crate::auth::Auth;
use crate::body_read::{BodyPace, BodyReads};
use crate::callback_signers::CallbackSigners;
use crate::defence::Defence;
use crate::idempotency::IdempotencyStore;
use crate::metrics::GrabMetrics;

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Every shard's engine and money services (one shard on a single node).
    pub shards: crate::shards::ShardSet,
    /// The node's clock (every engine's).
    pub clock: NodeClock,
    /// On a cluster node, the cluster as it sees it (set once the node has joined).
    pub cluster: std::sync::OnceLock<Arc<dyn crate::cluster::ClusterStatus>>,
    /// Token and admin-key checks.
    pub auth: Auth,
    /// Blocklist, rules, switches, overload protection.
    pub defence: Defence,
    /// Stored `Idempotency-Key` responses.
    pub idempotency: IdempotencyStore,
    /// Requests being handled now.
    pub in_flight: InFlight,
    /// Request bodies being read (before a request takes an in-flight permit), and their pace.
    pub body_reads: crate::body_read::BodyReads,
    /// The shadow copies a rehearsal's grabs are decided against (in memory only).
    pub shadows: stampede_engine::Shadows,
    /// Grab counters and latency histogram.
    pub grab_metrics: GrabMetrics,
    /// The sampled access log.
    pub access_log: crate::access_log::AccessLog,
    /// Renders `/metrics`.
    pub prometheus: PrometheusHandle,
    /// Verifies each payment channel's callback signatures (HMAC-SHA256 under that channel's
    /// own secret, keyed once).
    pub callback_signers: CallbackSigners,
    /// A recent rendered JSON of each campaign, served while `campaign_detail` is switched off.
    pub campaign_cache: papaya::HashMap<stampede_core::CampaignId, CachedCampaign>,
}

/// The clock every engine of the node decides on.
#[derive(Clone)]
pub struct NodeClock(pub Arc<dyn stampede_engine::Clock>);

impl std::fmt::Debug for NodeClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeClock")
    }
}

/// A campaign's rendered JSON, kept for the `campaign_detail` degrade switch.
#[derive(Clone, Debug)]
pub struct CachedCampaign {
    /// When it was rendered (refreshed after
    /// [`crate::handlers::campaigns::CAMPAIGN_CACHE_REFRESH_MS`]).
    pub rendered_at: stampede_core::UnixMillis,
    /// The JSON body.
    pub body: axum::body::Bytes,
}

/// The HTTP layer's own settings (the server's config, validated).
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Most stored `Idempotency-Key` responses.
    pub idempotency_max_entries: usize,
    /// How long a stored response is replayed.
    pub idempotency_ttl: Duration,
    /// Most requests handled at once; more are answered 503 `overloaded`.
    pub max_in_flight: usize,
    /// How long a request body may take to arrive.
    pub body_pace: BodyPace,
    /// Log one request in this many (0: no access log).
    pub access_log_every: u64,
    /// Seed for the shadow copies' order ids and packet draws (`None`: from the OS).
    pub rng_seed: Option<u64>,
}

impl AppState {
    /// The state handlers share: `services` behind `defence`, tokens checked by `auth`,
    /// callbacks by `callback_signers`.
    pub fn new(
        settings: HttpSettings,
        shards: crate::shards::ShardSet,
        auth: Auth,
        defence: Defence,
        callback_signers: CallbackSigners,
        prometheus: PrometheusHandle,
    ) -> Arc<Self> {
        let clock = NodeClock(shards.home().engine.clock());
        Arc::new(Self {
            shards,
            clock,
            cluster: std::sync::OnceLock::new(),
            auth,
            defence,
            idempotency: IdempotencyStore::new(
                settings.idempotency_max_entries,
                settings.idempotency_ttl,
            ),
            in_flight: InFlight::new(settings.max_in_flight),
            body_reads: BodyReads::new(settings.body_pace),
            shadows: stampede_engine::Shadows::new(settings.rng_seed),
            grab_metrics: GrabMetrics::register(),
            access_log: crate::access_log::AccessLog::new(settings.access_log_every),
            prometheus,
            callback_signers,
            campaign_cache: papaya::HashMap::new(),
        })
    }

    /// Now, in Unix seconds (token expiry).
    pub fn now_unix_secs(&self) -> u64 {
        self.clock.0.now().0 / 1000
    }

    /// Now, on the node's clock.
    pub fn now(&self) -> stampede_core::UnixMillis {
        self.clock.0.now()
    }

    /// Every campaign's published view, over every shard.
    pub fn campaign_views(&self) -> Vec<Arc<stampede_engine::CampaignView>> {
        let mut views = Vec::new();
        for services in self.shards.all() {
            let engine = &services.engine;
            views.extend(
                engine
                    .campaign_ids()
                    .into_iter()
                    .filter_map(|id| engine.campaign(id)),
            );
        }
        views
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.clock.0.now().0
    }
}
