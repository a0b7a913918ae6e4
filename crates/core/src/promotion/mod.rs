//! Promotions and apportionment (S2.4): what a basket costs after its promotions, and what each
//! line of it paid, so that a refund of one line returns exactly that line's share.
//!
//! Pure arithmetic on integer cents: no I/O, no clock, no floats. Percentages are integer basis
//! points (1 bp = 0.01 %).
//!
//! The semantics — kinds, stacking order, rounding, apportionment — are documented once, on
//! [`price_order`].

mod apportion;
mod basket;
mod pricing;
mod rule;

pub use apportion::apportion;
pub use basket::{MAX_LINES, MAX_QUANTITY, OrderLine, Sku};
pub use pricing::{AppliedPromotions, PricedLine, PricedOrder, PricingError, price_order};
pub use rule::{
    BASIS_POINTS_PER_WHOLE, MAX_PROMOTIONS, Promotion, PromotionError, PromotionId, PromotionKind,
    PromotionRule,
};
