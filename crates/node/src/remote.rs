//! A follower engine's link to its shard's leader ([`stampede_engine::RemoteWriter`]): a
//! command is a NATS request on the shard's command subject, served by whichever node holds
//! the shard's lease; a read that must be current waits until this node's follower has
//! applied the log's tip as it was when the read began.

use std::time::Duration;

use async_nats::jetstream::stream;
use stampede_cluster::Progress;
use stampede_core::Command;
use stampede_engine::{EngineError, RemoteDecision, RemoteFuture, RemoteWriter};
use tokio::sync::watch;

use crate::wire;

/// How long a forwarded command may wait for the leader's answer past the leader's own
/// journal reply timeout (the NATS round trip, the leader's queue).
pub(crate) const FORWARD_MARGIN: Duration = Duration::from_secs(1);
/// After no answer in time, how long a client is told to wait before retrying.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The link of one shard's follower engine.
pub(crate) struct NatsRemote {
    pub(crate) client: async_nats::Client,
    /// The shard's command subject.
    pub(crate) subject: String,
    /// The log stream and the shard's subject in it (for the tip a read catches up to).
    pub(crate) stream: stream::Stream,
    pub(crate) log_subject: String,
    /// The follower's progress.
    pub(crate) progress: watch::Receiver<Progress>,
    /// The leader's journal reply timeout (its answer comes within it, or `degraded`).
    pub(crate) reply_timeout: Duration,
    /// Longest wait for this node to catch up before a read answers 503.
    pub(crate) catch_up_timeout: Duration,
}

impl RemoteWriter for NatsRemote {
    fn decide(&self, command: Command) -> RemoteFuture<RemoteDecision> {
        let client = self.client.clone();
        let subject = self.subject.clone();
        let wait = self.reply_timeout + FORWARD_MARGIN;
        Box::pin(async move {
            let payload = wire::encode_command(&command);
            let asked = client.request(subject, payload.into());
            let answered = match tokio::time::timeout(wait, asked).await {
                Err(_) => {
                    metrics::counter!("stampede_cluster_forwarded_total", "outcome" => "timeout")
                        .increment(1);
                    // Sent, so it may have been decided: outcome unknown, a retry is safe.
                    return Err(EngineError::Degraded {
                        retry_after: RETRY_AFTER,
                    });
                }
                Ok(answered) => answered,
            };
            let message = answered.map_err(|error| {
                metrics::counter!("stampede_cluster_forwarded_total", "outcome" => "no_leader")
                    .increment(1);
                use async_nats::client::RequestErrorKind;
                match error.kind() {
                    RequestErrorKind::NoResponders => EngineError::Unavailable(
                        "no node leads the campaign's shard right now (a new leader is taking \
                         over); retry shortly"
                            .into(),
                    ),
                    RequestErrorKind::TimedOut => EngineError::Degraded {
                        retry_after: RETRY_AFTER,
                    },
                    _ => EngineError::Unavailable(format!(
                        "cannot reach the campaign's shard leader: {error}"
                    )),
                }
            })?;
            metrics::counter!("stampede_cluster_forwarded_total", "outcome" => "answered")
                .increment(1);
            wire::decode_answer(&message.payload)
        })
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
