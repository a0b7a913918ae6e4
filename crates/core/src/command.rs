//! Every request the ledger decides, as data, and every answer it gives, as one enum.
//!
//! The engine's writer feeds a batch of [`Command`]s to [`Ledger::decide`] one at a time and
//! gets one [`Decision`] shape back for each: the [`Outcome`] to answer and the record to
//! journal first. Keeping requests as plain values (no reply channels, no I/O handles) lets
//! the writer, the deterministic simulation and, later, a leader that receives commands from
//! other nodes all drive the ledger the same way.

use rand::Rng;

use crate::channel_name::ChannelName;
use crate::claim::{ClaimStart, PayoutResult};
use crate::decision::Decision;
use crate::grab_key::GrabKey;
use crate::ids::{CampaignId, OrderId, UserId};
use crate::ledger::Ledger;
use crate::money::UnixMillis;
use crate::outcome::{CreateOutcome, GrabOutcome, OrderOutcome};
use crate::payment::{Payment, PaymentOutcome};
use crate::spec::CampaignSpec;

/// A request for the ledger to decide.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// Create a campaign.
    CreateCampaign {
        /// What is asked for (validated by the ledger).
        spec: CampaignSpec,
    },
    /// One grab by an authenticated user.
    Grab {
        /// The campaign.
        campaign: CampaignId,
        /// Who grabs.
        user: UserId,
        /// The request's `Idempotency-Key`, if it carried one: a win is journaled with it
        /// ([`crate::Record::KeyedWon`]), and a grab under a key that already won answers
        /// that win again.
        key: Option<GrabKey>,
    },
    /// Cancel an order for its user (`by: None`: the admin).
    Cancel {
        /// The order.
        order: OrderId,
        /// The requester, if not the admin.
        by: Option<UserId>,
    },
    /// Expire one order if it is past its deadline (passive expiry, on read).
    Expire {
        /// The order.
        order: OrderId,
    },
    /// Start a red-packet claim for its user (`by: None`: the admin): `won` → `claiming`.
    StartClaim {
        /// The order.
        order: OrderId,
        /// The requester, if not the admin.
        by: Option<UserId>,
    },
    /// Record a claim's payout result: `claiming` → `claimed`, or back to `won`.
    FinishClaim {
        /// The order.
        order: OrderId,
        /// What the payout provider answered.
        result: PayoutResult,
    },
    /// Start a payment for the order's user: `pending_payment` → `paying`.
    StartPayment {
        /// The order.
        order: OrderId,
        /// The requester (only the order's user may pay it).
        by: UserId,
        /// The channel the payment is started on.
        channel: ChannelName,
    },
    /// Record a verified channel payment (callback, query or in-process delivery).
    RecordPayment {
        /// The order it pays.
        order: OrderId,
        /// The payment.
        payment: Payment,
    },
    /// Record a channel's confirmation of a refund of a late or duplicate payment.
    ConfirmRefund {
        /// The order the payment was for.
        order: OrderId,
        /// The payment refunded.
        payment: Payment,
        /// The channel's refund id.
        refund_id: String,
    },
}

/// The answer to a [`Command`]: one variant per kind of command.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// To [`Command::CreateCampaign`].
    Created(CreateOutcome),
    /// To [`Command::Grab`].
    Grab(GrabOutcome),
    /// To [`Command::Cancel`] and [`Command::StartPayment`].
    Order(OrderOutcome),
    /// To [`Command::Expire`]: whether the order expired now.
    Expired(bool),
    /// To [`Command::StartClaim`].
    ClaimStarted(ClaimStart),
    /// To [`Command::FinishClaim`]: whether the result was recorded now (`false`: the order
    /// was not `claiming` any more, resolved earlier).
    ClaimFinished(bool),
    /// To [`Command::RecordPayment`].
    Payment(PaymentOutcome),
    /// To [`Command::ConfirmRefund`]: whether the confirmation was recorded now.
    RefundConfirmed(bool),
}

impl Outcome {
    /// The stable code of the outcome (the inner outcome's own code).
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Created(created) => created.code(),
            Outcome::Grab(grab) => grab.code(),
            Outcome::Order(order) => order.code(),
            Outcome::Expired(true) => "expired",
            Outcome::Expired(false) => "not_due",
            Outcome::ClaimStarted(start) => start.code(),
            Outcome::ClaimFinished(true) | Outcome::RefundConfirmed(true) => "recorded",
            Outcome::ClaimFinished(false) | Outcome::RefundConfirmed(false) => "unchanged",
            Outcome::Payment(payment) => payment.code(),
        }
    }
}

impl Ledger {
    /// Decides one command at `now` (drawing ids and packet amounts from `rng`) and applies
    /// it: the one entry point the writer uses. See [`Decision`].
    pub fn decide(
        &mut self,
        command: Command,
        now: UnixMillis,
        rng: &mut impl Rng,
    ) -> Decision<Outcome> {
        match command {
            Command::CreateCampaign { spec } => {
                self.create_campaign(spec, now, rng).map(Outcome::Created)
            }
            Command::Grab {
                campaign,
                user,
                key,
            } => self
                .grab_keyed(campaign, &user, key, now, rng)
                .map(Outcome::Grab),
            Command::Cancel { order, by } => {
                self.cancel(order, by.as_ref(), now).map(Outcome::Order)
            }
            Command::Expire { order } => self.expire(order, now).map(Outcome::Expired),
            Command::StartClaim { order, by } => self
                .start_claim(order, by.as_ref(), now)
                .map(Outcome::ClaimStarted),
            Command::FinishClaim { order, result } => self
                .finish_claim(order, &result, now)
                .map(Outcome::ClaimFinished),
            Command::StartPayment { order, by, channel } => self
                .start_payment(order, &by, &channel, now)
                .map(Outcome::Order),
            Command::RecordPayment { order, payment } => self
                .record_payment(order, payment, now)
                .map(Outcome::Payment),
            Command::ConfirmRefund {
                order,
                payment,
                refund_id,
            } => self
                .confirm_refund(order, &payment, refund_id, now)
                .map(Outcome::RefundConfirmed),
        }
    }
}
