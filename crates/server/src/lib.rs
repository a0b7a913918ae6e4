//! Stampede's wiring: the one config (read from a file, the environment and flags), the data
//! directory's layout and lock, the secrets, building every component on one injected clock
//! ([`build`]), the background tasks, and the accept loop ([`serve`]). The HTTP layer
//! (`stampede-api`) and the services (engine, money) know nothing of the config file.

pub mod accept;
pub mod channel_secrets;
mod cluster;
pub mod config;
mod connection;
pub mod data_dir_lock;
pub mod logging;
pub mod refusal;
pub mod reload;
pub mod secrets;
mod sections;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use config::{Config, ConfigArgs, ConfigError};
pub use data_dir_lock::{DataDirLock, DataDirLockError, LOCK_FILE};
pub use stampede_api::AppState;

use stampede_admission::keyed_rate::IDLE_EVICTION_INTERVAL;
use stampede_api::defence::Defence;
use stampede_api::{Auth, CallbackSigners, Services};
use stampede_clock::{SharedClock, SystemClock};
use stampede_engine::{Engine, JournalGuard, JournalGuardConfig};

use stampede_money::{
    Claims, JournalFile, LedgerSource, PaymentDesk, Payments, Payout, Reconciler, SimulatedPayout,
    TxnRegistry,
};

pub use sections::{JOURNAL_FILE, shard_books_dir};

/// Generated token secret (in the data directory).
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

/// Opens the engine and builds the state for `config` on the machine's clock (metrics
/// recorder installed first).
///
/// Takes no lock on the data directory: [`serve`] takes it before calling this, and a caller
/// that serves the state some other way (tests on a fresh directory) must be its only user.
pub fn build_state(config: &Config) -> anyhow::Result<Arc<AppState>> {
    build(config, Arc::new(SystemClock::new()))
}

/// Builds every component for `config` on `clock`: the engine and its journal guard, the
/// defences (every limiter and breaker), the payments service and its jobs' clock, the HTTP
/// state. Tests hand in a [`stampede_clock::ManualClock`] and move time themselves.
pub fn build(config: &Config, clock: SharedClock) -> anyhow::Result<Arc<AppState>> {
    let prometheus = stampede_api::metrics::install();
    std::fs::create_dir_all(&config.data_dir)?;
    let (token_secret, admin_key) = load_secrets(config)?;
    let engine_config = config.engine();
    let guard = JournalGuard::new(
        JournalGuardConfig {
            journal_reply_timeout: Duration::from_millis(config.journal_reply_timeout_ms),
            ..JournalGuardConfig::default()
        },
        Arc::clone(&clock),
    )?;
    let (engine, recovered) = Engine::open_guarded(&engine_config, guard, Arc::clone(&clock))?;
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
    assemble(config, engine, auth, &channel_secrets, prometheus)
}

