//! The way to the writer: a writer-bound request is refused at once while the journal is
//! poisoned, its breaker open or the queue full; otherwise queued, and its answer awaited under
//! the journal guard's reply timeout.

use std::sync::mpsc::TrySendError;

use stampede_admission::breaker::CallPermit;
use stampede_core::{Command, OrderOutcome, Outcome};
use tokio::sync::oneshot;

use super::Engine;
use crate::command::Request;
use crate::error::{EngineError, JOURNAL_FAILED_EARLIER, mismatched};

/// What a follower's engine answers to a request only the shard's writer can take (an
/// expiry pass): the node sends commands to the leader through [`Engine::decide`].
const NOT_THE_WRITER: &str = "this node does not write the campaign's shard";

impl Engine {
    /// Has the writer decide `command` and answers its outcome once durable: every
    /// writer-bound command goes through here.
    pub async fn decide(&self, command: Command) -> Result<Outcome, EngineError> {
        match &self.remote {
            None => self.call(Request::decide(command)).await,
            Some(remote) => self.decide_remotely(remote, command).await,
        }
    }

    /// A follower's command: decided by the shard's leader, answered once this node has
    /// applied the log up to the decision (at most the reply timeout: past it the outcome,
    /// durable in the log, is answered anyway, and a read here may not show it yet).
    async fn decide_remotely(
        &self,
        remote: &crate::SharedRemote,
        command: Command,
    ) -> Result<Outcome, EngineError> {
        let decided = remote.decide(command).await?;
        let mut followed = self.shared.followed.subscribe();
        let applied = followed.wait_for(|applied| *applied >= decided.log_position);
        let _ = tokio::time::timeout(self.guard.reply_timeout(), applied).await;
        Ok(decided.outcome)
    }

    /// [`Engine::decide`] for a command answered by an [`OrderOutcome`].
    pub(crate) async fn decide_order(&self, command: Command) -> Result<OrderOutcome, EngineError> {
        match self.decide(command).await? {
            Outcome::Order(outcome) => Ok(outcome),
            other => Err(mismatched("order move", &other)),
        }
    }

    /// Sends `request` to the writer and waits for the answer on `answer`. Refused at once
    /// when the journal failed earlier or the breaker is open (nothing enters the queue), and
    /// when the queue is full; past that, see [`JournalGuard::await_reply`].
    pub(super) async fn call<T>(
        &self,
        request: (Request, oneshot::Receiver<Result<T, EngineError>>),
    ) -> Result<T, EngineError> {
        let (permit, answer) = self.send(request)?;
        self.guard.await_reply(permit, answer).await
    }

    /// Queues `request` (refused as [`Engine::call`] says); answers the breaker permit to
    /// record the call on and the reply's receiver.
    pub(super) fn send<T>(
        &self,
        (request, answer): (Request, oneshot::Receiver<Result<T, EngineError>>),
    ) -> Result<(CallPermit, oneshot::Receiver<Result<T, EngineError>>), EngineError> {
        if self.remote.is_some() {
            return Err(EngineError::Unavailable(NOT_THE_WRITER.into()));
        }
        self.refuse_if_poisoned()?;
        let permit = self.guard.admit()?;
        // A full queue drops the permit: a failure, as the writer is not keeping up.
        self.submit(request)?;
        Ok((permit, answer))
    }

    /// A poisoned journal stays `Unavailable` (fail-stop until restart), whatever the breaker
    /// says: `degraded` would promise that a retry can succeed.
    pub(super) fn refuse_if_poisoned(&self) -> Result<(), EngineError> {
        if self.is_poisoned() {
            return Err(EngineError::Unavailable(JOURNAL_FAILED_EARLIER.into()));
        }
        Ok(())
    }

    pub(super) fn submit(&self, request: Request) -> Result<(), EngineError> {
        match self.commands.try_send(request) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(EngineError::Overloaded),
            Err(TrySendError::Disconnected(_)) => {
                Err(EngineError::Unavailable("the engine is shut down".into()))
            }
        }
    }
}
