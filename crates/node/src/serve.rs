//! The leader's side of forwarding: while a node leads a shard it answers the shard's
//! command subject, deciding each forwarded command on its writer as if a client of its own
//! had sent it. At most [`MAX_FORWARDED_IN_FLIGHT`] are decided at once; one more is
//! answered `overloaded` at once (the follower's client gets 503, as on a full queue here).

use std::sync::Arc;

use futures_util::StreamExt;
use stampede_core::Command;
use stampede_engine::{Engine, EngineError, RemoteDecision};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use stampede_api::cluster::KeyedAnswer;
use stampede_api::handlers::keyed_grab;
use stampede_api::state::AppState;

use crate::wire;

/// Most forwarded commands decided at once by one shard's leader: the writer's own queue
/// bound ([`stampede_engine::MAX_PENDING_COMMANDS`]), so forwarding never queues more than a
/// local client could; a batch that would pass it is answered `overloaded` whole.
pub const MAX_FORWARDED_IN_FLIGHT: usize = stampede_engine::MAX_PENDING_COMMANDS;

/// Serves one shard's command subject (and its keyed grabs' subject) until stopped.
pub(crate) struct CommandServer {
    task: JoinHandle<()>,
    keyed: JoinHandle<()>,
}

/// The subject of a shard's forwarded keyed grabs, beside its command subject.
pub(crate) fn keyed_subject(command_subject: &str) -> String {
    format!("{command_subject}.keyed")
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
        state: Arc<AppState>,
    ) -> Result<Self, async_nats::SubscribeError> {
        let keyed = client.subscribe(keyed_subject(&subject)).await?;
        let keyed = tokio::spawn(serve_keyed(client.clone(), keyed, state));
        let mut commands = client.subscribe(subject).await?;
        let permits = Arc::new(Semaphore::new(MAX_FORWARDED_IN_FLIGHT));
        let task = tokio::spawn(async move {
            while let Some(message) = commands.next().await {
                let Some(reply) = message.reply else {
                    continue; // nobody to answer: a stray publish, not a request
                };
                // Undecodable: answered with no answers, which the follower takes as an
                // unknown outcome for the whole batch.
                let batch = wire::decode_commands(&message.payload).unwrap_or_default();
                let count = u32::try_from(batch.len()).unwrap_or(u32::MAX);
                let Ok(permit) = Arc::clone(&permits).try_acquire_many_owned(count) else {
                    let busy: Vec<wire::Answer> =
                        batch.iter().map(|_| Err(EngineError::Overloaded)).collect();
                    let _ = client
                        .publish(reply, wire::encode_answers(&busy).into())
                        .await;
                    continue;
                };
                let (client, engine) = (client.clone(), engine.clone());
                tokio::spawn(async move {
                    // A lost reply is the follower's timeout: outcome unknown, retry safe.
                    if let Some(answers) = decide(&engine, batch).await {
                        let _ = client
                            .publish(reply, wire::encode_answers(&answers).into())
                            .await;
                    }
                    drop(permit);
                });
            }
        });
        Ok(Self { task, keyed })
    }

    /// Stops answering (the subscriptions end with the tasks).
    pub(crate) fn stop(self) {
        self.task.abort();
        self.keyed.abort();
    }
}

/// Answers forwarded keyed grabs against this node's key store
/// ([`stampede_api::handlers::keyed_grab::as_leader`]), at most
/// [`MAX_FORWARDED_IN_FLIGHT`] at once (then `overloaded`).
async fn serve_keyed(
    client: async_nats::Client,
    mut grabs: async_nats::Subscriber,
    state: Arc<AppState>,
) {
    let permits = Arc::new(Semaphore::new(MAX_FORWARDED_IN_FLIGHT));
    while let Some(message) = grabs.next().await {
        let Some(reply) = message.reply else {
            continue;
        };
        let refused = |error: AppErrorLike| KeyedAnswer {
            code: error.0.to_owned(),
            status: 503,
            body: format!(
                r#"{{"error":{{"code":"{}","message":"{}"}}}}"#,
                error.0, error.1
            )
            .into_bytes(),
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            let busy = refused(AppErrorLike("overloaded", "the shard leader is overloaded"));
            let _ = client
                .publish(reply, wire::encode_keyed_answer(&busy).into())
                .await;
            continue;
        };
        let (client, state) = (client.clone(), Arc::clone(&state));
        tokio::spawn(async move {
            let answer = match wire::decode_keyed(&message.payload) {
                Ok((campaign, user, key)) => {
                    // As for commands (see `decide`): a node that no longer writes the shard
                    // stays silent rather than answer a wrong "nothing was decided".
                    let writing = || {
                        let engine = &state.shards.for_campaign(campaign).engine;
                        engine.is_writer() && !engine.is_poisoned()
                    };
                    if !writing() {
                        drop(permit);
                        return;
                    }
                    let now = state.now();
                    let answer = keyed_grab::as_leader(&state, campaign, &user, &key, now).await;
                    if answer.status == 503 && !writing() {
                        drop(permit);
                        return;
                    }
                    answer
                }
                Err(_) => refused(AppErrorLike(
                    "unavailable",
                    "a forwarded grab did not decode",
                )),
            };
            let _ = client
                .publish(reply, wire::encode_keyed_answer(&answer).into())
                .await;
            drop(permit);
        });
    }
}

/// An error's code and message, for the answers this loop makes itself.
struct AppErrorLike(&'static str, &'static str);

/// Decides a forwarded batch, its commands together (they join the writer's same group
/// commit); `None`: no answer at all, because this writer was deposed (its log refused an
/// append). During a hand-over the old and the new leader may both be subscribed, and the
/// requester takes the first answer: a deposed writer's `unavailable` arriving first would
/// tell the clients "nothing was decided" for commands the new leader decided. Without its
/// answer the new leader's arrives, or the requester times out with an unknown outcome
/// (`degraded`, a retry is safe): never a wrong "no".
async fn decide(engine: &Engine, batch: Vec<Command>) -> Option<Vec<wire::Answer>> {
    if engine.is_poisoned() {
        return None;
    }
    let decided =
        futures_util::future::join_all(batch.into_iter().map(|command| engine.decide(command)))
            .await;
    if engine.is_poisoned() && decided.iter().any(Result::is_err) {
        return None;
    }
    let log_position = engine.log_position();
    Some(
        decided
            .into_iter()
            .map(|decided| {
                decided.map(|outcome| RemoteDecision {
                    outcome,
                    log_position,
                })
            })
            .collect(),
    )
}
