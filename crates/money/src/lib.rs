//! Money: everything that talks to a payment channel or a payout provider.
//!
//! The engine decides and journals; this crate does the I/O around it, never inside the
//! writer: it calls a provider and brings back what the provider answered, as a command for
//! the engine to decide. Nothing here is HTTP: the API turns these outcomes into responses.
//!
//! - [`channel`]: the [`PaymentChannel`] trait, the [`ChannelRouter`] (weights, health,
//!   breakers) and the simulated channel [`SimChannel`];
//! - [`payout`]: the [`Payout`] trait (red-packet payouts) and [`SimulatedPayout`];
//! - [`desk`]: the configured channels behind the router, each call bounded and reported to
//!   the channel's health;
//! - [`payments`]: the [`Payments`] service — start a payment, record what a channel reports
//!   (callback, query, in-process delivery), query `paying` orders, refund extra payments;
//! - [`claims`]: red-packet claims — journal `claiming`, pay out, journal the result;
//! - [`jobs`]: the query and refund jobs (woken by the writer when it opens a refund);
//! - [`reconciliation`]: the periodic reconciliation of the journal against the channels;
//! - [`txns`]: the cluster-wide claim of a channel transaction by one order.

pub mod channel;
pub mod claims;
pub mod desk;
pub mod jobs;
pub mod metrics;
pub mod payments;
pub mod payout;
pub mod reconciliation;
pub mod refund_backoff;
pub mod txns;

pub use channel::{
    CallbackSink, ChannelError, ChannelFuture, ChannelRouter, PayInstructions, PaymentChannel,
    RefundReceipt, SimChannel, SimChannelConfig,
};
pub use claims::{
    CLAIM_WAIT, ClaimOutcome, Claims, LEADER_CLAIM_QUIET, MAX_CLAIMS_IN_FLIGHT, PAYOUT_TIMEOUT,
};
pub use desk::{DeskConfig, DeskError, PaymentDesk};
pub use payments::{PayOutcome, Payments, Recorded};
pub use payout::{Payout, PayoutError, PayoutReceipt, SimulatedPayout};
pub use reconciliation::{
    JournalFile, LastReconciliation, LedgerSource, Reconciler, ReconciliationRun, Replayed,
};
pub use txns::{TxnClaim, TxnFuture, TxnRegistry};
