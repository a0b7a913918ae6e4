//! Payments: what a channel's callback reports, and what recording it came to.
//!
//! `pending_payment` → `paying` when the user starts a payment ([`crate::Ledger::start_payment`]);
//! a verified callback then moves `paying` (or `pending_payment`) → `paid` with one
//! [`crate::Record::PaymentRecorded`] ([`crate::Ledger::record_payment`]); a payment that comes
//! after the order closed, or pays it a second time, is recorded too and opens a refund (see
//! [`crate::PaymentKind`]). Each campaign indexes the (channel, txn_id) pairs it recorded,
//! rebuilt by replay, so a channel's retry of the same transaction answers the first result
//! and changes nothing.

use serde::{Deserialize, Serialize};

use crate::channel_name::ChannelName;
use crate::ids::{MAX_PROVIDER_ID_BYTES, is_provider_id};
use crate::money::{Cents, UnixMillis};
use crate::order::{InvalidTransition, Order};

/// Longest channel transaction id, in bytes (see [`MAX_PROVIDER_ID_BYTES`]).
pub const MAX_TXN_ID_BYTES: usize = MAX_PROVIDER_ID_BYTES;

/// A payment a channel reports for an order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Payment {
    /// The channel that took the money.
    pub channel: ChannelName,
    /// The channel's transaction id (unique per channel).
    pub txn_id: String,
    /// What was paid.
    pub amount_cents: Cents,
    /// When the channel says it was paid.
    pub paid_at: UnixMillis,
}

/// A payment field that breaks the rules (the channel's name was checked where it was read:
/// it is a [`ChannelName`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
pub enum PaymentError {
    /// Empty, too long or with control characters.
    #[error("txn_id must be 1..={MAX_TXN_ID_BYTES} bytes without control characters")]
    TxnId,
}

impl Payment {
    /// Checks the transaction id.
    pub fn validate(&self) -> Result<(), PaymentError> {
        validate_txn_id(&self.txn_id)
    }
}

/// Checks a channel transaction id: 1..=[`MAX_TXN_ID_BYTES`] bytes without control characters
/// (a callback's, a query's and a statement line's alike).
pub fn validate_txn_id(txn_id: &str) -> Result<(), PaymentError> {
    if is_provider_id(txn_id) {
        Ok(())
    } else {
        Err(PaymentError::TxnId)
    }
}

/// What a recorded payment came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaymentKind {
    /// It paid the order (`pending_payment` / `paying` → `paid`).
    Settled,
    /// It reached an order already closed (cancelled, expired): the order stays closed and the
    /// money is refunded.
    Late,
    /// It reached an order already paid by another transaction: refunded.
    Duplicate,
}

impl PaymentKind {
    /// The stable name used in the API and reports.
    pub fn code(self) -> &'static str {
        match self {
            PaymentKind::Settled => "paid",
            PaymentKind::Late => "late_payment",
            PaymentKind::Duplicate => "duplicate_payment",
        }
    }
}

/// What recording a payment came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PaymentOutcome {
    /// Recorded now (its record must be durable first): the order after, and what the payment
    /// came to (it paid the order; it came late; it paid the order twice — the last two open
    /// a refund).
    Recorded {
        /// The order after.
        order: Order,
        /// What the payment came to.
        kind: PaymentKind,
    },
    /// This (channel, txn_id) was recorded before: the same answer, nothing changes.
    AlreadyRecorded {
        /// The order now.
        order: Order,
        /// What the payment came to when it was recorded.
        kind: PaymentKind,
    },
    /// No such order.
    NotFound,
    /// The amount differs from the order's: rejected, nothing changes.
    AmountMismatch {
        /// The order's amount.
        expected: Cents,
    },
    /// The order cannot take a payment (a red packet): nothing changes.
    InvalidTransition(InvalidTransition),
    /// This (channel, txn_id) was recorded for another order, in this campaign or another:
    /// nothing changes.
    TxnConflict,
    /// The order already has [`crate::MAX_EXTRA_PAYMENTS_PER_ORDER`] late or duplicate
    /// payments: nothing changes (reconciliation against the statement finds it).
    TooManyPayments,
    /// The channel name or transaction id breaks the rules ([`Payment::validate`]): nothing
    /// changes. The HTTP callback checks first; a channel's query answer or in-process
    /// delivery reaches the ledger unchecked, so the ledger checks again.
    InvalidPayment(PaymentError),
}

impl PaymentOutcome {
    /// The stable code the API and metrics use.
    pub fn code(&self) -> &'static str {
        match self {
            PaymentOutcome::Recorded { kind, .. } => kind.code(),
            PaymentOutcome::AlreadyRecorded { .. } => "already_recorded",
            PaymentOutcome::NotFound => "order_not_found",
            PaymentOutcome::AmountMismatch { .. } => "amount_mismatch",
            PaymentOutcome::InvalidTransition(_) => "invalid_transition",
            PaymentOutcome::TxnConflict => "txn_conflict",
            PaymentOutcome::TooManyPayments => "too_many_payments",
            PaymentOutcome::InvalidPayment(_) => "invalid_payment",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_bounds() {
        let mut p = Payment {
            channel: ChannelName::parse("sim").unwrap(),
            txn_id: "t-1".into(),
            amount_cents: Cents(1),
            paid_at: UnixMillis(0),
        };
        assert_eq!(p.validate(), Ok(()));
        p.txn_id = "x".repeat(MAX_TXN_ID_BYTES + 1);
        assert_eq!(p.validate(), Err(PaymentError::TxnId));
        p.txn_id = String::new();
        assert_eq!(p.validate(), Err(PaymentError::TxnId));
        p.txn_id = "t\u{7f}".into();
        assert_eq!(
            p.validate(),
            Err(PaymentError::TxnId),
            "DEL is a control character"
        );
        p.txn_id = "x".repeat(MAX_TXN_ID_BYTES);
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(validate_txn_id("é"), Ok(()), "non-ASCII is allowed");
        assert_eq!(validate_txn_id("a\nb"), Err(PaymentError::TxnId));
    }
}
