//! The promotions a basket may be priced with, each validated when it is made.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::money::{Cents, MAX_CENTS};

/// Basis points in a whole: 10_000 bp = 100 %.
pub const BASIS_POINTS_PER_WHOLE: u16 = 10_000;

/// Most promotions one pricing may weigh. A campaign runs a handful; 64 leaves room for a
/// platform's stacked campaigns while keeping pricing a few thousand operations at most.
pub const MAX_PROMOTIONS: usize = 64;

/// Identifies a promotion. Ties between equal discounts go to the smallest id, so the id is
/// what makes the choice deterministic.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PromotionId(pub u32);

impl fmt::Display for PromotionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The kinds of promotion, in the order they stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    /// Fixed cents off every unit. Applied first, line by line.
    PerItem,
    /// Basis points off the order's remainder. Applied second.
    Percentage,
    /// "Spend X, get Y off", once. Applied last.
    Threshold,
}

impl PromotionKind {
    /// Stable code used in APIs and logs.
    pub fn code(self) -> &'static str {
        match self {
            PromotionKind::PerItem => "per_item",
            PromotionKind::Percentage => "percentage",
            PromotionKind::Threshold => "threshold",
        }
    }
}

/// What a promotion takes off. [`price_order`](crate::price_order) documents stacking and
/// rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromotionRule {
    /// `off_per_unit` off every unit of every line; a unit cheaper than that becomes free.
    PerItem {
        /// Cents off one unit.
        off_per_unit: Cents,
    },
    /// `basis_points / 10_000` of the remainder, rounded down to the cent.
    Percentage {
        /// 1 ..= 10_000 (0.01 % ..= 100 %).
        basis_points: u16,
    },
    /// When the remainder is at least `threshold`, `off` is taken off once (never below zero).
    /// "99 off 9" is `threshold: 9900, off: 900`. A zero threshold is a coupon without a floor.
    Threshold {
        /// Smallest remainder that qualifies.
        threshold: Cents,
        /// Cents taken off once.
        off: Cents,
    },
}

impl PromotionRule {
    /// The kind of this rule.
    pub fn kind(&self) -> PromotionKind {
        match self {
            PromotionRule::PerItem { .. } => PromotionKind::PerItem,
            PromotionRule::Percentage { .. } => PromotionKind::Percentage,
            PromotionRule::Threshold { .. } => PromotionKind::Threshold,
        }
    }
}

/// A rule a promotion breaks when it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    /// A promotion that takes nothing off is a mistake in the campaign, not a promotion.
    #[error("promotion {0} takes nothing off")]
    ZeroDiscount(PromotionId),
    /// More than 100 %.
    #[error("promotion {0}: basis points above 10000 (100 %)")]
    PercentageAboveWhole(PromotionId),
    /// An amount above [`MAX_CENTS`].
    #[error("promotion {0}: amount above the largest amount in cents")]
    AmountTooLarge(PromotionId),
}

impl PromotionError {
    /// Stable code used in APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            PromotionError::ZeroDiscount(_) => "zero_discount",
            PromotionError::PercentageAboveWhole(_) => "percentage_above_whole",
            PromotionError::AmountTooLarge(_) => "amount_too_large",
        }
    }
}

/// A validated promotion: an id and a rule whose amounts are in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PromotionFields", into = "PromotionFields")]
pub struct Promotion {
    id: PromotionId,
    rule: PromotionRule,
}

impl Promotion {
    /// A promotion, if its rule takes something off and stays within [`MAX_CENTS`] and 100 %.
    pub fn new(id: PromotionId, rule: PromotionRule) -> Result<Promotion, PromotionError> {
        let (taken, amounts) = match rule {
            PromotionRule::PerItem { off_per_unit } => (off_per_unit.0, [off_per_unit.0, 0]),
            PromotionRule::Percentage { basis_points } => {
                if basis_points > BASIS_POINTS_PER_WHOLE {
                    return Err(PromotionError::PercentageAboveWhole(id));
                }
                (u64::from(basis_points), [0, 0])
            }
            PromotionRule::Threshold { threshold, off } => (off.0, [threshold.0, off.0]),
        };
        if taken == 0 {
            return Err(PromotionError::ZeroDiscount(id));
        }
        if amounts.iter().any(|&amount| amount > MAX_CENTS) {
            return Err(PromotionError::AmountTooLarge(id));
        }
        Ok(Promotion { id, rule })
    }

