//! What every shard's role change needs, shared by the node's tasks.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream;
use stampede_cluster::{Connection, Names, NodeId, ShardCount, SnapshotStore};
use stampede_engine::{Clock, JournalGuard, JournalGuardConfig};

use crate::ServiceFactory;

pub(crate) struct Context {
    pub(crate) connection: Connection,
    pub(crate) stream: stream::Stream,
    pub(crate) node: NodeId,
    pub(crate) shards: ShardCount,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng_seed: Option<u64>,
    pub(crate) guard: JournalGuardConfig,
    pub(crate) catch_up_timeout: Duration,
    pub(crate) factory: Arc<dyn ServiceFactory>,
    /// Where shard leaders keep snapshots, and new followers start from.
    pub(crate) snapshots: SnapshotStore,
    /// Records between a leader's snapshots.
    pub(crate) snapshot_every_records: u64,
}

impl Context {
    pub(crate) fn names(&self) -> &Names {
        self.connection.names()
    }

    /// A journal guard for one shard's engine (the config was validated at start).
    pub(crate) fn journal_guard(&self) -> JournalGuard {
        JournalGuard::new(self.guard.clone(), Arc::clone(&self.clock))
            .expect("the journal guard's config was validated when the node started")
    }
}
