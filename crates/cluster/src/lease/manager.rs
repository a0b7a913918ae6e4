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

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinHandle;

use super::round::Round;
use super::{ClusterView, LeaseConfig, LeaseEvent};
use crate::connection::Connection;
use crate::error::NatsError;
use crate::names::NodeId;

/// Events queued per shard for the node: an `Acquired` and a `Lost` each. A node that does
/// not drain the queue stalls the manager, so its leases run out, which is right for a node
/// that stopped listening to them.
const EVENTS_PER_SHARD: usize = 2;

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
        let mut round = Round::new(
            leases,
            nodes,
            node,
            Bytes::from(address),
            config,
            sender,
            Arc::clone(&view),
        );
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
