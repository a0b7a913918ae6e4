//! Shared application state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use stampede_admission::InFlight;
use stampede_engine::Engine;
use stampede_money::{Claims, DeskConfig, PaymentDesk, Payments, Reconciler, SimulatedPayout};

use crate::auth::Auth;
use crate::config::Config;
use crate::defence::Defence;
use crate::idempotency::IdempotencyStore;
use crate::metrics::GrabMetrics;

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
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
    /// Grab counters and latency histogram.
    pub grab_metrics: GrabMetrics,
    /// Renders `/metrics`.
    pub prometheus: PrometheusHandle,
    /// Red-packet claims (paid out by the simulated in-process provider).
    pub claims: Claims,
    /// Verifies each payment channel's callback signatures (HMAC-SHA256 under that channel's
    /// own secret, keyed once).
    pub callback_signers: crate::channel_secrets::CallbackSigners,
    /// The payments service: the channels, their router, recording what they report.
    pub payments: Arc<Payments>,
    /// Reconciliation of the journal against the channels (periodic job or admin request).
    pub reconciler: Arc<Reconciler>,
    /// A recent rendered JSON of each campaign, served while `campaign_detail` is switched off.
    pub campaign_cache: papaya::HashMap<stampede_core::CampaignId, CachedCampaign>,
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

impl AppState {
    /// Builds the state from a validated config (loads the persisted blocklist);
    /// `channel_secrets` are the channels' callback secrets ([`crate::channel_secrets::load`]).
    ///
    /// # Panics
    /// If `config` did not pass [`Config::validate`].
    pub fn new(
        config: &Config,
        engine: Engine,
        auth: Auth,
        prometheus: PrometheusHandle,
        channel_secrets: &[(String, String)],
    ) -> anyhow::Result<Arc<Self>> {
        // One clock for everything this server decides on: the engine's.
        let engine_clock = engine.clock();
        let defence = Defence::new(config, Arc::clone(&engine_clock))?;
        let desk = PaymentDesk::new(desk_config(config), engine_clock)?;
        let payments = Payments::new(engine.clone(), desk);
        let reconciler = Reconciler::new(
            Arc::clone(&payments),
            config.data_dir.join(crate::JOURNAL_FILE),
            Duration::from_secs(config.reconcile_grace_secs),
        );
        let engine_for_claims = engine.clone();
        Ok(Arc::new(Self {
            engine,
            auth,
            defence,
            idempotency: IdempotencyStore::new(
                config.idempotency_max_entries,
                Duration::from_secs(config.idempotency_ttl_secs),
            ),
            in_flight: InFlight::new(config.max_in_flight),
            body_reads: crate::body_read::BodyReads::new(crate::body_read::BodyPace::from_config(
                config,
            )),
            grab_metrics: GrabMetrics::register(),
            prometheus,
            claims: Claims::new(engine_for_claims, Arc::new(SimulatedPayout::new())),
            callback_signers: crate::channel_secrets::CallbackSigners::new(channel_secrets),
            payments,
            reconciler,
            campaign_cache: papaya::HashMap::new(),
        }))
    }

    /// Now, in Unix seconds (token expiry).
    pub fn now_unix_secs(&self) -> u64 {
        self.engine.now().0 / 1000
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.engine.now().0
    }
}

/// The payment desk's part of the config.
pub fn desk_config(config: &Config) -> DeskConfig {
    DeskConfig {
        channels: config.payment_channels(),
        books_dir: config.data_dir.clone(),
        call_timeout: Duration::from_millis(config.payment_call_timeout_ms),
        query_after: Duration::from_secs(config.payment_query_after_secs),
        rng_seed: config.rng_seed,
    }
}
