//! A Stampede cluster node (`stampede serve --journal nats`).
//!
//! The node runs one engine per shard of the campaign space (`shards`, default 16), all on
//! one clock, behind one HTTP server ([`stampede_api::shards::ShardSet`]):
//! - where it holds the shard's lease ([`stampede_cluster::LeaseManager`]) the engine is the
//!   shard's writer, on the shard's fenced replicated log ([`stampede_cluster::NatsLog`]),
//!   and the node answers the shard's command subject for the other nodes (`serve.rs`);
//! - elsewhere the engine follows the shard's log ([`stampede_cluster::Follower`] applying
//!   every message through the writer's `apply`), answers the fast path and reads from
//!   memory, and forwards every command to the leader over NATS request-reply
//!   (`remote.rs`); the client cannot tell.
//!
//! Role changes are `shard.rs`; this file starts the node, follows every shard, and turns
//! lease events (and the watchdog's findings: a writer whose append the log refused, a
//! follower that stopped on an error) into role changes, replacing the shard's services in
//! the HTTP state each time.

mod batcher;
mod context;
mod remote;
mod replay;
mod serve;
mod shard;
mod status;
mod txns;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use stampede_api::state::{AppState, Services};
use stampede_cluster::{
    ClusterView, Connection, LeaseConfig, LeaseEvent, LeaseManager, Names, NatsConfig, NodeId,
    ShardCount, ShardId, SnapshotStore,
};
use stampede_engine::{Clock, Engine, JournalGuardConfig};
use stampede_money::{LedgerSource, TxnRegistry};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::context::Context;
use crate::shard::{Followed, LeadError, Role};

pub use batcher::{MAX_BATCHES_IN_FLIGHT, MAX_FORWARD_BATCH, MAX_FORWARD_QUEUE};
pub use serve::MAX_FORWARDED_IN_FLIGHT;

/// How often the lease manager's view of the cluster is read again.
const VIEW_REFRESH: Duration = Duration::from_secs(1);
/// How often the watchdog looks for a writer the log refused or a follower that failed.
const WATCHDOG_TICK: Duration = Duration::from_millis(200);
/// Longest wait at start for every shard's follower to reach its log's tip before serving
/// (past it the node serves anyway; reads that must be current wait on their own).
const START_CATCH_UP: Duration = Duration::from_secs(60);
/// Longest wait at start for NATS and JetStream to answer (a NATS cluster starting with the
/// node).
const JETSTREAM_READY: Duration = Duration::from_secs(60);
/// Pause between NATS readiness checks at start.
const JETSTREAM_RETRY: Duration = Duration::from_millis(500);
/// Tries to take the lead of a shard whose log moved on past this node's state (each after
/// following on), before leaving it to the next watchdog round.
const MAX_LEAD_TRIES: u32 = 5;

/// How a node's shard services are made, and its leader-only jobs started (the server
/// supplies it: payments, claims and reconciliation around each shard's engine).
pub trait ServiceFactory: Send + Sync + 'static {
    /// The services around `shard`'s engine (a writer or a follower); `ledger` rebuilds the
    /// shard's ledger read-only from its snapshot and log, for its reconciliation; `txns`
    /// claims a payment's transaction across the shards before it is recorded (the node's
    /// one registry).
    fn services(
        &self,
        shard: ShardId,
        engine: Engine,
        ledger: Arc<dyn LedgerSource>,
        txns: Arc<dyn TxnRegistry>,
    ) -> Services;
    /// Background work only the shard's leader runs (settling claims left `claiming`,
    /// payment queries, refunds, reconciliation); stopped when it steps down.
    fn leader_jobs(&self, services: &Services) -> Vec<JoinHandle<()>>;
    /// Background work a follower of the shard runs (refunding the payments this node's desk
    /// minted, which only its channel's books hold); stopped when it stops following.
    fn follower_jobs(&self, services: &Services) -> Vec<JoinHandle<()>>;
}

/// A node's cluster settings (validated by the server's config).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// NATS servers and credentials.
    pub nats: NatsConfig,
    /// This node.
    pub node: NodeId,
    /// Stream, subject and bucket names, under the cluster's name.
    pub names: Names,
    /// Shards of the campaign space (the same on every node).
    pub shards: ShardCount,
    /// Replicas of the log stream and buckets.
    pub replicas: usize,
    /// The lease.
    pub lease: Duration,
    /// The HTTP address this node advertises.
    pub address: String,
    /// Each engine's journal guard.
    pub guard: JournalGuardConfig,
    /// Seed for order ids and packet draws (`None`: from the OS).
    pub rng_seed: Option<u64>,
    /// Records between a shard leader's snapshots.
    pub snapshot_every_records: u64,
}

