//! One request a burst sends the engine (a client's, or a channel's callback, or the refund
//! job's confirmation), and its answer.

use stampede_core::{CampaignId, GrabOutcome, OrderId, OrderOutcome, Payment, PaymentOutcome};
use stampede_engine::{Engine, EngineError};
use stampede_journal::MemoryStorage;

/// A request of a burst. All of a burst's requests run concurrently.
#[derive(Clone, Debug)]
pub enum Action {
    Grab {
        campaign: CampaignId,
        user: String,
    },
    StartPayment {
        order: OrderId,
        user: String,
        channel: &'static str,
    },
    /// A channel's callback: a first delivery, a retry of the same transaction, or a forged
    /// amount (told apart by the model, which knows what the channel took).
    Callback {
        order: OrderId,
        payment: Payment,
    },
    Cancel {
        order: OrderId,
        user: String,
    },
    /// The refund job journals the channel's receipt.
    ConfirmRefund {
        order: OrderId,
        payment: Payment,
        refund_id: String,
    },
}

/// The engine's answer to an [`Action`] of the same kind.
#[derive(Debug)]
pub enum Answer {
    Grab(Result<GrabOutcome, EngineError>),
    StartPayment(Result<OrderOutcome, EngineError>),
    Callback(Result<PaymentOutcome, EngineError>),
    Cancel(Result<OrderOutcome, EngineError>),
    ConfirmRefund(Result<bool, EngineError>),
}

impl Action {
    pub async fn run(&self, engine: &Engine) -> Answer {
        match self {
            Action::Grab { campaign, user } => Answer::Grab(engine.grab(*campaign, user).await),
            Action::StartPayment {
                order,
                user,
                channel,
            } => Answer::StartPayment(engine.start_payment(*order, user, channel).await),
            Action::Callback { order, payment } => {
                Answer::Callback(engine.record_payment(*order, payment.clone()).await)
            }
            Action::Cancel { order, user } => {
                Answer::Cancel(engine.cancel(*order, Some(user)).await)
            }
            Action::ConfirmRefund {
                order,
                payment,
                refund_id,
            } => Answer::ConfirmRefund(
                (engine.confirm_refund(*order, payment.clone(), refund_id.clone())).await,
            ),
        }
    }
}

/// A storage fault injected into a burst.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// The next fsync fails.
    Sync,
    /// The next append writes a prefix of its bytes, then fails.
    Append,
}

impl Fault {
    /// Arms the fault: the next fsync (or append) of `storage` fails.
    pub fn arm(self, storage: &MemoryStorage) {
        match self {
            Fault::Sync => storage.fail_next_sync(),
            Fault::Append => storage.fail_next_append(),
        }
    }
}

/// Runs `actions` concurrently; answers each with its action. With a `fault`, syncs are
/// stalled while the requests are queued, so the writer's first batch that writes waits in
/// its fsync while every other request queues behind it; then the fault is armed and the
/// stall ends: a failed sync loses that first batch, a failed append the batch of all the
/// rest (a big batch of concurrent decisions lost at once).
pub fn run_all(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    actions: Vec<Action>,
    fault: Option<(&MemoryStorage, Fault)>,
) -> Vec<(Action, Answer)> {
    rt.block_on(async {
        if let Some((storage, _)) = fault {
            storage.stall_syncs();
        }
        let requests = actions.len();
        let mut set = tokio::task::JoinSet::new();
        for action in actions {
            let engine = engine.clone();
            set.spawn(async move {
                let answer = action.run(&engine).await;
                (action, answer)
            });
        }
        if let Some((storage, kind)) = fault {
            for _ in 0..=requests {
                tokio::task::yield_now().await; // each request reaches the writer's queue
            }
            kind.arm(storage);
            storage.resume_syncs();
        }
        set.join_all().await
    })
}
