//! Red-packet claims: the payout id a provider answers with, and what a claim request comes to.
//!
//! A claim is two journaled steps around one payout call made outside the core: `Won` →
//! `Claiming` ([`crate::Ledger::start_claim`]) before the call, then `Claiming` → `Claimed`
//! with the payout id, or back to `Won` when the payout definitely did not happen
//! ([`crate::Ledger::finish_claim`]). The payout's idempotency key is the order id, so a
//! `Claiming` order left by a crash is resolved by asking the provider about that key, never
//! by paying again.

use serde::{Deserialize, Serialize};

use crate::ids::{MAX_PROVIDER_ID_BYTES, is_provider_id};
use crate::order::{InvalidTransition, Order};

/// Longest payout id, in bytes (see [`MAX_PROVIDER_ID_BYTES`]).
pub const MAX_PAYOUT_ID_BYTES: usize = MAX_PROVIDER_ID_BYTES;

/// The provider's id of one payout.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PayoutId(String);

/// A payout id that breaks the rules (empty, too long, control characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("payout id must be 1..={MAX_PAYOUT_ID_BYTES} bytes without control characters")]
pub struct PayoutIdError;

impl PayoutId {
    /// Checks and wraps a provider's payout id.
    pub fn parse(id: impl Into<String>) -> Result<Self, PayoutIdError> {
        let id = id.into();
        if !is_provider_id(&id) {
            return Err(PayoutIdError);
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PayoutId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a request to start a claim came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClaimStart {
    /// The order moved `Won` → `Claiming`; its record must be durable before the payout call.
    Started(Order),
    /// The order is already `Claiming` (another claim is in flight, or one was left by a crash
    /// or an unknown payout result): resolve it, do not start another payout.
    InFlight(Order),
    /// Already paid out: the first result.
    Claimed(Order, PayoutId),
    /// No such order, or not the requester's.
    NotFound,
    /// Not a red packet, or its claim expired.
    InvalidTransition(InvalidTransition),
}

impl ClaimStart {
    /// The stable code the API and metrics use.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimStart::Started(_) => "started",
            ClaimStart::InFlight(_) => "claim_in_progress",
            ClaimStart::Claimed(..) => "claimed",
            ClaimStart::NotFound => "order_not_found",
            ClaimStart::InvalidTransition(_) => "invalid_transition",
        }
    }
}

/// A payout's result as far as the ledger cares.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PayoutResult {
    /// Paid, under this id.
    Paid(PayoutId),
    /// Definitely not paid (declined, or the provider has no payout under the key).
    NotPaid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_id_bounds() {
        assert!(PayoutId::parse("").is_err());
        assert!(PayoutId::parse("a\n").is_err());
        assert!(PayoutId::parse("x".repeat(MAX_PAYOUT_ID_BYTES + 1)).is_err());
        assert_eq!(PayoutId::parse("po-1").unwrap().as_str(), "po-1");
    }
}
