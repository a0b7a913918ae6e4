//! What callers send to the writer, and how the writer answers.
//!
//! Every request that changes the ledger is a [`stampede_core::Command`] with a one-shot reply
//! channel; the writer decides it with [`stampede_core::Ledger::decide`] and answers the one
//! [`Outcome`] shape once the batch is durable. A requester that gave up (reply timeout, client
//! gone) drops the receiver: a command not yet decided is then skipped by the writer, unless
//! it records money that already moved; one already decided stands and is durable (a retry
//! learns it, e.g. through `already_won`).

use stampede_core::{Command, Outcome};
use tokio::sync::oneshot;

use crate::error::EngineError;

/// Where a decided command's answer goes.
pub(crate) type ReplyTo = oneshot::Sender<Result<Outcome, EngineError>>;

/// A request for the writer.
#[derive(Debug)]
pub enum Request {
    /// Decide a command and answer its outcome once durable.
    Decide(Command, ReplyTo),
    /// Run an expiry pass over every overdue order now (up to the batch bound), and answer
    /// how many expired once they are durable.
    ExpirePass(oneshot::Sender<Result<usize, EngineError>>),
    /// Finish the requests already queued, then stop.
    Shutdown,
}

/// The receiving end of a [`Request::Decide`]'s answer.
pub type OutcomeReceiver = oneshot::Receiver<Result<Outcome, EngineError>>;

impl Request {
    /// A request to decide `command`, and where its answer will arrive.
    pub fn decide(command: Command) -> (Self, OutcomeReceiver) {
        let (reply, answer) = oneshot::channel();
        (Request::Decide(command, reply), answer)
    }

    /// A request for an expiry pass, and where its count will arrive.
    pub fn expire_pass() -> (Self, oneshot::Receiver<Result<usize, EngineError>>) {
        let (reply, answer) = oneshot::channel();
        (Request::ExpirePass(reply), answer)
    }

    /// Answers `Unavailable(why)` instead of deciding (the journal failed: fail-stop).
    /// `Shutdown` has nobody to answer.
    pub(crate) fn refuse(self, why: &str) {
        let unavailable = || EngineError::Unavailable(why.to_owned());
        match self {
            Request::Decide(_, reply) => drop(reply.send(Err(unavailable()))),
            Request::ExpirePass(reply) => drop(reply.send(Err(unavailable()))),
            Request::Shutdown => {}
        }
    }

    /// Whether the requester stopped waiting and the request may be skipped undecided.
    pub(crate) fn is_abandoned(&self) -> bool {
        match self {
            Request::Decide(command, reply) => reply.is_closed() && !records_moved_money(command),
            Request::ExpirePass(reply) => reply.is_closed(),
            Request::Shutdown => false,
        }
    }
}

/// Whether `command` records money that already moved (a verified payment, a refund, a
/// payout's result): it is decided even if nobody waits for the answer any more.
fn records_moved_money(command: &Command) -> bool {
    match command {
        Command::RecordPayment { .. }
        | Command::ConfirmRefund { .. }
        | Command::FinishClaim { .. } => true,
        Command::CreateCampaign { .. }
        | Command::Grab { .. }
        | Command::Cancel { .. }
        | Command::Expire { .. }
        | Command::StartClaim { .. }
        | Command::StartPayment { .. } => false,
    }
}

/// A decided request waiting for its batch to become durable.
#[derive(Debug)]
pub(crate) enum Reply {
    Decided(ReplyTo, Outcome),
    Expired(oneshot::Sender<Result<usize, EngineError>>, usize),
}

impl Reply {
    /// Sends the decided answer (the batch is durable).
    pub(crate) fn send(self) {
        match self {
            Reply::Decided(reply, outcome) => drop(reply.send(Ok(outcome))),
            Reply::Expired(reply, expired) => drop(reply.send(Ok(expired))),
        }
    }

    /// Sends a failure instead (the batch is not durable: nothing in it may be acknowledged).
    pub(crate) fn fail(self, why: &str) {
        let unavailable = || EngineError::Unavailable(why.to_owned());
        match self {
            Reply::Decided(reply, _) => drop(reply.send(Err(unavailable()))),
            Reply::Expired(reply, _) => drop(reply.send(Err(unavailable()))),
        }
    }
}
