//! The leader's side of forwarding: while a node leads a shard it answers the shard's
//! command subject, deciding each forwarded command on its writer as if a client of its own
//! had sent it. At most [`MAX_FORWARDED_IN_FLIGHT`] are decided at once; one more is
//! answered `overloaded` at once (the follower's client gets 503, as on a full queue here).

use std::sync::Arc;

use futures_util::StreamExt;
use stampede_engine::{Engine, EngineError, RemoteDecision};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::wire;

/// Most forwarded commands decided at once by one shard's leader: the writer's own queue
/// bound ([`stampede_engine::MAX_PENDING_COMMANDS`]), so forwarding never queues more than a
/// local client could.
pub const MAX_FORWARDED_IN_FLIGHT: usize = stampede_engine::MAX_PENDING_COMMANDS;

/// Serves one shard's command subject until stopped.
pub(crate) struct CommandServer {
    task: JoinHandle<()>,
}

impl CommandServer {
    /// Subscribes to `subject` (answers from when this returns) and decides each command on
    /// `engine`.
    ///
    /// # Errors
    /// The subscription was refused.
    pub(crate) async fn start(
        client: async_nats::Client,
        subject: String,
        engine: Engine,
    ) -> Result<Self, async_nats::SubscribeError> {
        let mut commands = client.subscribe(subject).await?;
        let permits = Arc::new(Semaphore::new(MAX_FORWARDED_IN_FLIGHT));
        let task = tokio::spawn(async move {
            while let Some(message) = commands.next().await {
                let Some(reply) = message.reply else {
                    continue; // nobody to answer: a stray publish, not a request
                };
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    let busy: wire::Answer = Err(EngineError::Overloaded);
                    let _ = client
                        .publish(reply, wire::encode_answer(&busy).into())
                        .await;
                    continue;
                };
                let (client, engine) = (client.clone(), engine.clone());
                tokio::spawn(async move {
                    let answer = decide(&engine, &message.payload).await;
                    // A lost reply is the follower's timeout: outcome unknown, retry safe.
                    let _ = client
                        .publish(reply, wire::encode_answer(&answer).into())
                        .await;
                    drop(permit);
                });
            }
        });
        Ok(Self { task })
    }

    /// Stops answering (the subscription ends with the task).
    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

async fn decide(engine: &Engine, payload: &[u8]) -> wire::Answer {
    let command = wire::decode_command(payload).map_err(|error| {
        EngineError::Unavailable(format!("a forwarded command did not decode: {error}"))
    })?;
    let outcome = engine.decide(command).await?;
    Ok(RemoteDecision {
        outcome,
        log_position: engine.log_position(),
    })
}
