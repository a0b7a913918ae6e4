//! Forwarded commands travel in batches. In a stampede a follower forwards thousands of grabs
//! a second to the same leader; one NATS request each would cost the NATS servers and both
//! nodes a message round trip per grab. Instead each follower engine queues its shard's
//! commands, and a task sends whatever has queued as one request (at most
//! [`MAX_FORWARD_BATCH`] commands) while earlier batches are still in flight (at most
//! [`MAX_BATCHES_IN_FLIGHT`]): the batch grows with the load, like the writer's own. The
//! leader decides a batch's commands together (they join the same group commit) and answers
//! them in one reply.

use std::sync::Arc;
use std::time::Duration;

use stampede_core::Command;
use stampede_engine::{EngineError, RemoteDecision};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::wire;

/// Most commands in one forwarded batch. A command encodes to at most ~480 bytes (a campaign
/// spec's 200-byte name, or a payment's 128-byte provider ids, or a grab's 128-byte key, and
/// the rest), so a batch stays
/// under the least `max_payload` a cluster's NATS may have (128 KiB, checked at connect); a
/// grab is ~90 bytes, so a batch of grabs is ~23 KiB.
pub const MAX_FORWARD_BATCH: usize = 256;
/// The most a command is taken to encode to (see [`MAX_FORWARD_BATCH`]).
pub(crate) const MAX_COMMAND_BYTES: usize = 480;
/// Most commands queued for forwarding per shard on a follower; one more is answered
/// `overloaded` at once (the writer's own queue bound).
pub const MAX_FORWARD_QUEUE: usize = stampede_engine::MAX_PENDING_COMMANDS;
/// Most batches of one shard in flight at once from one follower.
pub const MAX_BATCHES_IN_FLIGHT: usize = 2;
/// After no answer in time, how long a client is told to wait before retrying.
const RETRY_AFTER: Duration = Duration::from_secs(1);

const _: () = assert!(
    MAX_FORWARD_BATCH * MAX_COMMAND_BYTES <= stampede_cluster::limits::MIN_SERVER_MAX_PAYLOAD,
    "a batch fits the least max_payload"
);

type Answer = Result<RemoteDecision, EngineError>;

/// A follower engine's queue of commands for its shard's leader.
pub(crate) struct Batcher {
    queue: mpsc::Sender<(Command, oneshot::Sender<Answer>)>,
}

impl Batcher {
    /// Starts the task that sends batches on `subject`, each waiting at most `wait` for its
    /// answer. The task ends when the batcher is dropped (after its batches in flight).
    pub(crate) fn start(client: async_nats::Client, subject: String, wait: Duration) -> Self {
        let (queue, commands) = mpsc::channel(MAX_FORWARD_QUEUE);
        tokio::spawn(run(client, subject, wait, commands));
        Self { queue }
    }

    /// Forwards `command` with the next batch and answers the leader's decision.
    pub(crate) async fn decide(&self, command: Command) -> Answer {
        let (answer, answered) = oneshot::channel();
        self.queue
            .try_send((command, answer))
            .map_err(|refused| match refused {
                mpsc::error::TrySendError::Full(_) => EngineError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    EngineError::Unavailable("forwarding to the shard's leader stopped".into())
                }
            })?;
        answered.await.unwrap_or_else(|_| {
            Err(EngineError::Unavailable(
                "forwarding to the shard's leader stopped".into(),
            ))
        })
    }
}

async fn run(
    client: async_nats::Client,
    subject: String,
    wait: Duration,
    mut commands: mpsc::Receiver<(Command, oneshot::Sender<Answer>)>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_BATCHES_IN_FLIGHT));
    let mut batch = Vec::with_capacity(MAX_FORWARD_BATCH);
    while commands.recv_many(&mut batch, MAX_FORWARD_BATCH).await > 0 {
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return; // never closed
        };
        let (sent, waiters): (Vec<Command>, Vec<oneshot::Sender<Answer>>) = batch.drain(..).unzip();
        let (client, subject) = (client.clone(), subject.clone());
        tokio::spawn(async move {
            let answers = send(&client, subject, &sent, wait).await;
            for (waiter, answer) in waiters.into_iter().zip(answers) {
                let _ = waiter.send(answer); // its client may have gone
            }
            drop(permit);
        });
    }
}

/// One batch's request and the leader's answers, one per command, in order.
async fn send(
    client: &async_nats::Client,
    subject: String,
    commands: &[Command],
    wait: Duration,
) -> Vec<Answer> {
    let count = commands.len();
    let every = |answer: &dyn Fn() -> EngineError, outcome: &'static str| {
        metrics::counter!("stampede_cluster_forwarded_total", "outcome" => outcome)
            .increment(count as u64);
        (0..count).map(|_| Err(answer())).collect()
    };
    let asked = client.request(subject, wire::encode_commands(commands).into());
    let message = match tokio::time::timeout(wait, asked).await {
        // Sent, so maybe decided: outcome unknown, a retry is safe.
        Err(_) => {
            return every(
                &|| EngineError::Degraded {
                    retry_after: RETRY_AFTER,
                },
                "timeout",
            );
        }
        Ok(Err(error)) => {
            use async_nats::client::RequestErrorKind;
            return match error.kind() {
                RequestErrorKind::NoResponders => every(
                    &|| {
                        EngineError::Unavailable(
                            "no node leads the campaign's shard right now (a new leader is \
                             taking over); retry shortly"
                                .into(),
                        )
                    },
                    "no_leader",
                ),
                RequestErrorKind::TimedOut => every(
                    &|| EngineError::Degraded {
                        retry_after: RETRY_AFTER,
                    },
                    "timeout",
                ),
                _ => every(
                    &|| {
                        EngineError::Unavailable(format!(
                            "cannot reach the campaign's shard leader: {error}"
                        ))
                    },
                    "unreachable",
                ),
            };
        }
        Ok(Ok(message)) => message,
    };
    match wire::decode_answers(&message.payload) {
        Ok(answers) if answers.len() == count => {
            metrics::counter!("stampede_cluster_forwarded_total", "outcome" => "answered")
                .increment(count as u64);
            answers
        }
        // The leader answered something else than one answer a command: nothing can be told
        // of any (a retry is safe).
        Ok(_) | Err(_) => every(
            &|| EngineError::Degraded {
                retry_after: RETRY_AFTER,
            },
            "undecodable",
        ),
    }
}