/// The state around an engine already open (tests open one on in-memory storage): the
/// defences, the payments service, claims and reconciliation, the HTTP layer — every one
/// deciding on the engine's clock.
pub fn assemble(
    config: &Config,
    engine: Engine,
    auth: Auth,
    channel_secrets: &[(stampede_core::ChannelName, String)],
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<Arc<AppState>> {
    let defence = Defence::new(config.defence()?, engine.clock())?;
    let services = services(config, engine)?;
    Ok(AppState::new(
        config.http(),
        stampede_api::shards::ShardSet::single(services),
        auth,
        defence,
        CallbackSigners::new(channel_secrets),
        prometheus,
    ))
}

/// The services around a single node's engine: payments (with their own desk of channels,
/// keeping their books in the data directory), claims and reconciliation (of the journal
/// file, read back read-only), on the engine's clock.
pub fn services(config: &Config, engine: Engine) -> anyhow::Result<Services> {
    let journal: Arc<dyn LedgerSource> = Arc::new(JournalFile(config.data_dir.join(JOURNAL_FILE)));
    let desk = Arc::new(PaymentDesk::new(config.desk(), engine.clock())?);
    let money = ShardMoney {
        desk,
        payout: Arc::new(SimulatedPayout::new().with_latency(config.payout_latency())),
        txns: None,
    };
    Ok(services_with(config, money, engine, journal, None))
}

/// What a cluster node keeps for a shard's money across its role changes: the shard's
/// payment desk (see [`shard_desk`]), the node's payout provider and transaction claims.
pub struct ShardMoney<T = Arc<dyn TxnRegistry>> {
    /// The shard's desk on this node.
    pub desk: Arc<PaymentDesk>,
    /// The node's payout provider (one, shared by its shards).
    pub payout: Arc<dyn Payout>,
    /// Where a payment's transaction is claimed across the shards (none on a single node).
    pub txns: T,
}

/// The services around a cluster shard's engine: payments through the shard's desk, with
/// every transaction claimed across the shards first, claims paid out through the node's
/// provider, and the shard's reconciliation over `ledger` (its snapshot and log, replayed
/// read-only).
pub fn shard_services(
    config: &Config,
    shard: u32,
    money: ShardMoney,
    engine: Engine,
    ledger: Arc<dyn LedgerSource>,
) -> Services {
    let money = ShardMoney {
        desk: money.desk,
        payout: money.payout,
        txns: Some(money.txns),
    };
    services_with(config, money, engine, ledger, Some(shard))
}

/// A cluster node's payment desk for `shard`, on `clock`: its channels keep their books in
/// the shard's own directory, created here, and mint transaction ids scoped to this node and
/// shard. One per shard for the node's life (its books file has one writer, and its channels'
/// breakers and customers carry on across the shard's role changes).
///
/// # Errors
/// The directory or a channel's books cannot be created or read.
pub fn shard_desk(config: &Config, shard: u32, clock: SharedClock) -> anyhow::Result<PaymentDesk> {
    let desk = config.shard_desk(shard);
    std::fs::create_dir_all(&desk.books_dir)
        .with_context(|| format!("creating {}", desk.books_dir.display()))?;
    PaymentDesk::new(desk, clock)
}

fn services_with(
    config: &Config,
    money: ShardMoney<Option<Arc<dyn TxnRegistry>>>,
    engine: Engine,
    ledger: Arc<dyn LedgerSource>,
    shard: Option<u32>,
) -> Services {
    let ShardMoney { desk, payout, txns } = money;
    let payments = Payments::with_txns(engine.clone(), desk, txns);
    let grace = Duration::from_secs(config.reconcile_grace_secs);
    let reconciler = Reconciler::new(Arc::clone(&payments), ledger, grace, shard);
    Services {
        claims: Claims::new(engine.clone(), payout),
        engine,
        payments,
        reconciler,
    }
}

/// Runs a server for `config` until `shutdown` resolves. The caller validated `config`.
///
/// The data directory's lock is taken first, before the journal or any secret in it is read,
/// and held until the server has stopped: a second server on the directory is refused before it
/// touches anything or binds its port.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    if config.journal == config::JournalKind::Nats {
        return cluster::serve(config, shutdown).await;
    }
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
    let home = state.shards.home();
    match home.claims.resolve_claims().await {
        Ok(0) => {}
        Ok(resolved) => tracing::info!(resolved, "settled red-packet claims left by a restart"),
        Err(error) => tracing::warn!(%error, "some red-packet claims stay claiming for now"),
    }
    let background = spawn_upkeep(Arc::clone(&state), config.clone());
    let payment_jobs = stampede_money::jobs::spawn(Arc::clone(&home.payments), None);
    let reconciliation =
        (home.reconciler).spawn(Duration::from_secs(config.reconcile_interval_secs));
    let limits = config.limits()?;
    let result = accept::run(listener, Arc::clone(&state), limits, shutdown).await;
    background.abort();
    payment_jobs.abort();
    if let Some(job) = reconciliation {
        job.abort();
    }
    home.engine.shutdown();
    tracing::info!("stampede stopped");
    Ok(result?)
}

/// Every second: defence upkeep (idle limiter keys, expired bans, blocklist persistence) and
/// the config file's rules and switches if the file changed; every 5 s: metric histograms.
pub(crate) fn spawn_upkeep(state: Arc<AppState>, config: Config) -> tokio::task::JoinHandle<()> {
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
                _ = upkeep.tick() => {
                    state.prometheus.run_upkeep();
                    metrics::counter!("stampede_log_lines_dropped_total")
                        .absolute(logging::dropped_lines());
                }
            }
        }
    })
}
