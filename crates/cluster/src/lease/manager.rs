//! The lease manager: takes, renews and gives up shard leases in the lease bucket, and
//! reports `Acquired(shard, epoch)` / `Lost(shard)` to the node.
//!
//! A lease is the shard's key in the bucket, its value the leader's node id:
//! - **acquire** = create-if-absent; the revision it got is the leader's **epoch** (bucket
//!   revisions only grow, so a later leader always has a larger epoch);
//! - **renew** = update with the last revision (compare-and-set) every `lease / 3`;
//! - **expiry** = the bucket's `max_age`: the server removes an entry `lease` after its last
//!   write, and only then can another node create the key. Candidates read no clock: the
//!   server decides. The holder counts `lease × 0.9` from the moment it *sent* its last
//!   successful renewal (before the server stored it, so before the server's countdown
//!   began) on its own monotonic clock and reports `Lost` when that runs out without a
//!   renewal. It relies on the two clocks running at about the same rate (10% margin), not
//!   on their readings. A holder that cannot act (paused, partitioned) may still believe
//!   it leads for a while after that: the log's fencing (the new leader's epoch message)
//!   is what makes its appends fail, so two writers never both commit.
//!
//! Live nodes are keys in the node bucket, refreshed each round and expiring after the
//! lease; which shards to take or give up comes from `plan.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation, UpdateErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::plan::{Rules, View};
use crate::connection::Connection;
use crate::error::NatsError;
use crate::limits::MAX_NODES;
use crate::names::{Names, NodeId};
use crate::shard::{ShardCount, ShardId};

/// Events queued per shard for the node: an `Acquired` and a `Lost` each. A node that does
/// not drain the queue stalls the manager, so its leases run out, which is right for a node
/// that stopped listening to them.
const EVENTS_PER_SHARD: usize = 2;

/// What the manager tells the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEvent {
    /// This node now leads `shard`, in `epoch`: follow the log to its tip, then
    /// `NatsLog::begin` with this epoch.
    Acquired {
        /// The shard.
        shard: ShardId,
        /// The lease's creation revision.
        epoch: u64,
    },
    /// This node no longer leads `shard`: stop writing it at once (the next append would be
    /// fenced anyway) and rebuild it as a follower.
    Lost {
        /// The shard.
        shard: ShardId,
    },
}

/// Lease timing and shape.
#[derive(Clone, Copy, Debug)]
pub struct LeaseConfig {
    /// How long a lease lasts unrenewed (`leader_lease_ms`, default 3,000 ms).
    pub lease: Duration,
    /// The cluster's shards.
    pub shards: ShardCount,
    /// Replicas of the lease and node buckets.
    pub replicas: usize,
}

/// Who leads what, as last seen (for `/v1/admin/cluster`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Live nodes with the address each advertises.
    pub nodes: BTreeMap<NodeId, String>,
    /// Each shard's leader, for shards that have one.
    pub leaders: BTreeMap<ShardId, String>,
}

/// A held lease.
struct Held {
    revision: u64,
    epoch: u64,
    /// When this node stops believing it leads, barring a renewal.
    deadline: Instant,
}

/// The running manager.
pub struct LeaseManager {
    events: mpsc::Receiver<LeaseEvent>,
    view: Arc<Mutex<ClusterView>>,
    shutdown: Arc<Notify>,
    task: JoinHandle<()>,
}

