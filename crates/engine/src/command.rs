//! What handlers send to the writer, and how the writer answers.

use stampede_core::{
    CampaignId, CampaignSpec, ClaimStart, GrabOutcome, OrderId, OrderOutcome, Payment,
    PaymentOutcome, PayoutResult, UserId,
};
use tokio::sync::oneshot;

use crate::error::EngineError;

/// A request for the writer thread. Each carries a one-shot reply channel. A requester that
/// gave up (reply timeout, client gone) drops the receiver: a command not yet decided is then
/// skipped by the writer; one already decided stands and is durable (a retry learns it
/// through `already_won`).
#[derive(Debug)]
pub(crate) enum Command {
    Grab {
        campaign: CampaignId,
        user: UserId,
        reply: oneshot::Sender<Result<GrabOutcome, EngineError>>,
    },
    Create {
        spec: CampaignSpec,
        reply: oneshot::Sender<Result<CampaignId, EngineError>>,
    },
    /// Cancel an order for its user (`by: None`: the admin).
    Cancel {
        order: OrderId,
        by: Option<UserId>,
        reply: oneshot::Sender<Result<OrderOutcome, EngineError>>,
    },
    /// `Some`: expire that order if it is overdue (passive expiry on read); `None`: run an
    /// expiry pass over every overdue order now (up to the batch bound). Answers how many
    /// expired.
    Expire {
        order: Option<OrderId>,
        reply: oneshot::Sender<Result<usize, EngineError>>,
    },
    /// Start a red-packet claim for its user (`by: None`: the admin): `won` → `claiming`.
    StartClaim {
        order: OrderId,
        by: Option<UserId>,
        reply: oneshot::Sender<Result<ClaimStart, EngineError>>,
    },
    /// Record a claim's payout result: `claiming` → `claimed` or back to `won`.
    FinishClaim {
        order: OrderId,
        result: PayoutResult,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Start a payment for the order's user: `pending_payment` → `paying`.
    StartPayment {
        order: OrderId,
        by: UserId,
        channel: String,
        reply: oneshot::Sender<Result<OrderOutcome, EngineError>>,
    },
    /// Record a verified channel payment: `paying` / `pending_payment` → `paid`.
    RecordPayment {
        order: OrderId,
        payment: Payment,
        reply: oneshot::Sender<Result<PaymentOutcome, EngineError>>,
    },
    /// Record a channel's confirmation of a refund (late or duplicate payment).
    ConfirmRefund {
        order: OrderId,
        payment: Payment,
        refund_id: String,
        reply: oneshot::Sender<Result<bool, EngineError>>,
    },
    /// Finish the commands already queued, then stop.
    Shutdown,
}

impl Command {
    /// Answers `Unavailable(why)` instead of deciding (the journal failed: fail-stop).
    /// `Shutdown` has nobody to answer.
    pub(crate) fn refuse(self, why: &str) {
        let unavailable = || EngineError::Unavailable(why.to_owned());
        match self {
            Command::Grab { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::Create { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::Cancel { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::Expire { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::StartClaim { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::FinishClaim { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::StartPayment { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::RecordPayment { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::ConfirmRefund { reply, .. } => drop(reply.send(Err(unavailable()))),
            Command::Shutdown => {}
        }
    }

    /// Whether the requester stopped waiting (its reply receiver is closed).
    pub(crate) fn is_abandoned(&self) -> bool {
        match self {
            Command::Grab { reply, .. } => reply.is_closed(),
            Command::Create { reply, .. } => reply.is_closed(),
            Command::Cancel { reply, .. } => reply.is_closed(),
            Command::Expire { reply, .. } => reply.is_closed(),
            Command::StartClaim { reply, .. } => reply.is_closed(),
            Command::StartPayment { reply, .. } => reply.is_closed(),
            // A verified payment or refund is recorded even if nobody waits: the money moved.
            Command::RecordPayment { .. } | Command::ConfirmRefund { .. } => false,
            // A payout result is recorded even if nobody waits: the money moved.
            Command::FinishClaim { .. } => false,
            Command::Shutdown => false,
        }
    }
}

/// A decided command waiting for its batch to become durable.
#[derive(Debug)]
pub(crate) enum Reply {
    Grab(
        oneshot::Sender<Result<GrabOutcome, EngineError>>,
        GrabOutcome,
    ),
    Create(
        oneshot::Sender<Result<CampaignId, EngineError>>,
        Result<CampaignId, EngineError>,
    ),
    Cancel(
        oneshot::Sender<Result<OrderOutcome, EngineError>>,
        OrderOutcome,
    ),
    Expire(oneshot::Sender<Result<usize, EngineError>>, usize),
    StartClaim(oneshot::Sender<Result<ClaimStart, EngineError>>, ClaimStart),
    FinishClaim(oneshot::Sender<Result<(), EngineError>>),
    StartPayment(
        oneshot::Sender<Result<OrderOutcome, EngineError>>,
        OrderOutcome,
    ),
    RecordPayment(
        oneshot::Sender<Result<PaymentOutcome, EngineError>>,
        PaymentOutcome,
    ),
    ConfirmRefund(oneshot::Sender<Result<bool, EngineError>>, bool),
}

impl Reply {
    /// Sends the decided answer (the batch is durable).
    pub(crate) fn send(self) {
        match self {
            Reply::Grab(tx, outcome) => {
                let _ = tx.send(Ok(outcome));
            }
            Reply::Create(tx, result) => {
                let _ = tx.send(result);
            }
            Reply::Cancel(tx, outcome) => {
                let _ = tx.send(Ok(outcome));
            }
            Reply::Expire(tx, expired) => {
                let _ = tx.send(Ok(expired));
            }
            Reply::StartClaim(tx, start) => {
                let _ = tx.send(Ok(start));
            }
            Reply::FinishClaim(tx) => {
                let _ = tx.send(Ok(()));
            }
            Reply::StartPayment(tx, outcome) => {
                let _ = tx.send(Ok(outcome));
            }
            Reply::RecordPayment(tx, outcome) => {
                let _ = tx.send(Ok(outcome));
            }
            Reply::ConfirmRefund(tx, confirmed) => {
                let _ = tx.send(Ok(confirmed));
            }
        }
    }

    /// Sends a failure instead (the batch is not durable: nothing in it may be acknowledged).
    pub(crate) fn fail(self, why: &str) {
        match self {
            Reply::Grab(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::Create(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::Cancel(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::Expire(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::StartClaim(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::FinishClaim(tx) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::StartPayment(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::RecordPayment(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
            Reply::ConfirmRefund(tx, _) => {
                let _ = tx.send(Err(EngineError::Unavailable(why.to_owned())));
            }
        }
    }
}
