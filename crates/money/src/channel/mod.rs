//! Payment channels: the seam through which an order's money comes in, a simulated channel,
//! and a router that spreads payments over several channels by weight and health.
//!
//! - this file: the [`PaymentChannel`] trait (`pay`, `query`, `refund`), its values and
//!   [`ChannelError`], and [`CallbackSink`], where a channel delivers its callbacks in-process;
//! - [`sim`]: [`SimChannel`] (configured by [`SimChannelConfig`]), a seeded simulated channel with late, duplicate and lost
//!   callbacks, double payments and injected failures, bounded everywhere;
//! - [`router`]: [`ChannelRouter`], weighted choice among the channels in rotation, each
//!   guarded by a [`CircuitBreaker`](stampede_admission::breaker::CircuitBreaker) and
//!   down-weighted by its recent success ratio.
//!
//! A channel call is I/O, so like [`Payout`](crate::Payout) it never runs in the writer
//! thread: the caller awaits it from its own task and journals what it learned.
//!
//! Errors split by what the caller may conclude: [`ChannelError::Declined`] says the thing
//! definitely did not happen (and the channel itself is healthy); [`ChannelError::Unavailable`]
//! says the outcome is unknown, so the caller must find out later with
//! [`PaymentChannel::query`] (payments) or repeat the call with the same idempotency key
//! (refunds), never act as if it failed.

use std::future::Future;
use std::pin::Pin;

use stampede_admission::breaker::CallOutcome;
use stampede_core::{Cents, ChannelName, OrderId, Payment};

pub mod router;
pub mod sim;

pub use router::{
    AdmitError, ChannelHealth, ChannelRouter, HEALTH_MIN_CALLS, MAX_CHANNELS, Routed, RouterError,
    call_with_health,
};
pub use sim::config::{
    MAX_SIM_DELAY_MS, MIN_CHANNEL_SECRET_BYTES, SimChannelConfig, SimChannelConfigError,
};
pub use sim::{
    MAX_PENDING_DELIVERIES, MAX_SIM_TRANSACTIONS, Minted, SimChannel, StatementLine,
    books_file_name, channel_of_books_file, read_books_statement,
};

/// A channel call's future (boxed so the trait stays object-safe; a real channel is async).
pub type ChannelFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the client needs to pay on the channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayInstructions {
    /// The channel the client pays on (its configured name).
    pub channel: ChannelName,
    /// Where the client goes to pay (a redirect URL, or a deep link for an app).
    pub pay_url: String,
    /// What the client is asked to pay.
    pub amount_cents: Cents,
}

/// The channel's answer to a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundReceipt {
    /// The channel's id of the refund.
    pub refund_id: String,
}

/// Why a channel call did not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Definitely did not happen (declined, unknown transaction, channel full). The channel
    /// answered, so this is not a sign of ill health.
    #[error("channel declined: {0}")]
    Declined(String),
    /// Outcome unknown (timeout, channel down): it may or may not have happened.
    #[error("channel unavailable, outcome unknown: {0}")]
    Unavailable(String),
}

impl ChannelError {
    /// A stable code for metrics and logs: `declined` or `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Declined(_) => "declined",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// How a channel call's result counts for the channel's health: only
/// [`ChannelError::Unavailable`] is a failure; a decline is a healthy channel saying no.
pub fn health_outcome<T>(result: &Result<T, ChannelError>) -> CallOutcome {
    match result {
        Ok(_) | Err(ChannelError::Declined(_)) => CallOutcome::Success,
        Err(ChannelError::Unavailable(_)) => CallOutcome::Failure,
    }
}

/// A payment channel (a payment provider): takes an order's money, says what it took, and
/// gives it back.
pub trait PaymentChannel: Send + Sync + std::fmt::Debug {
    /// The channel's configured name (`[a-z0-9_-]`, at most
    /// [`MAX_CHANNEL_BYTES`](stampede_core::MAX_CHANNEL_BYTES) bytes), as in
    /// [`Payment::channel`].
    fn name(&self) -> &ChannelName;

    /// Starts a payment of `amount` for `order` and answers what the client needs. The money
    /// moves later, when the client pays; the channel then delivers a callback to its
    /// [`CallbackSink`], and [`query`](Self::query) finds the payment.
    fn pay<'a>(
        &'a self,
        order: OrderId,
        amount: Cents,
    ) -> ChannelFuture<'a, Result<PayInstructions, ChannelError>>;

    /// Every successful payment the channel holds for `order` (several if the user paid
    /// twice), refunded ones included, oldest first. `Ok(vec![])`: definitely none.
    fn query<'a>(&'a self, order: OrderId)
    -> ChannelFuture<'a, Result<Vec<Payment>, ChannelError>>;

    /// Refunds `payment` in full. Idempotent by `idempotency_key`: a repeat refunds nothing
    /// more and answers the first receipt.
    fn refund<'a>(
        &'a self,
        payment: &'a Payment,
        idempotency_key: &'a str,
    ) -> ChannelFuture<'a, Result<RefundReceipt, ChannelError>>;
}

/// Where a channel delivers its callbacks in-process. The API wires it to the same recording
/// path as the HTTP callback, so a delivered callback and a posted one are treated alike
/// (including a repeat of the same transaction, which must change nothing).
pub trait CallbackSink: Send + Sync {
    /// Delivers one callback: `payment` was made for `order`. The future is awaited by the
    /// channel's delivery task, so a slow sink holds one of the channel's bounded deliveries.
    fn deliver(&self, order: OrderId, payment: Payment) -> ChannelFuture<'static, ()>;
}

#[cfg(test)]
mod tests;
