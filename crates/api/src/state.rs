//! Shared application state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use stampede_admission::InFlight;
use stampede_engine::{Engine, Payout, SimulatedPayout};

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
    /// Pays red packets out (the simulated in-process provider).
    pub payout: Arc<dyn Payout>,
    /// Verifies each payment channel's callback signatures (HMAC-SHA256 under that channel's
    /// own secret, keyed once).
    pub callback_signers: crate::channel_secrets::CallbackSigners,
    /// The payment channels and their router.
    pub payments: crate::payment_desk::PaymentDesk,
    /// The last reconciliation (periodic job or admin request).
    pub reconciliation: crate::reconciliation::LastReconciliation,
    /// The journal file (read back, read-only, by reconciliation).
    pub journal_path: std::path::PathBuf,
    /// How far back the channels' statements are cut off for reconciliation.
    pub reconcile_grace: Duration,
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
        let defence = Defence::new(config, std::sync::Arc::clone(&engine_clock))?;
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
            payout: Arc::new(SimulatedPayout::new()),
            callback_signers: crate::channel_secrets::CallbackSigners::new(channel_secrets),
            payments: crate::payment_desk::PaymentDesk::new(config, engine_clock)?,
            reconciliation: Default::default(),
            journal_path: config.data_dir.join(crate::JOURNAL_FILE),
            reconcile_grace: Duration::from_secs(config.reconcile_grace_secs),
            campaign_cache: papaya::HashMap::new(),
        }))
        .inspect(|state: &Arc<Self>| state.payments.connect(state))
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
