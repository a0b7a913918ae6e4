//! The writer-bound operations: each a command decided by the writer and answered once durable
//! (the grab first tries the lock-free fast path).

use stampede_core::{
    CampaignId, CampaignSpec, ChannelName, ClaimStart, Command, CreateOutcome, GrabKey,
    GrabOutcome, Order, OrderId, OrderOutcome, Outcome, PaymentEntry, PayoutResult, UserId,
};

use super::{Creation, Engine};
use crate::command::Request;
use crate::error::{EngineError, mismatched};
use crate::late_grab::{GrabReply, LateGrab};

impl Engine {
    /// One grab by `user` (already authenticated and validated by the caller). Answers `Won`
    /// only after the win is durable.
    ///
    /// The fast path needs no disk and is never refused by the journal breaker. Past it, an
    /// open breaker answers [`EngineError::Degraded`] at once, and a reply slower than
    /// `journal_reply_timeout` answers `Degraded` too (outcome unknown, a retry is safe: see
    /// [`crate::guard`]).
    ///
    /// The API runs [`Engine::grab_fast_path`] itself before its per-user rules and overload
    /// admission, and only then calls this, which runs it again: on purpose. Admission may
    /// sleep (a delay rule) or queue (a concurrency rule), and in a stampede the stock sells
    /// out within milliseconds, so the re-check turns what would be a writer round trip (a
    /// queue slot, a breaker permit, a share of a batch) into a lock-free `sold_out` or
    /// `already_won`; when nothing changed it costs two lock-free map lookups and a clock read.
    /// It also keeps this entry point complete for callers without a fast path of their own.
    pub async fn grab(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<GrabOutcome, EngineError> {
        if let Some(outcome) = self.grab_fast_path(campaign, user.as_str()) {
            return Ok(outcome);
        }
        let user = user.clone();
        self.decide_grab(Command::Grab {
            campaign,
            user,
            key: None,
        })
        .await
    }

    /// Has the writer decide a grab command; its grab outcome.
    async fn decide_grab(&self, grab: Command) -> Result<GrabOutcome, EngineError> {
        match self.decide(grab).await? {
            Outcome::Grab(outcome) => Ok(outcome),
            other => Err(mismatched("grab", &other)),
        }
    }

    /// [`Engine::grab`] for a caller that must learn what the grab came to even when the
    /// writer is too slow to answer within `journal_reply_timeout` (a grab under an
    /// `Idempotency-Key`, whose retry must get the first decision). On that timeout the answer
    /// is [`GrabReply::Late`]: `degraded` to give now, and the writer's eventual answer. Its
    /// command is never skipped as abandoned while the [`LateGrab`] is held.
    ///
    /// The fast path is [`Engine::keyed_grab_fast_path`], and the command carries `key`: a
    /// win is journaled with it, and a key that already won is answered that win again by the
    /// ledger.
    pub async fn grab_keeping_late_outcome(
        &self,
        campaign: CampaignId,
        user: &UserId,
        key: &GrabKey,
    ) -> GrabReply {
        let fast = self.keyed_grab_fast_path(campaign, user.as_str(), key.as_str());
        if let Some(answer) = fast.await {
            return GrabReply::Answered(answer);
        }
        let command = Command::Grab {
            campaign,
            user: user.clone(),
            key: Some(key.clone()),
        };
        if self.remote.is_some() {
            // The leader's answer arrives whole or not at all (`Unavailable`): nothing late.
            return GrabReply::Answered(self.decide_grab(command).await);
        }
        let submitted = self.send(Request::decide(command));
        let (permit, answer) = match submitted {
            Ok(submitted) => submitted,
            Err(e) => return GrabReply::Answered(Err(e)),
        };
        match self.guard.await_reply_keeping_late(permit, answer).await {
            Ok(result) => GrabReply::Answered(result.and_then(|outcome| match outcome {
                Outcome::Grab(outcome) => Ok(outcome),
                other => Err(mismatched("grab", &other)),
            })),
            Err(late) => GrabReply::Late {
                answer: late.answer,
                outcome: LateGrab(late.receiver),
            },
        }
    }

    /// Creates a campaign: its view once the creation is durable, or why it was refused.
    pub async fn create_campaign(&self, spec: CampaignSpec) -> Result<Creation, EngineError> {
        let id = match self.decide(Command::CreateCampaign { spec }).await? {
            Outcome::Created(CreateOutcome::Created(id)) => id,
            Outcome::Created(CreateOutcome::Invalid(invalid)) => {
                return Ok(Creation::Invalid(invalid));
            }
            Outcome::Created(CreateOutcome::TooManyCampaigns) => {
                return Ok(Creation::TooManyCampaigns);
            }
            other => return Err(mismatched("campaign creation", &other)),
        };
        self.campaign(id)
            .map(Creation::Created)
            .ok_or_else(|| EngineError::Unavailable("created campaign not published".into()))
    }

    /// Cancels an order for `by` (`None`: the admin). Answers `Moved` only after the
    /// cancellation is durable and its item is back on the read side.
    pub async fn cancel(
        &self,
        order: OrderId,
        by: Option<&UserId>,
    ) -> Result<OrderOutcome, EngineError> {
        let by = by.cloned();
        self.decide_order(Command::Cancel { order, by }).await
    }

    /// Starts a payment of `order` for its user `by` on `channel`: `pending_payment` →
    /// `paying`, answered once durable. An order already `paying` on that channel answers
    /// `Moved` again (no new record).
    pub async fn start_payment(
        &self,
        order: OrderId,
        by: &UserId,
        channel: &ChannelName,
    ) -> Result<OrderOutcome, EngineError> {
        let by = by.clone();
        let channel = channel.clone();
        self.decide_order(Command::StartPayment { order, by, channel })
            .await
    }

    /// Starts a red-packet claim for `by` (`None`: the admin): `won` → `claiming`, answered
    /// once durable (the payout may be called only then).
    pub async fn start_claim(
        &self,
        order: OrderId,
        by: Option<UserId>,
    ) -> Result<ClaimStart, EngineError> {
        match self.decide(Command::StartClaim { order, by }).await? {
            Outcome::ClaimStarted(start) => Ok(start),
            other => Err(mismatched("claim start", &other)),
        }
    }

    /// Records a claim's payout result (`claiming` → `claimed`, or back to `won`), once
    /// durable; `false`: the order was not `claiming` any more.
    pub async fn finish_claim(
        &self,
        order: OrderId,
        result: PayoutResult,
    ) -> Result<bool, EngineError> {
        match self.decide(Command::FinishClaim { order, result }).await? {
            Outcome::ClaimFinished(recorded) => Ok(recorded),
            other => Err(mismatched("claim result", &other)),
        }
    }

    /// Records a verified channel payment of `order`; a new payment is answered once durable.
    pub async fn record_payment(
        &self,
        order: OrderId,
        payment: stampede_core::Payment,
    ) -> Result<stampede_core::PaymentOutcome, EngineError> {
        match self
            .decide(Command::RecordPayment { order, payment })
            .await?
        {
            Outcome::Payment(outcome) => Ok(outcome),
            other => Err(mismatched("payment", &other)),
        }
    }

    /// Runs an expiry pass now (the writer also runs one every [`crate::EXPIRY_TICK`]);
    /// answers how many orders expired, once they are durable.
    pub async fn expire_due(&self) -> Result<usize, EngineError> {
        self.call(Request::expire_pass()).await
    }

    /// An order by id with its payments, expired on the spot if it is past its payment
    /// deadline (passive expiry: the expiry goes through the writer and is durable before it
    /// is shown). Shows only durable state ([`Engine::read_durable`]).
    pub async fn order_now(
        &self,
        id: OrderId,
    ) -> Result<Option<(Order, Vec<PaymentEntry>)>, EngineError> {
        let overdue = self.order(id).is_some_and(|order| {
            order
                .expires_at
                .is_some_and(|deadline| deadline <= self.now())
        });
        if overdue {
            self.decide(Command::Expire { order: id }).await?;
        }
        self.read_durable(|ledger| {
            ledger
                .order(id)
                .map(|order| (order, ledger.payments_of(id)))
        })
        .await
    }
}
