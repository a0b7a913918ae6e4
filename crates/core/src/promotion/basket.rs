//! What is being bought: order lines and the limits that keep their arithmetic exact.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::money::Cents;

/// Most lines one order may carry. A flash-sale order has one or a few; 200 is above any
/// shopping cart we know of, and bounds pricing and apportionment to a few hundred steps.
pub const MAX_LINES: usize = 200;

/// Most units on one line. 10_000 is a wholesale pallet, not a flash-sale purchase. With a unit
/// price of at most [`MAX_CENTS`](crate::MAX_CENTS) (10^12) a line is at most 10^16 cents, so
/// `MAX_LINES` lines sum to at most 2 × 10^18 < `u64::MAX` even before the order's own cap of
/// `MAX_CENTS` on its subtotal is checked.
pub const MAX_QUANTITY: u32 = 10_000;

/// A stock-keeping unit: what a line sells. Lines are told apart by position, so the same SKU
/// may appear on two lines.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Sku(pub u64);

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One line of an order: `quantity` units of `sku` at `unit_price` each, before promotions.
/// Checked by [`price_order`](crate::price_order): quantity 1 ..= [`MAX_QUANTITY`], price at
/// most [`MAX_CENTS`](crate::MAX_CENTS) (zero is allowed: a free gift).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderLine {
    /// What is sold.
    pub sku: Sku,
    /// Price of one unit before promotions.
    pub unit_price: Cents,
    /// Units bought.
    pub quantity: u32,
}
