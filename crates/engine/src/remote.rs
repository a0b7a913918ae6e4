//! A follower's way to its shard's writer. On a cluster node, a shard this node does not lead
//! has a follower's engine ([`crate::Engine::follower`]): it answers reads from the state it
//! applies from the shard's log, and hands every command to a [`RemoteWriter`] — the node's
//! link to the shard's leader — instead of a writer of its own. The caller cannot tell: the
//! command is decided by the one writer of the shard, durable in its log before it is
//! answered, and answered here only once this node has applied it too, so what the caller
//! reads next on this node shows it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use stampede_core::{Command, Outcome};

use crate::error::EngineError;

/// What the shard's leader decided, and the log position that holds it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteDecision {
    /// The outcome, as the leader's engine answered it.
    pub outcome: Outcome,
    /// The shard log's next position after the batch that decided it (for a decision that
    /// wrote nothing, the position when it was decided): a follower that has applied up to
    /// it shows everything the leader had acknowledged by then.
    pub log_position: u64,
}

/// A boxed future answering a [`RemoteWriter`] call.
pub type RemoteFuture<T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send>>;

/// The link from a follower's engine to its shard's writer (implemented by the cluster
/// node over NATS request-reply).
pub trait RemoteWriter: Send + Sync + 'static {
    /// Has the shard's leader decide `command`. Errors are the leader's own (`Overloaded`,
    /// `Degraded`, `Unavailable`) or the link's: no leader now, or no answer in time
    /// (`Unavailable`: a retry is safe, as after any write that was not answered).
    fn decide(&self, command: Command) -> RemoteFuture<RemoteDecision>;

    /// Waits until this node has applied every record the shard's log held when called (a
    /// read that must show every write acknowledged before it began).
    fn catch_up(&self) -> RemoteFuture<()>;
}

/// A shared [`RemoteWriter`].
pub type SharedRemote = Arc<dyn RemoteWriter>;
