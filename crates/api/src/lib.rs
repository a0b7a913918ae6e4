//! HTTP API of Stampede (axum): [`app`] builds the router from [`AppState`], [`serve`] runs a
//! whole server from a [`Config`], [`server::run`] is the accept loop.

pub mod app;
pub mod auth;
pub mod body_read;
pub mod channel_secrets;
pub mod config;
pub mod data_dir_lock;
pub mod defence;
pub mod dto;
pub mod error;
pub mod exposition;
pub mod handlers;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod refusal;
pub mod reload;
pub mod secrets;
pub mod server;
pub mod signer;
pub mod state;
pub mod timefmt;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use app::app;
pub use auth::{Auth, mint_token};
pub use config::{Config, ConfigArgs, ConfigError};
pub use data_dir_lock::{DataDirLock, DataDirLockError, LOCK_FILE};
pub use error::AppError;
pub use state::AppState;

use stampede_admission::clock::SharedClock;
use stampede_admission::keyed_rate::IDLE_EVICTION_INTERVAL;
use stampede_engine::{Engine, EngineConfig, JournalGuard, JournalGuardConfig, SystemClock};

/// File names inside the data directory.
pub const JOURNAL_FILE: &str = "journal.log";
/// Generated token secret.
pub const TOKEN_SECRET_FILE: &str = "token_secret";
/// Generated admin key.
pub const ADMIN_KEY_FILE: &str = "admin_key";
/// Generated callback secret of the `sim` payment channel (every other channel's is
/// `channel-<name>.secret`: see [`channel_secrets`]).
pub const SIM_CHANNEL_SECRET_FILE: &str = "sim_channel_secret";
/// How often Prometheus histograms are drained into their buckets (bounds their memory).
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Reads (or generates) both secrets as the config says.
pub fn load_secrets(config: &Config) -> anyhow::Result<(String, String)> {
    use secrets::{SecretSource, load_or_generate};
    let random = || {
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
        bytes
    };
    let (token_secret, token_source) = load_or_generate(
        &config.token_secret,
        &config.data_dir,
        TOKEN_SECRET_FILE,
        random,
    )?;
    let (admin_key, admin_source) =
        load_or_generate(&config.admin_key, &config.data_dir, ADMIN_KEY_FILE, random)?;
    for (name, source, file) in [
        ("token secret", token_source, TOKEN_SECRET_FILE),
        ("admin key", admin_source, ADMIN_KEY_FILE),
    ] {
        let path = config.data_dir.join(file);
        match source {
            SecretSource::Configured => tracing::info!("{name}: from config/environment"),
            SecretSource::Stored => tracing::info!("{name}: read from {}", path.display()),
            SecretSource::Generated => tracing::info!("{name}: generated into {}", path.display()),
        }
    }
    Ok((token_secret, admin_key))
}

/// Opens the engine and builds the state for `config` (metrics recorder installed first).
///
/// Takes no lock on the data directory: [`serve`] takes it before calling this, and a caller
/// that serves the state some other way (tests on a fresh directory) must be its only user.
pub fn build_state(config: &Config) -> anyhow::Result<Arc<AppState>> {
    build_state_on(config, Arc::new(SystemClock::new()))
}

/// [`build_state`] deciding on `clock`: the engine, its journal guard, every limiter, breaker
/// and payment job read it (tests hand in a [`stampede_engine::ManualClock`]).
pub fn build_state_on(config: &Config, clock: SharedClock) -> anyhow::Result<Arc<AppState>> {
    let prometheus = metrics::install();
    std::fs::create_dir_all(&config.data_dir)?;
    let (token_secret, admin_key) = load_secrets(config)?;
    let engine_config = EngineConfig {
        journal_path: config.data_dir.join(JOURNAL_FILE),
        durability: config.durability.into(),
        rng_seed: (config.rng_seed != 0).then_some(config.rng_seed),
    };
    let guard = JournalGuard::new(
        JournalGuardConfig {
            journal_reply_timeout: Duration::from_millis(config.journal_reply_timeout_ms),
            ..JournalGuardConfig::default()
        },
        Arc::clone(&clock),
    )?;
    let (engine, recovered) = Engine::open_guarded(&engine_config, guard, clock)?;
    tracing::info!(
        records = recovered.records,
        campaigns = recovered.campaigns,
        orders = recovered.orders,
        truncated_tail_bytes = recovered.truncated_tail_bytes,
        replay_ms = recovered.replay_millis as u64,
        "journal replayed"
    );
    let auth = Auth::new(token_secret.as_bytes(), admin_key.as_bytes())
        .with_max_token_ttl_secs(config.max_token_ttl_secs);
    let channel_secrets = channel_secrets::load(config)?;
    AppState::new(config, engine, auth, prometheus, &channel_secrets)
}

/// Runs a server for `config` until `shutdown` resolves. The caller validated `config`.
///
/// The data directory's lock is taken first, before the journal or any secret in it is read,
/// and held until the server has stopped: a second server on the directory is refused before it
/// touches anything or binds its port.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let data_dir_lock = DataDirLock::acquire(&config.data_dir)?;
    let state = build_state(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, durability = ?config.durability, "stampede listening");
    let served = serve_on(listener, state, &config, shutdown).await;
    drop(data_dir_lock);
    served
}

/// Runs the server on an already bound listener (tests bind port 0 first).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Claims a crash left `claiming` are settled through the provider before serving; one it
    // cannot reach now stays `claiming` and is settled by the packet's next claim.
    match state.claims.resolve_claims().await {
        Ok(0) => {}
        Ok(resolved) => tracing::info!(resolved, "settled red-packet claims left by a restart"),
        Err(error) => tracing::warn!(%error, "some red-packet claims stay claiming for now"),
    }
    let background = spawn_upkeep(Arc::clone(&state), config.clone());
    let payment_jobs = stampede_money::jobs::spawn(Arc::clone(&state.payments));
    let reconciliation = state
        .reconciler
        .spawn(Duration::from_secs(config.reconcile_interval_secs));
    let limits = server::ServerLimits {
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
        trusted_proxies: stampede_admission::client_ip::TrustedProxies::parse(
            config
                .trusted_proxies
                .split(',')
                .filter(|s| !s.trim().is_empty()),
        )?,
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
    };
    let result = server::run(listener, app(Arc::clone(&state)), limits, shutdown).await;
    background.abort();
    payment_jobs.abort();
    if let Some(job) = reconciliation {
        job.abort();
    }
    state.engine.shutdown();
    tracing::info!("stampede stopped");
    Ok(result?)
}

/// Every second: defence upkeep (idle limiter keys, expired bans, blocklist persistence) and
/// the config file's rules and switches if the file changed; every 5 s: metric histograms.
fn spawn_upkeep(state: Arc<AppState>, config: Config) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut second = tokio::time::interval(IDLE_EVICTION_INTERVAL);
        let mut upkeep = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        let mut watcher = reload::ConfigWatcher::new(config);
        loop {
            tokio::select! {
                _ = second.tick() => {
                    state.defence.upkeep(state.now_ms()).await;
                    watcher.poll(&state);
                }
                _ = upkeep.tick() => state.prometheus.run_upkeep(),
            }
        }
    })
}