impl LeaseManager {
    /// Starts managing leases for `node` (advertising `address`).
    ///
    /// # Errors
    /// [`NatsError`] if the buckets cannot be opened or created.
    pub async fn start(
        connection: &Connection,
        node: NodeId,
        address: String,
        config: LeaseConfig,
    ) -> Result<Self, NatsError> {
        let leases = connection
            .lease_bucket(config.lease, config.replicas)
            .await?;
        let nodes = connection
            .node_bucket(config.lease, config.replicas)
            .await?;
        let (sender, events) = mpsc::channel(EVENTS_PER_SHARD * config.shards.get() as usize);
        let view = Arc::new(Mutex::new(ClusterView::default()));
        let shutdown = Arc::new(Notify::new());
        let mut round = Round {
            leases,
            nodes,
            node,
            address: Bytes::from(address),
            config,
            rules: Rules {
                shards: config.shards,
                stagger: config.lease / 4,
            },
            held: BTreeMap::new(),
            free_since: BTreeMap::new(),
            events: sender,
            view: Arc::clone(&view),
        };
        let stop = Arc::clone(&shutdown);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(config.lease / 3);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.notified() => break,
                    _ = ticks.tick() => {}
                }
                if round.run().await.is_err() {
                    break; // the node stopped listening
                }
            }
            round.release_all().await;
        });
        Ok(Self {
            events,
            view,
            shutdown,
            task,
        })
    }

    /// The next event; `None` once the manager has stopped.
    pub async fn next_event(&mut self) -> Option<LeaseEvent> {
        self.events.recv().await
    }

    /// Who leads what, as last seen.
    pub async fn view(&self) -> ClusterView {
        self.view.lock().await.clone()
    }

    /// Stops renewing, gives up every held lease (so others take over at once, not after the
    /// lease), and answers the `Lost` events that were still queued.
    pub async fn shutdown(mut self) -> Vec<LeaseEvent> {
        self.shutdown.notify_one();
        let mut rest = Vec::new();
        // Drain while the task finishes, so it never waits on a full queue.
        let mut task = self.task;
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => rest.push(event),
                    None => break,
                },
                _ = &mut task => {
                    while let Ok(event) = self.events.try_recv() {
                        rest.push(event);
                    }
                    break;
                }
            }
        }
        rest
    }

    /// Stops the manager without giving up its leases (as if the node froze): they run out
    /// after the lease. For tests of expiry and takeover.
    pub fn abandon(self) {
        self.task.abort();
    }
}

/// One node's lease state and the work of one round.
struct Round {
    leases: kv::Store,
    nodes: kv::Store,
    node: NodeId,
    address: Bytes,
    config: LeaseConfig,
    rules: Rules,
    held: BTreeMap<ShardId, Held>,
    free_since: BTreeMap<ShardId, Instant>,
    events: mpsc::Sender<LeaseEvent>,
    view: Arc<Mutex<ClusterView>>,
}

/// The node dropped its event receiver.
struct Closed;

impl Round {
    /// The lease value: this node's id.
    fn node_value(&self) -> Bytes {
        Bytes::copy_from_slice(self.node.as_str().as_bytes())
    }

    async fn run(&mut self) -> Result<(), Closed> {
        if let Err(error) = self
            .nodes
            .put(self.node.as_str(), self.address.clone())
            .await
        {
            tracing::warn!(%error, "refreshing this node's liveness failed");
        }
        self.renew().await?;
        let live = self.live_nodes().await;
        self.scan(&live).await;
        let held: BTreeSet<ShardId> = self.held.keys().copied().collect();
        let plan = self.rules.plan(&View {
            me: &self.node,
            live: &live.keys().cloned().collect(),
            held: &held,
            free_since: &self.free_since,
            now: Instant::now(),
        });
        if let Some(shard) = plan.release {
            self.release(shard).await?;
        }
        for shard in plan.acquire {
            self.acquire(shard).await?;
        }
        Ok(())
    }

    /// Renews every held lease; reports `Lost` for those taken or run out.
    async fn renew(&mut self) -> Result<(), Closed> {
        let shards: Vec<ShardId> = self.held.keys().copied().collect();
        for shard in shards {
            let key = Names::lease_key(shard);
            let revision = self.held[&shard].revision;
            let sent = Instant::now();
            match self.leases.update(&key, self.node_value(), revision).await {
                Ok(revision) => {
                    let held = self.held.get_mut(&shard).expect("held");
                    held.revision = revision;
                    held.deadline = sent + self.config.lease.mul_f64(0.9);
                }
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => {
                    // An earlier renewal whose answer was lost may have been stored: still
                    // ours if the value is this node's (no one else writes it while held).
                    match self.leases.entry(&key).await {
                        Ok(Some(entry))
                            if entry.operation == Operation::Put
                                && entry.value == self.node.as_str().as_bytes() =>
                        {
                            self.held.get_mut(&shard).expect("held").revision = entry.revision;
                        }
                        _ => self.lose(shard).await?,
                    }
                }
                Err(error) => {
                    tracing::warn!(%shard, %error, "lease renewal failed; retrying next round");
                }
            }
        }
        let now = Instant::now();
        let expired: Vec<ShardId> = self
            .held
            .iter()
            .filter(|(_, held)| held.deadline <= now)
            .map(|(shard, _)| *shard)
            .collect();
        for shard in expired {
            self.lose(shard).await?;
        }
        Ok(())
    }

