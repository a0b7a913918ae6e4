//! What every shard's role change needs, shared by the node's tasks.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream;
use stampede_api::state::Services;
use stampede_cluster::{Connection, Names, NodeId, ShardCount, ShardId, SnapshotStore};
use stampede_engine::{Clock, Engine, JournalGuard, JournalGuardConfig};

use crate::ServiceFactory;
use crate::replay::ShardReplay;

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
    /// Reconciliation replays running on this node ([`crate::replay::MAX_REPLAYS_PER_NODE`]).
    pub(crate) replays: Arc<tokio::sync::Semaphore>,
    /// The cluster's transaction claims, handed to every shard's payments.
    pub(crate) txns: Arc<dyn stampede_money::TxnRegistry>,
}

impl Context {
    pub(crate) fn names(&self) -> &Names {
        self.connection.names()
    }

    /// `shard`'s services around `engine`, from the factory, with the shard's read-only
    /// replay (snapshot and log, on this node's runtime) for its reconciliation.
    pub(crate) fn services(&self, shard: ShardId, engine: Engine) -> Services {
        let replay = ShardReplay {
            shard,
            stream: self.stream.clone(),
            subject: self.names().log_subject(shard),
            snapshots: self.snapshots.clone(),
            runtime: tokio::runtime::Handle::current(),
            permits: Arc::clone(&self.replays),
        };
        let txns = Arc::clone(&self.txns);
        self.factory.services(shard, engine, Arc::new(replay), txns)
    }

    /// A journal guard for one shard's engine (the config was validated at start).
    pub(crate) fn journal_guard(&self) -> JournalGuard {
        JournalGuard::new(self.guard.clone(), Arc::clone(&self.clock))
            .expect("the journal guard's config was validated when the node started")
    }
}
