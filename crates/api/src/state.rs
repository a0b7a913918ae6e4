//! Shared application state handed to every handler.

use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::DefaultClock;
use metrics_exporter_prometheus::PrometheusHandle;
use stampede_admission::{InFlight, KeyedRateConfig, KeyedRateLimiter};
use stampede_engine::Engine;

use crate::auth::Auth;
use crate::config::Config;
use crate::idempotency::IdempotencyStore;
use crate::metrics::GrabMetrics;

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// Token and admin-key checks.
    pub auth: Auth,
    /// Per-user grab rate limit (keys are `user_key(user)`).
    pub grab_rate: KeyedRateLimiter<DefaultClock>,
    /// Stored `Idempotency-Key` responses.
    pub idempotency: IdempotencyStore,
    /// Requests being handled now.
    pub in_flight: InFlight,
    /// Grab counters and latency histogram.
    pub grab_metrics: GrabMetrics,
    /// Renders `/metrics`.
    pub prometheus: PrometheusHandle,
    /// Secret-seeded hasher for rate-limit keys: clients cannot aim at one shard.
    hasher: RandomState,
}

impl AppState {
    /// Builds the state from a validated config.
    ///
    /// # Panics
    /// If `config` did not pass [`Config::validate`].
    pub fn new(
        config: &Config,
        engine: Engine,
        auth: Auth,
        prometheus: PrometheusHandle,
    ) -> Arc<Self> {
        let rate_config = KeyedRateConfig {
            per_second: NonZeroU32::new(config.grab_rate_per_second).expect("validated"),
            burst: NonZeroU32::new(config.grab_rate_burst).expect("validated"),
            max_keys: config.max_tracked_users,
        };
        Arc::new(Self {
            engine,
            auth,
            grab_rate: KeyedRateLimiter::new(rate_config, DefaultClock::default()),
            idempotency: IdempotencyStore::new(
                config.idempotency_max_entries,
                Duration::from_secs(config.idempotency_ttl_secs),
            ),
            in_flight: InFlight::new(config.max_in_flight),
            grab_metrics: GrabMetrics::register(),
            prometheus,
            hasher: RandomState::new(),
        })
    }

    /// The rate-limit key of a user.
    pub fn user_key(&self, user: &str) -> u64 {
        self.hasher.hash_one(user)
    }

    /// Now, in Unix seconds (token expiry).
    pub fn now_unix_secs(&self) -> u64 {
        self.engine.now().0 / 1000
    }
}