    async fn lose(&mut self, shard: ShardId) -> Result<(), Closed> {
        self.held.remove(&shard);
        tracing::warn!(%shard, "shard lease lost");
        self.events
            .send(LeaseEvent::Lost { shard })
            .await
            .map_err(|_| Closed)
    }

    /// Live nodes and their addresses (at most [`MAX_NODES`]).
    async fn live_nodes(&self) -> BTreeMap<NodeId, String> {
        let mut live = BTreeMap::new();
        live.insert(
            self.node.clone(),
            String::from_utf8_lossy(&self.address).into_owned(),
        );
        let Ok(keys) = self.nodes.keys().await else {
            return live;
        };
        let keys: Vec<String> = keys
            .take(MAX_NODES)
            .filter_map(|key| async { key.ok() })
            .collect()
            .await;
        for key in keys {
            let (Ok(node), Ok(Some(address))) = (NodeId::parse(&key), self.nodes.get(&key).await)
            else {
                continue;
            };
            live.insert(node, String::from_utf8_lossy(&address).into_owned());
        }
        live
    }

    /// Reads every shard's lease: which are free (and since when), who leads the others.
    async fn scan(&mut self, live: &BTreeMap<NodeId, String>) {
        let mut leaders = BTreeMap::new();
        let now = Instant::now();
        for shard in self.config.shards.all() {
            if self.held.contains_key(&shard) {
                leaders.insert(shard, self.node.to_string());
                self.free_since.remove(&shard);
                continue;
            }
            match self.leases.entry(Names::lease_key(shard)).await {
                Ok(Some(entry)) if entry.operation == Operation::Put => {
                    self.free_since.remove(&shard);
                    leaders.insert(shard, String::from_utf8_lossy(&entry.value).into_owned());
                }
                Ok(_) => {
                    self.free_since.entry(shard).or_insert(now);
                }
                Err(error) => tracing::debug!(%shard, %error, "reading a lease failed"),
            }
        }
        *self.view.lock().await = ClusterView {
            nodes: live.clone(),
            leaders,
        };
    }

    async fn acquire(&mut self, shard: ShardId) -> Result<(), Closed> {
        let sent = Instant::now();
        match self
            .leases
            .create(Names::lease_key(shard), self.node_value())
            .await
        {
            Ok(revision) => {
                self.free_since.remove(&shard);
                self.held.insert(
                    shard,
                    Held {
                        revision,
                        epoch: revision,
                        deadline: sent + self.config.lease.mul_f64(0.9),
                    },
                );
                tracing::info!(%shard, epoch = revision, "shard lease acquired");
                self.events
                    .send(LeaseEvent::Acquired {
                        shard,
                        epoch: revision,
                    })
                    .await
                    .map_err(|_| Closed)
            }
            Err(error) => {
                tracing::debug!(%shard, %error, "taking a free lease failed (another node won)");
                self.free_since.remove(&shard);
                Ok(())
            }
        }
    }

    /// Gives up `shard`: `Lost` first (the node stops writing), then the key is deleted if
    /// still ours, so the next leader need not wait for the lease to run out.
    async fn release(&mut self, shard: ShardId) -> Result<(), Closed> {
        let Some(held) = self.held.get(&shard) else {
            return Ok(());
        };
        let revision = held.revision;
        tracing::info!(%shard, epoch = held.epoch, "giving up a shard lease (over the fair share)");
        self.lose(shard).await?;
        if let Err(error) = self
            .leases
            .delete_expect_revision(Names::lease_key(shard), Some(revision))
            .await
        {
            tracing::debug!(%shard, %error, "deleting a released lease failed; it runs out instead");
        }
        Ok(())
    }

    async fn release_all(&mut self) {
        let shards: Vec<ShardId> = self.held.keys().copied().collect();
        for shard in shards {
            if self.release(shard).await.is_err() {
                self.held.remove(&shard);
            }
        }
        let _ = self.nodes.delete(self.node.as_str()).await;
    }
}
