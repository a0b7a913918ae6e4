//! `serve` with `journal = "nats"`: a cluster node. The HTTP server, defences and lane are
//! the single node's; behind them one engine per shard, led or followed
//! ([`stampede_node`]), each with its own payments, claims and reconciliation services.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use stampede_api::defence::Defence;
use stampede_api::shards::ShardSet;
use stampede_api::{AppState, Auth, CallbackSigners, Services};
use stampede_clock::{SharedClock, SystemClock};
use stampede_cluster::ShardId;
use stampede_engine::Engine;
use stampede_money::{
    LEADER_CLAIM_QUIET, LedgerSource, PaymentDesk, Payout, SimulatedPayout, TxnRegistry,
};
use stampede_node::{Node, ServiceFactory};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::{
    DataDirLock, ShardMoney, accept, channel_secrets, load_secrets, shard_desk, shard_services,
    spawn_upkeep,
};

/// Each shard's services on this node, from the server's config.
struct NodeServices {
    config: Config,
    /// Each shard's payment desk, in shard order, made at start and kept for the node's
    /// life: the shard's services are made again at every role change, its desk is not.
    desks: Vec<Arc<PaymentDesk>>,
    /// The node's payout provider, shared by its shards and kept for the node's life (a
    /// simulated one here: its payouts live in this process's memory).
    payout: Arc<dyn Payout>,
}

impl ServiceFactory for NodeServices {
    fn services(
        &self,
        shard: ShardId,
        engine: Engine,
        ledger: Arc<dyn LedgerSource>,
        txns: Arc<dyn TxnRegistry>,
    ) -> Services {
        let money = ShardMoney {
            desk: Arc::clone(&self.desks[shard.get() as usize]),
            payout: Arc::clone(&self.payout),
            txns,
        };
        shard_services(&self.config, shard.get(), money, engine, ledger)
    }

    /// What a single node runs beside its engine, run where this node leads the shard:
    /// claims a crash left `claiming` settled (once, after the claims in flight elsewhere
    /// have had time to end), payment queries and refunds, and the shard's reconciliation.
    fn leader_jobs(&self, services: &Services) -> Vec<JoinHandle<()>> {
        let claims = services.claims.clone();
        let shard = services.reconciler.shard();
        let settle = tokio::spawn(async move {
            match claims.resolve_claims_after(LEADER_CLAIM_QUIET).await {
                Ok(0) => {}
                Ok(resolved) => {
                    tracing::info!(
                        shard,
                        resolved,
                        "settled red-packet claims left by a previous leader"
                    )
                }
                Err(error) => {
                    tracing::warn!(shard, %error, "some red-packet claims stay claiming for now")
                }
            }
        });
        let mut jobs = vec![
            settle,
            stampede_money::jobs::spawn(Arc::clone(&services.payments), shard),
        ];
        let interval = Duration::from_secs(self.config.reconcile_interval_secs);
        jobs.extend(services.reconciler.spawn_deferred(interval));
        jobs
    }

    /// A follower asks its own desk's simulated channels about stale `paying` orders and
    /// refunds the payments that desk minted (only its channels' books hold them); the leader
    /// does the rest.
    fn follower_jobs(&self, services: &Services) -> Vec<JoinHandle<()>> {
        let shard = services
            .reconciler
            .shard()
            .expect("a cluster shard's services name their shard");
        vec![stampede_money::jobs::spawn_follower_jobs(
            Arc::clone(&services.payments),
            shard,
        )]
    }
}

/// Runs a cluster node for `config` until `shutdown` resolves.
pub(crate) async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let data_dir_lock = DataDirLock::acquire(&config.data_dir)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let prometheus = stampede_api::metrics::install();
    let (token_secret, admin_key) = load_secrets(&config)?;
    let clock: SharedClock = Arc::new(SystemClock::new());
    let desks = (0..config.shards)
        .map(|shard| shard_desk(&config, shard, Arc::clone(&clock)).map(Arc::new))
        .collect::<anyhow::Result<_>>()?;
    let factory = Arc::new(NodeServices {
        config: config.clone(),
        desks,
        payout: Arc::new(
            SimulatedPayout::with_prefix(&config.node_id).with_latency(config.payout_latency()),
        ),
    });
    let node_config = config.node();
    let node_id = node_config.node.clone();
    let (mut node, shards) = Node::start(node_config, Arc::clone(&clock), factory)
        .await
        .context("joining the cluster")?;
    let auth = Auth::new(token_secret.as_bytes(), admin_key.as_bytes())
        .with_max_token_ttl_secs(config.max_token_ttl_secs);
    let channel_secrets = channel_secrets::load(&config)?;
    let defence = Defence::new(config.defence()?, Arc::clone(&clock))?;
    let state = AppState::new(
        config.http(),
        ShardSet::new(shards),
        auth,
        defence,
        CallbackSigners::new(&channel_secrets),
        prometheus,
    );
    node.join(Arc::clone(&state))
        .await
        .context("taking part in shard leadership")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, node = node_id.as_str(), shards = config.shards, "stampede cluster node listening");
    let background = spawn_upkeep(Arc::clone(&state), config.clone());
    let limits = config.limits()?;
    let result = accept::run(listener, Arc::clone(&state), limits, shutdown).await;
    background.abort();
    node.shutdown().await;
    tracing::info!("stampede node stopped");
    drop(data_dir_lock);
    Ok(result?)
}
