//! The node's view of the cluster for `GET /v1/admin/cluster` and `/healthz`
//! ([`stampede_api::cluster::ClusterStatus`]).

use std::sync::Arc;

use stampede_api::cluster::{
    ClusterJson, ClusterNodeJson, ClusterShardJson, ClusterStatus, KeyedFuture, ReportFuture,
};
use stampede_cluster::ClusterView;
use tokio::sync::Mutex;

use crate::context::Context;
use crate::serve::keyed_subject;
use crate::shard::Role;
use crate::wire;

/// The lease manager's last view, and when it was taken (Unix milliseconds).
pub(crate) type SeenView = Arc<parking_lot::Mutex<(ClusterView, u64)>>;

pub(crate) struct NodeStatus {
    pub(crate) context: Arc<Context>,
    pub(crate) slots: Arc<Vec<Mutex<Role>>>,
    pub(crate) view: SeenView,
}

impl std::fmt::Debug for NodeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStatus")
            .field("node", &self.context.node)
            .finish_non_exhaustive()
    }
}

impl ClusterStatus for NodeStatus {
    fn node_id(&self) -> &str {
        self.context.node.as_str()
    }

    fn caught_up(&self) -> bool {
        self.slots.iter().all(|slot| match slot.try_lock() {
            Ok(role) => match &*role {
                Role::Following(followed) => {
                    let progress = followed.progress();
                    progress.applied.last_seq >= progress.last_seq
                }
                Role::Leading(_) => true,
                Role::Empty => false,
            },
            Err(_) => false, // changing roles
        })
    }

    fn forward_keyed_grab(
        &self,
        shard: u32,
        campaign: stampede_core::CampaignId,
        user: stampede_core::UserId,
        key: String,
    ) -> KeyedFuture {
        let client = self.context.connection.client().clone();
        let subject = keyed_subject(
            &self
                .context
                .names()
                .command_subject(stampede_cluster::ShardId::new(shard)),
        );
        let wait = self.context.guard.journal_reply_timeout + crate::remote::FORWARD_MARGIN;
        Box::pin(async move {
            let payload = wire::encode_keyed(&(campaign, user, key));
            let asked = client.request(subject, payload.into());
            match tokio::time::timeout(wait, asked).await {
                Err(_) => Err(
                    "the campaign's shard leader did not answer in time; retry with the same key"
                        .into(),
                ),
                Ok(Err(error)) => Err(format!(
                    "no node leads the campaign's shard right now; retry shortly ({error})"
                )),
                Ok(Ok(message)) => wire::decode_keyed_answer(&message.payload),
            }
        })
    }

    fn report(&self) -> ReportFuture<'_> {
        Box::pin(async move {
            let (view, seen) = self.view.lock().clone();
            let nodes = view
                .nodes
                .iter()
                .map(|(node, address)| ClusterNodeJson {
                    node_id: node.as_str().to_owned(),
                    address: address.clone(),
                    last_seen: seen,
                })
                .collect();
            let mut shards = Vec::new();
            for shard in self.context.shards.all() {
                // A shard changing roles (which can take up to the lease) shows 0 and 0 rather
                // than holding up the report.
                let Ok(role) = self.slots[shard.get() as usize].try_lock() else {
                    shards.push(ClusterShardJson {
                        shard: shard.get(),
                        leader: view.leaders.get(&shard).cloned(),
                        applied_seq: 0,
                        last_seq: 0,
                    });
                    continue;
                };
                let (applied_seq, last_seq) = match &*role {
                    Role::Following(followed) => {
                        let progress = followed.progress();
                        (progress.applied.last_seq, progress.last_seq)
                    }
                    Role::Leading(_) => {
                        let subject = self.context.names().log_subject(shard);
                        let tip = stampede_cluster::tip(&self.context.stream, &subject).await;
                        let last = tip.map(|tip| tip.last_seq).unwrap_or(0);
                        (last, last)
                    }
                    Role::Empty => (0, 0),
                };
                shards.push(ClusterShardJson {
                    shard: shard.get(),
                    leader: view.leaders.get(&shard).cloned(),
                    applied_seq,
                    last_seq,
                });
            }
            ClusterJson {
                node_id: self.context.node.as_str().to_owned(),
                nodes,
                shards,
            }
        })
    }
}
