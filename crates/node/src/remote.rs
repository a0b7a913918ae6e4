//! A follower engine's link to its shard's leader ([`stampede_engine::RemoteWriter`]): its
//! commands go in batches ([`Batcher`]) as NATS requests on the shard's command subject,
//! served by whichever node holds the shard's lease; a read that must be current waits until this node's follower has
//! applied the log's tip as it was when the read began.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream;
use stampede_cluster::Progress;
use stampede_core::Command;
use stampede_engine::{EngineError, RemoteDecision, RemoteFuture, RemoteWriter};
use tokio::sync::watch;

use crate::batcher::Batcher;

/// How long a forwarded command may wait for the leader's answer past the leader's own
/// journal reply timeout (the NATS round trip, the leader's queue).
pub(crate) const FORWARD_MARGIN: Duration = Duration::from_secs(1);

/// The link of one shard's follower engine.
pub(crate) struct NatsRemote {
    /// Sends the commands to the shard's leader, in batches.
    pub(crate) batcher: Arc<Batcher>,
    /// The log stream and the shard's subject in it (for the tip a read catches up to).
    pub(crate) stream: stream::Stream,
    pub(crate) log_subject: String,
    /// The follower's progress.
    pub(crate) progress: watch::Receiver<Progress>,
    /// Longest wait for this node to catch up before a read answers 503.
    pub(crate) catch_up_timeout: Duration,
}

impl RemoteWriter for NatsRemote {
    fn decide(&self, command: Command) -> RemoteFuture<RemoteDecision> {
        let batcher = Arc::clone(&self.batcher);
        Box::pin(async move { batcher.decide(command).await })
    }

    fn catch_up(&self) -> RemoteFuture<()> {
        let stream = self.stream.clone();
        let subject = self.log_subject.clone();
        let mut progress = self.progress.clone();
        let timeout = self.catch_up_timeout;
        Box::pin(async move {
            let behind = || EngineError::Unavailable("this node is behind the shard's log".into());
            let tip = tokio::time::timeout(timeout, stampede_cluster::tip(&stream, &subject))
                .await
                .map_err(|_| behind())?
                .map_err(|error| {
                    EngineError::Unavailable(format!("cannot read the shard's log: {error}"))
                })?;
            let reached = progress.wait_for(|p| p.applied.last_seq >= tip.last_seq);
            match tokio::time::timeout(timeout, reached).await {
                Ok(Ok(_)) => Ok(()),
                _ => Err(behind()),
            }
        })
    }
}
