//! `serve` with `journal = "nats"`: a cluster node. The HTTP server, defences and lane are
//! the single node's; behind them one engine per shard, led or followed
//! ([`stampede_node`]), each with its own payments, claims and reconciliation services.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use stampede_api::defence::Defence;
use stampede_api::shards::ShardSet;
use stampede_api::{AppState, Auth, CallbackSigners, Services};
use stampede_clock::{SharedClock, SystemClock};
use stampede_engine::Engine;
use stampede_node::{Node, ServiceFactory};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::{DataDirLock, accept, channel_secrets, load_secrets, services, spawn_upkeep};

/// Each shard's services on this node, from the server's config.
struct NodeServices {
    config: Config,
}

impl ServiceFactory for NodeServices {
    fn services(&self, engine: Engine) -> Services {
        // The config was validated before the node started: the desk's settings hold.
        services(&self.config, engine).expect("a validated config makes a payment desk")
    }

    fn leader_jobs(&self, services: &Services) -> Vec<JoinHandle<()>> {
        vec![stampede_money::jobs::spawn(Arc::clone(&services.payments))]
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
    let factory = Arc::new(NodeServices {
        config: config.clone(),
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