/// A running node.
pub struct Node {
    context: Arc<Context>,
    slots: Arc<Vec<Mutex<Role>>>,
    config: NodeConfig,
    /// Relays the lease manager's events; gives up the leases when told to stop.
    relay: Option<(Arc<tokio::sync::Notify>, JoinHandle<()>)>,
    events: Option<JoinHandle<()>>,
    view: status::SeenView,
}

impl Node {
    /// Connects to NATS, follows every shard from its log's start and waits (at most
    /// [`START_CATCH_UP`]) until each has caught up. Answers the node and every shard's
    /// services, in shard order, for the HTTP state ([`Node::join`] then takes leases).
    ///
    /// # Errors
    /// NATS cannot be reached or the log stream cannot be opened.
    pub async fn start(
        config: NodeConfig,
        clock: Arc<dyn Clock>,
        factory: Arc<dyn ServiceFactory>,
    ) -> anyhow::Result<(Self, Vec<Services>)> {
        // NATS starting with the node (every server at once, say) refuses connections, then
        // times JetStream requests out while it elects its leader: asked again, for a while.
        // Every stream and bucket the node opens (or creates: a replicated one takes an
        // election) is asked again the same way.
        let started = tokio::time::Instant::now();
        let (connection, stream, snapshots, txns) = loop {
            match open_jetstream(&config).await {
                Ok(opened) => break opened,
                Err(error) if started.elapsed() < JETSTREAM_READY => {
                    tracing::info!(%error, "NATS JetStream not ready yet; asking again");
                    tokio::time::sleep(JETSTREAM_RETRY).await;
                }
                Err(error) => return Err(error),
            }
        };
        let context = Arc::new(Context {
            connection,
            stream,
            node: config.node.clone(),
            shards: config.shards,
            clock,
            rng_seed: config.rng_seed,
            guard: config.guard.clone(),
            catch_up_timeout: config.lease.max(Duration::from_secs(2)),
            factory,
            snapshots,
            snapshot_every_records: config.snapshot_every_records,
            replays: Arc::new(tokio::sync::Semaphore::new(replay::MAX_REPLAYS_PER_NODE)),
            txns: Arc::new(txns::NatsTxns(txns)),
        });
        let mut slots = Vec::new();
        let mut services = Vec::new();
        for shard in config.shards.all() {
            let mut followed = shard::follow_from_start(&context, shard).await;
            services.push(follower_services(&context, shard, &mut followed));
            slots.push(Mutex::new(Role::Following(followed)));
        }
        for services in &services {
            let caught_up = tokio::time::timeout(START_CATCH_UP, services.engine.catch_up());
            if !matches!(caught_up.await, Ok(Ok(()))) {
                tracing::warn!(
                    "a shard's follower has not caught up with its log yet; serving anyway"
                );
            }
        }
        let node = Self {
            context,
            slots: Arc::new(slots),
            config,
            relay: None,
            events: None,
            view: Arc::default(),
        };
        Ok((node, services))
    }

