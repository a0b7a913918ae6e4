//! A shard's ledger rebuilt read-only for its reconciliation, the way a node starts the
//! shard: the newest snapshot in the object store, then every record of the log after it, up
//! to the log's tip as the read begins. A copy: the writer's state is never read (nor its
//! lock taken), and nothing is written to NATS.

use async_nats::jetstream::stream;
use stampede_cluster::{ShardId, SnapshotStore, read_records};
use stampede_core::Ledger;
use stampede_money::{LedgerSource, Replayed};

/// Tries at one replay: a leader may store a snapshot and trim the log below the older one
/// while a replay reads, so a replay that found its start trimmed begins again from the
/// newer snapshot.
const MAX_REPLAY_TRIES: u32 = 3;

/// Most reconciliation replays at once on one node, whatever the shards it leads: each holds
/// a second copy of its shard's ledger and a CPU for as long as it reads (seconds at a
/// million orders). A replay waits its turn for the permit (each shard runs one at a time
/// already, and its periodic tick skips while one is in progress).
pub(crate) const MAX_REPLAYS_PER_NODE: usize = 1;

/// Where a cluster shard's reconciliation gets its ledger.
pub(crate) struct ShardReplay {
    pub(crate) shard: ShardId,
    pub(crate) stream: stream::Stream,
    pub(crate) subject: String,
    pub(crate) snapshots: SnapshotStore,
    /// The node's runtime: the replay runs in a blocking thread and reads NATS through it.
    pub(crate) runtime: tokio::runtime::Handle,
    /// The node's replay permits ([`MAX_REPLAYS_PER_NODE`]).
    pub(crate) permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for ShardReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardReplay")
            .field("shard", &self.shard)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl LedgerSource for ShardReplay {
    /// # Panics
    /// If called from an async task rather than a blocking thread (`block_on` forbids it).
    fn replay(&self) -> anyhow::Result<Replayed> {
        // Held until the replay ends; never closed.
        let _permit = self
            .runtime
            .block_on(self.permits.acquire())
            .map_err(|_| anyhow::anyhow!("the node's replay permits were closed"))?;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.runtime.block_on(self.replay_once()) {
                Ok(replayed) => return Ok(replayed),
                Err(error) if tries < MAX_REPLAY_TRIES => {
                    tracing::warn!(shard = %self.shard, %error, "shard replay for reconciliation failed; trying again");
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl ShardReplay {
    async fn replay_once(&self) -> anyhow::Result<Replayed> {
        let (mut ledger, from) = match self.snapshots.latest(self.shard).await? {
            Some(snapshot) => (
                Ledger::restore(&snapshot.state).map_err(|error| {
                    anyhow::anyhow!("shard {}'s newest snapshot: {error}", self.shard)
                })?,
                snapshot.tip.next_position,
            ),
            None => (Ledger::new(), 0),
        };
        let mut records = 0;
        read_records(&self.stream, &self.subject, from, &mut |_, payload| {
            stampede_engine::apply_record(&mut ledger, payload)?;
            records += 1;
            Ok(())
        })
        .await?;
        Ok(Replayed { ledger, records })
    }
}