    /// Its id.
    pub fn id(&self) -> PromotionId {
        self.id
    }

    /// Its rule.
    pub fn rule(&self) -> PromotionRule {
        self.rule
    }

    /// Its kind.
    pub fn kind(&self) -> PromotionKind {
        self.rule.kind()
    }
}

/// What a promotion looks like on the wire; deserializing goes through [`Promotion::new`].
#[derive(Serialize, Deserialize)]
struct PromotionFields {
    id: PromotionId,
    rule: PromotionRule,
}

impl TryFrom<PromotionFields> for Promotion {
    type Error = PromotionError;

    fn try_from(fields: PromotionFields) -> Result<Promotion, PromotionError> {
        Promotion::new(fields.id, fields.rule)
    }
}

impl From<Promotion> for PromotionFields {
    fn from(promotion: Promotion) -> PromotionFields {
        PromotionFields {
            id: promotion.id,
            rule: promotion.rule,
        }
    }
}

/// Cents off one unit of `unit_price` under a per-item rule: never more than the unit costs.
pub(crate) fn unit_discount(off_per_unit: Cents, unit_price: Cents) -> Cents {
    Cents(off_per_unit.0.min(unit_price.0))
}

/// `floor(remainder × basis_points / 10_000)`: rounded down, so never above the percentage.
/// The product is taken in `u128`, so no remainder up to `u64::MAX` can overflow it.
pub(crate) fn percentage_discount(basis_points: u16, remainder: Cents) -> Cents {
    assert!(
        basis_points <= BASIS_POINTS_PER_WHOLE,
        "percentage above 100 %"
    );
    let discount =
        u128::from(remainder.0) * u128::from(basis_points) / u128::from(BASIS_POINTS_PER_WHOLE);
    let discount = u64::try_from(discount).expect("a share of a u64 fits a u64");
    assert!(discount <= remainder.0);
    Cents(discount)
}

/// `off` once, capped at the remainder, when the remainder reaches `threshold`; otherwise zero.
pub(crate) fn threshold_discount(threshold: Cents, off: Cents, remainder: Cents) -> Cents {
    if remainder >= threshold {
        Cents(off.0.min(remainder.0))
    } else {
        Cents::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_what_is_not_a_promotion() {
        let id = PromotionId(7);
        let zero = PromotionRule::PerItem {
            off_per_unit: Cents(0),
        };
        assert_eq!(
            Promotion::new(id, zero),
            Err(PromotionError::ZeroDiscount(id))
        );
        let too_much = PromotionRule::Percentage {
            basis_points: 10_001,
        };
        assert_eq!(
            Promotion::new(id, too_much),
            Err(PromotionError::PercentageAboveWhole(id))
        );
        let too_large = PromotionRule::Threshold {
            threshold: Cents(MAX_CENTS + 1),
            off: Cents(1),
        };
        assert_eq!(
            Promotion::new(id, too_large),
            Err(PromotionError::AmountTooLarge(id))
        );
    }

    #[test]
    fn percentage_rounds_the_discount_down() {
        assert_eq!(percentage_discount(1_000, Cents(99)), Cents(9)); // 9.9 -> 9
        assert_eq!(percentage_discount(10_000, Cents(1)), Cents(1));
        assert_eq!(percentage_discount(9_999, Cents(1)), Cents(0));
        assert_eq!(
            percentage_discount(10_000, Cents(u64::MAX)),
            Cents(u64::MAX)
        );
    }

    #[test]
    fn threshold_applies_once_and_never_below_zero() {
        let (threshold, off) = (Cents(9_900), Cents(900));
        assert_eq!(threshold_discount(threshold, off, Cents(9_899)), Cents(0));
        assert_eq!(threshold_discount(threshold, off, Cents(9_900)), Cents(900));
        assert_eq!(
            threshold_discount(threshold, off, Cents(19_800)),
            Cents(900)
        );
        assert_eq!(
            threshold_discount(Cents(0), Cents(500), Cents(300)),
            Cents(300)
        );
    }
}