    /// Takes part in leadership: starts the lease manager and changes shards' roles as
    /// leases come and go, replacing their services in `state`.
    ///
    /// # Errors
    /// The lease or node bucket cannot be opened.
    pub async fn join(&mut self, state: Arc<AppState>) -> anyhow::Result<()> {
        let config = LeaseConfig {
            lease: self.config.lease,
            shards: self.config.shards,
            replicas: self.config.replicas,
        };
        // Its buckets are opened (or created) as the start's streams are: asked again for a
        // while if JetStream times out.
        let started = tokio::time::Instant::now();
        let mut lease = loop {
            let (node, address) = (self.config.node.clone(), self.config.address.clone());
            match LeaseManager::start(&self.context.connection, node, address, config).await {
                Ok(lease) => break lease,
                Err(error) if started.elapsed() < JETSTREAM_READY => {
                    tracing::info!(%error, "the lease buckets are not ready yet; asking again");
                    tokio::time::sleep(JETSTREAM_RETRY).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        let status = status::NodeStatus {
            context: Arc::clone(&self.context),
            slots: Arc::clone(&self.slots),
            view: Arc::clone(&self.view),
        };
        let _ = state.cluster.set(Arc::new(status));
        let (context, slots) = (Arc::clone(&self.context), Arc::clone(&self.slots));
        let view = Arc::clone(&self.view);
        let clock = Arc::clone(&self.context.clock);
        let (events_tx, mut events_rx) =
            tokio::sync::mpsc::channel(4 * self.config.shards.get() as usize);
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::clone(&stop);
        let relay = tokio::spawn(async move {
            // The manager's events go through a channel this task drains, so the loop below
            // can also tick its watchdog.
            let mut refresh = tokio::time::interval(VIEW_REFRESH);
            loop {
                let event = tokio::select! {
                    () = stopped.notified() => break,
                    _ = refresh.tick() => None,
                    event = lease.next_event() => match event {
                        Some(event) => Some(event),
                        None => return,
                    },
                };
                *view.lock() = (lease.view().await, clock.now().0);
                if let Some(event) = event
                    && events_tx.send(event).await.is_err()
                {
                    break;
                }
            }
            // Given up at once, so other nodes take over now rather than after the lease.
            lease.shutdown().await;
        });
        self.relay = Some((stop, relay));
        let events = tokio::spawn(async move {
            let mut held: BTreeMap<ShardId, u64> = BTreeMap::new();
            let mut watchdog = tokio::time::interval(WATCHDOG_TICK);
            loop {
                tokio::select! {
                    event = events_rx.recv() => match event {
                        None => break,
                        Some(LeaseEvent::Acquired { shard, epoch }) => {
                            held.insert(shard, epoch);
                            take_lead(&context, &slots, &state, shard, epoch).await;
                        }
                        Some(LeaseEvent::Lost { shard }) => {
                            held.remove(&shard);
                            follow_again(&context, &slots, &state, shard).await;
                        }
                    },
                    _ = watchdog.tick() => {
                        watch_over(&context, &slots, &state, &held).await;
                    }
                }
            }
        });
        self.events = Some(events);
        Ok(())
    }

    /// Who leads what, as last seen by the lease manager.
    pub fn view(&self) -> ClusterView {
        self.view.lock().0.clone()
    }

    /// Stops: gives up every lease, then every shard's writer and follower stop.
    pub async fn shutdown(mut self) {
        if let Some(events) = self.events.take() {
            events.abort();
        }
        if let Some((stop, relay)) = self.relay.take() {
            stop.notify_one();
            let _ = relay.await;
        }
        for slot in self.slots.iter() {
            match std::mem::replace(&mut *slot.lock().await, Role::Empty) {
                Role::Leading(led) => led.step_down(),
                Role::Following(followed) => followed.stop().await,
                Role::Empty => {}
            }
        }
    }
}

/// `shard`'s slot.
fn slot(slots: &[Mutex<Role>], shard: ShardId) -> &Mutex<Role> {
    &slots[shard.get() as usize]
}

/// The lease of `shard` is ours in `epoch`: lead it (following on and trying again while
/// the log is ahead of our state).
async fn take_lead(
    context: &Context,
    slots: &[Mutex<Role>],
    state: &Arc<AppState>,
    shard: ShardId,
    epoch: u64,
) {
    let mut role = slot(slots, shard).lock().await;
    for _ in 0..MAX_LEAD_TRIES {
        let followed = match std::mem::replace(&mut *role, Role::Empty) {
            Role::Following(followed) => followed,
            Role::Leading(led) if led.epoch == epoch => {
                *role = Role::Leading(led);
                return;
            }
            Role::Leading(led) => {
                led.step_down();
                shard::follow_from_start(context, shard).await
            }
            Role::Empty => shard::follow_from_start(context, shard).await,
        };
        // Catch up first: the epoch message is fenced on the tip the state holds.
        let _ = followed.engine.catch_up().await;
        // A writer of a later epoch has written the log: the lease was lost and taken since
        // `epoch` began (a paused node whose `Lost` has not arrived yet). The fence on the
        // sequence alone would let this node publish after it and depose the newer leader.
        let newest = followed.progress().leader_epoch;
        if newest > epoch {
            tracing::warn!(%shard, epoch, newest, "a later leader wrote the shard; not leading it");
            *role = Role::Following(followed);
            return;
        }
        match shard::lead(context, shard, followed, epoch, state).await {
            Ok(mut led) => {
                let services = context.services(shard, led.engine.clone());
                led.start_jobs(context, &services);
                state.shards.replace(shard.get(), services);
                metrics::counter!("stampede_cluster_leadership_changes_total", "change" => "acquired")
                    .increment(1);
                tracing::info!(%shard, epoch, "leading the shard");
                *role = Role::Leading(led);
                return;
            }
            Err(LeadError::Behind(mut followed)) => {
                let services = follower_services(context, shard, &mut followed);
                state.shards.replace(shard.get(), services);
                *role = Role::Following(followed);
            }
            Err(error) => {
                tracing::warn!(%shard, %error, "could not take the lead; following again");
                let mut followed = shard::follow_from_start(context, shard).await;
                let services = follower_services(context, shard, &mut followed);
                state.shards.replace(shard.get(), services);
                *role = Role::Following(followed);
                return;
            }
        }
    }
}

/// `shard` is no longer ours (or its writer failed): stop writing and follow it from a
/// fresh state.
async fn follow_again(
    context: &Context,
    slots: &[Mutex<Role>],
    state: &Arc<AppState>,
    shard: ShardId,
) {
    let mut role = slot(slots, shard).lock().await;
    let was_leading = matches!(*role, Role::Leading(_));
    match std::mem::replace(&mut *role, Role::Empty) {
        Role::Leading(led) => led.step_down(),
        Role::Following(followed) if !followed.failed() => {
            *role = Role::Following(followed);
            return;
        }
        Role::Following(followed) => followed.stop().await,
        Role::Empty => {}
    }
    if was_leading {
        metrics::counter!("stampede_cluster_leadership_changes_total", "change" => "lost")
            .increment(1);
        tracing::info!(%shard, "no longer leading the shard; following it");
    }
    let mut followed = shard::follow_from_start(context, shard).await;
    let services = follower_services(context, shard, &mut followed);
    state.shards.replace(shard.get(), services);
    *role = Role::Following(followed);
}

/// The connection, the log stream, the snapshot store and the transaction claims, each
/// opened (created if absent) once.
async fn open_jetstream(
    config: &NodeConfig,
) -> anyhow::Result<(
    Connection,
    async_nats::jetstream::stream::Stream,
    SnapshotStore,
    stampede_cluster::TxnClaims,
)> {
    let connection = Connection::connect(&config.nats, config.names.clone()).await?;
    let stream = connection.log_stream(config.replicas).await?;
    let snapshots = SnapshotStore::open(&connection, stream.clone(), config.replicas).await?;
    let txns = stampede_cluster::TxnClaims::open(&connection, config.replicas).await?;
    Ok((connection, stream, snapshots, txns))
}

/// `shard`'s services around `followed`'s engine, with the follower's jobs started on them.
fn follower_services(context: &Context, shard: ShardId, followed: &mut Followed) -> Services {
    let services = context.services(shard, followed.engine.clone());
    followed.start_jobs(context, &services);
    services
}

/// The watchdog: sets each shard's follower lag (log messages known but not applied yet; 0
/// where this node leads), and rebuilds what failed: a writer whose append the log refused
/// (fenced or unsettled) steps down and follows again — then leads again if the lease is
/// still ours; a failed follower is rebuilt.
async fn watch_over(
    context: &Context,
    slots: &[Mutex<Role>],
    state: &Arc<AppState>,
    held: &BTreeMap<ShardId, u64>,
) {
    for shard in context.shards.all() {
        let lag =
            metrics::gauge!("stampede_cluster_follower_lag_messages", "shard" => shard.to_string());
        let broken = match slot(slots, shard).try_lock() {
            Ok(role) => match &*role {
                Role::Leading(led) => {
                    lag.set(0.0);
                    led.engine.is_poisoned()
                }
                Role::Following(followed) => {
                    let progress = followed.progress();
                    lag.set(progress.last_seq.saturating_sub(progress.applied.last_seq) as f64);
                    followed.failed()
                }
                Role::Empty => true,
            },
            Err(_) => false, // a role change is under way
        };
        if !broken {
            continue;
        }
        metrics::counter!("stampede_cluster_shard_rebuilds_total").increment(1);
        tracing::warn!(%shard, "the shard's writer or follower failed; rebuilding it from the log");
        follow_again(context, slots, state, shard).await;
        if let Some(&epoch) = held.get(&shard) {
            take_lead(context, slots, state, shard, epoch).await;
        }
    }
}
