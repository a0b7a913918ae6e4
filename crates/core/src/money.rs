//! Money is integer cents, everywhere. There is no float anywhere near an amount.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest amount any single field may carry: 10^12 cents (ten billion in the currency's
/// unit). Far above any campaign we expect, and small enough that sums of ten million of them
/// cannot overflow `u64`.
pub const MAX_CENTS: u64 = 1_000_000_000_000;

/// An amount of money in integer cents.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cents(pub u64);

impl Cents {
    /// Zero cents.
    pub const ZERO: Cents = Cents(0);

    /// Checked addition.
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    /// Saturating addition (report totals: a sum past `u64::MAX` cents stays there).
    pub fn saturating_add(self, other: Cents) -> Cents {
        Cents(self.0.saturating_add(other.0))
    }

    /// Checked subtraction.
    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }
}

impl fmt::Debug for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}c", self.0)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

pub use stampede_clock::UnixMillis;
