//! Shard leadership: one leader per shard by a lease in a JetStream key-value bucket.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::names::NodeId;
use crate::shard::{ShardCount, ShardId};

mod manager;
mod plan;
mod round;

pub use manager::LeaseManager;
pub use plan::{Plan, Rules, View, rank};

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
