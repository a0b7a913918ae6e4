//! One round of a node's lease loop, every `lease / 3`: refresh the node's own key, renew the
//! leases it holds (reporting `Lost` for one whose deadline passed), read the live nodes, and
//! take or give up shards as [`super::plan`] says.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_nats::jetstream::kv::{self, Operation, UpdateErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use super::plan::{Rules, View};
use super::{ClusterView, LeaseConfig, LeaseEvent};
use crate::limits::MAX_NODES;
use crate::names::{Names, NodeId};
use crate::shard::ShardId;

/// A held lease.
struct Held {
    revision: u64,
    epoch: u64,
    /// When this node stops believing it leads, barring a renewal.
    deadline: Instant,
}

/// One node's lease state and the work of one round.
pub(super) struct Round {
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
pub(super) struct Closed;

impl Round {
    /// A node's lease state before its first round: nothing held, nothing seen free.
    pub(super) fn new(
        leases: kv::Store,
        nodes: kv::Store,
        node: NodeId,
        address: Bytes,
        config: LeaseConfig,
        events: mpsc::Sender<LeaseEvent>,
        view: Arc<Mutex<ClusterView>>,
    ) -> Self {
        Self {
            leases,
            nodes,
            node,
            address,
            config,
            rules: Rules {
                shards: config.shards,
                stagger: config.lease / 4,
            },
            held: BTreeMap::new(),
            free_since: BTreeMap::new(),
            events,
            view,
        }
    }

    /// The lease value: this node's id.
    fn node_value(&self) -> Bytes {
        Bytes::copy_from_slice(self.node.as_str().as_bytes())
    }

    pub(super) async fn run(&mut self) -> Result<(), Closed> {
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

    pub(super) async fn release_all(&mut self) {
        let shards: Vec<ShardId> = self.held.keys().copied().collect();
        for shard in shards {
            if self.release(shard).await.is_err() {
                self.held.remove(&shard);
            }
        }
        let _ = self.nodes.delete(self.node.as_str()).await;
    }
}
