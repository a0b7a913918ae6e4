//! Payments: what a channel's callback reports, and what recording it came to.
//!
//! `pending_payment` → `paying` when the user starts a payment ([`crate::Ledger::start_payment`]);
//! a verified callback then moves `paying` (or `pending_payment`) → `paid` with one
//! [`crate::Record::PaymentRecorded`] ([`crate::Ledger::record_payment`]). Each campaign keeps a
//! map of the (channel, txn_id) pairs it recorded, rebuilt by replay, so a channel's retry of
//! the same transaction answers the first result and changes nothing. At most one payment is
//! recorded per order, so the map is bounded by the campaign's stock.

use serde::{Deserialize, Serialize};

use crate::money::{Cents, UnixMillis};
use crate::order::{InvalidTransition, Order};

/// Longest channel name, in bytes: names are short identifiers (`sim`, `wechat`).
pub const MAX_CHANNEL_BYTES: usize = 32;
/// Longest channel transaction id, in bytes: providers use ids of 32–64 characters; 128 bounds
/// the journal record and the per-campaign map of seen transactions.
pub const MAX_TXN_ID_BYTES: usize = 128;

/// A payment a channel reports for an order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Payment {
    /// The channel that took the money.
    pub channel: String,
    /// The channel's transaction id (unique per channel).
    pub txn_id: String,
    /// What was paid.
    pub amount_cents: Cents,
    /// When the channel says it was paid.
    pub paid_at: UnixMillis,
}

/// A payment field that breaks the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Empty, too long or not `[a-z0-9_-]`.
    #[error("channel must be 1..={MAX_CHANNEL_BYTES} bytes of [a-z0-9_-]")]
    Channel,
    /// Empty, too long or with control characters.
    #[error("txn_id must be 1..={MAX_TXN_ID_BYTES} bytes without control characters")]
    TxnId,
}

impl Payment {
    /// Checks the channel name and transaction id.
    pub fn validate(&self) -> Result<(), PaymentError> {
        validate_channel(&self.channel)?;
        if self.txn_id.is_empty()
            || self.txn_id.len() > MAX_TXN_ID_BYTES
            || self.txn_id.chars().any(char::is_control)
        {
            return Err(PaymentError::TxnId);
        }
        Ok(())
    }
}

/// Checks a channel name: 1..=[`MAX_CHANNEL_BYTES`] bytes of `[a-z0-9_-]`.
pub fn validate_channel(channel: &str) -> Result<(), PaymentError> {
    let valid = !channel.is_empty()
        && channel.len() <= MAX_CHANNEL_BYTES
        && channel
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(PaymentError::Channel)
    }
}

/// What recording a payment came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The order moved to `paid` under this payment (its record must be durable first).
    Paid(Order),
    /// This (channel, txn_id) was recorded before: the same answer, nothing changes.
    AlreadyRecorded(Order),
    /// No such order.
    NotFound,
    /// The amount differs from the order's: rejected, nothing changes.
    AmountMismatch {
        /// The order's amount.
        expected: Cents,
    },
    /// The order cannot be paid (closed, already paid under another transaction, a red
    /// packet). Late and duplicate payments are not recorded yet.
    InvalidTransition(InvalidTransition),
}

impl PaymentOutcome {
    /// The stable code the API and metrics use.
    pub fn code(&self) -> &'static str {
        match self {
            PaymentOutcome::Paid(_) => "paid",
            PaymentOutcome::AlreadyRecorded(_) => "already_recorded",
            PaymentOutcome::NotFound => "order_not_found",
            PaymentOutcome::AmountMismatch { .. } => "amount_mismatch",
            PaymentOutcome::InvalidTransition(_) => "invalid_transition",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_bounds() {
        let mut p = Payment {
            channel: "sim".into(),
            txn_id: "t-1".into(),
            amount_cents: Cents(1),
            paid_at: UnixMillis(0),
        };
        assert_eq!(p.validate(), Ok(()));
        p.txn_id = "x".repeat(MAX_TXN_ID_BYTES + 1);
        assert_eq!(p.validate(), Err(PaymentError::TxnId));
        p.txn_id = String::new();
        assert_eq!(p.validate(), Err(PaymentError::TxnId));
        p.txn_id = "t".into();
        p.channel = "Sim".into();
        assert_eq!(p.validate(), Err(PaymentError::Channel));
    }
}
