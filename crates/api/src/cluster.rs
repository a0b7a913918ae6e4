//! What a cluster node tells about the cluster: `GET /v1/admin/cluster`, and the node id and
//! catch-up state `/healthz` shows. A single node has none ([`AppState::cluster`] unset).
//!
//! [`AppState::cluster`]: crate::state::AppState::cluster

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

/// `GET /v1/admin/cluster`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterJson {
    /// The node that answered.
    pub node_id: String,
    /// The live nodes (their keys in the node bucket have not expired).
    pub nodes: Vec<ClusterNodeJson>,
    /// Every shard.
    pub shards: Vec<ClusterShardJson>,
}

/// A live node.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterNodeJson {
    /// Its id.
    pub node_id: String,
    /// The HTTP address it advertises.
    pub address: String,
    /// When the answering node last saw it live (Unix milliseconds).
    pub last_seen: u64,
}

/// A shard, as the answering node sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterShardJson {
    /// The shard's number.
    pub shard: u32,
    /// The node that holds its lease (`null`: none now).
    pub leader: Option<String>,
    /// Stream sequence of the last log message the answering node applied (a leader has
    /// applied everything it wrote).
    pub applied_seq: u64,
    /// The last sequence the answering node knows the shard's log holds.
    pub last_seq: u64,
}

/// A boxed future answering a [`ClusterStatus`] report.
pub type ReportFuture<'a> = Pin<Box<dyn Future<Output = ClusterJson> + Send + 'a>>;

/// The cluster as a node sees it (implemented by the node).
pub trait ClusterStatus: Send + Sync + std::fmt::Debug + 'static {
    /// This node's id.
    fn node_id(&self) -> &str;
    /// Whether every shard this node follows has applied its log as far as it knows it goes.
    fn caught_up(&self) -> bool;
    /// The whole report.
    fn report(&self) -> ReportFuture<'_>;
    /// Has the leader of `shard` answer a grab under an `Idempotency-Key`, so that the key's
    /// first decision is kept in one place, the shard's leader, whichever node takes the
    /// request and its retries ([`crate::handlers::keyed_grab::as_leader`] there).
    fn forward_keyed_grab(
        &self,
        shard: u32,
        campaign: stampede_core::CampaignId,
        user: stampede_core::UserId,
        key: String,
    ) -> KeyedFuture;
}

/// A keyed grab as the shard's leader answered it ([`ClusterStatus::forward_keyed_grab`]):
/// its code (for the grab counters), status and JSON body, passed on to the client as they
/// are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyedAnswer {
    /// The answer's code (an outcome or an error code).
    pub code: String,
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// A boxed future answering a forwarded keyed grab (`Err`: the leader could not be asked, or
/// gave no answer in time).
pub type KeyedFuture = Pin<Box<dyn Future<Output = Result<KeyedAnswer, String>> + Send>>;
