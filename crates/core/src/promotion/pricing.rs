//! Pricing a basket: choose the best promotion of each kind, stack them, apportion the
//! order-level discount over the lines.

use serde::Serialize;
use std::collections::BTreeSet;

use super::apportion::apportion;
use super::basket::{MAX_LINES, MAX_QUANTITY, OrderLine, Sku};
use super::rule::{
    MAX_PROMOTIONS, Promotion, PromotionId, PromotionRule, percentage_discount, threshold_discount,
    unit_discount,
};
use crate::money::{Cents, MAX_CENTS};

/// A basket or promotion list that cannot be priced. Mapped to HTTP 400 at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An order has at least one line.
    #[error("an order has at least one line")]
    NoLines,
    /// More than [`MAX_LINES`] lines.
    #[error("more than {MAX_LINES} lines")]
    TooManyLines,
    /// A line with quantity zero or above [`MAX_QUANTITY`]; the line's position is given.
    #[error("line {0}: quantity must be 1 ..= {MAX_QUANTITY}")]
    BadQuantity(usize),
    /// A line, or the whole order, above [`MAX_CENTS`] before promotions.
    #[error("order subtotal above the largest amount in cents")]
    SubtotalTooLarge,
    /// More than [`MAX_PROMOTIONS`] promotions.
    #[error("more than {MAX_PROMOTIONS} promotions")]
    TooManyPromotions,
    /// Two promotions share an id, which would make the choice between them ambiguous.
    #[error("promotion id {0} appears twice")]
    DuplicatePromotion(PromotionId),
}

impl PricingError {
    /// Stable code used in APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            PricingError::NoLines => "no_lines",
            PricingError::TooManyLines => "too_many_lines",
            PricingError::BadQuantity(_) => "bad_quantity",
            PricingError::SubtotalTooLarge => "subtotal_too_large",
            PricingError::TooManyPromotions => "too_many_promotions",
            PricingError::DuplicatePromotion(_) => "duplicate_promotion",
        }
    }
}

/// The promotion chosen for each kind; `None` where no promotion of that kind took anything off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppliedPromotions {
    /// The per-item promotion applied.
    pub per_item: Option<PromotionId>,
    /// The percentage promotion applied.
    pub percentage: Option<PromotionId>,
    /// The threshold promotion applied.
    pub threshold: Option<PromotionId>,
}

/// One priced line: `subtotal − item_discount − order_discount == paid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    /// What is sold.
    pub sku: Sku,
    /// Price of one unit before promotions.
    pub unit_price: Cents,
    /// Units bought.
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub subtotal: Cents,
    /// The per-item discount on this line.
    pub item_discount: Cents,
    /// This line's apportioned share of the percentage and threshold discounts.
    pub order_discount: Cents,
    /// What this line paid, and what refunding it returns.
    pub paid: Cents,
}

/// A priced order. Its invariants, asserted when it is made: the lines' paid amounts sum to
/// [`paid`](PricedOrder::paid), `subtotal == item + percentage + threshold discounts + paid`,
/// and every line satisfies its own equation with no amount below zero.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PricedOrder {
    lines: Vec<PricedLine>,
    subtotal: Cents,
    item_discount: Cents,
    percentage_discount: Cents,
    threshold_discount: Cents,
    paid: Cents,
    applied: AppliedPromotions,
}

impl PricedOrder {
    /// The priced lines, in the order given.
    pub fn lines(&self) -> &[PricedLine] {
        &self.lines
    }
    /// Sum of the lines before promotions.
    pub fn subtotal(&self) -> Cents {
        self.subtotal
    }
    /// Total taken off by the per-item promotion.
    pub fn item_discount(&self) -> Cents {
        self.item_discount
    }
    /// Taken off by the percentage promotion.
    pub fn percentage_discount(&self) -> Cents {
        self.percentage_discount
    }
    /// Taken off by the threshold promotion.
    pub fn threshold_discount(&self) -> Cents {
        self.threshold_discount
    }
    /// All discounts together.
    pub fn total_discount(&self) -> Cents {
        Cents(self.item_discount.0 + self.percentage_discount.0 + self.threshold_discount.0)
    }
    /// What the customer pays.
    pub fn paid(&self) -> Cents {
        self.paid
    }
    /// Which promotion of each kind was applied.
    pub fn applied(&self) -> AppliedPromotions {
        self.applied
    }
    /// What refunding line `index` returns: exactly what that line paid. Refunding every line
    /// once returns exactly [`paid`](PricedOrder::paid). `None` if there is no such line.
    pub fn refund_for_line(&self, index: usize) -> Option<Cents> {
        self.lines.get(index).map(|line| line.paid)
    }
}

/// Prices `lines` with the best promotion of each kind from `promotions`; the order the
/// promotions are listed in does not matter.
///
/// Three kinds of promotion, see [`PromotionRule`]:
/// - **per item**: a fixed number of cents off every unit, never below a unit's price;
/// - **percentage**: basis points off the order's remainder;
/// - **threshold** ("99 off 9"): once the order's remainder reaches the threshold, a fixed amount
///   off, applied **once** — not once per multiple of the threshold.
///
/// Within a kind only the best promotion applies: the one giving the largest discount for this
/// basket at its stage; equal discounts go to the smallest [`PromotionId`]. A promotion whose
/// discount would be zero is not applied. Kinds stack in this fixed order, each stage seeing what
/// the previous one left:
/// 1. **per item** — line by line (a per-item discount is a markdown of a line's price);
/// 2. **percentage** — on the order's remainder after per-item discounts;
/// 3. **threshold** — eligibility and amount both judged on the remainder after the percentage:
///    "spend 99" means 99 actually still to be paid, so a threshold never rewards a basket that
///    other promotions already took below it.
///
/// The choice within a kind is made stage by stage: a larger per-item discount can take a basket
/// below a threshold it would otherwise have met. That is the rule as written (best within a kind),
/// not a search over combinations.
///
/// # Rounding
///
/// The percentage discount is rounded **down** to the cent: `floor(remainder × bp / 10_000)`. The
/// discount therefore never exceeds the advertised percentage, and what the customer pays is the
/// exact price rounded up by less than one cent. 10_000 bp (100 %) takes exactly the remainder.
/// No discount ever makes a unit, a line or the order negative.
///
/// # Apportionment
///
/// Per-item discounts belong to their line. The order-level discount (percentage + threshold) is
/// spread over the lines by [`apportion`] in proportion to their amounts after per-item
/// discounts: each line gets `floor(amount × discount / total)`, the left-over cents go to the
/// largest line (first in order among equals), spilling to the next largest when a line has
/// nothing left to discount. The lines' paid amounts sum exactly to the
/// order's paid total; [`PricedOrder::refund_for_line`] returns a line's paid amount.
///
/// # Errors
/// [`PricingError`] when the basket or the promotion list breaks a limit.
pub fn price_order(
    lines: &[OrderLine],
    promotions: &[Promotion],
) -> Result<PricedOrder, PricingError> {
    let subtotals = check_lines(lines)?;
    check_promotions(promotions)?;

    // 1. Per item, line by line.
    let per_item = best(promotions.iter().filter_map(|promotion| {
        match promotion.rule() {
            PromotionRule::PerItem { off_per_unit } => Some((
                promotion.id(),
                item_discounts(lines, off_per_unit)
                    .iter()
                    .map(|d| d.0)
                    .sum(),
            )),
            _ => None,
        }
    }));
    let item_discounts = match per_item {
        Some((id, _)) => match promotions.iter().find(|p| p.id() == id).map(|p| p.rule()) {
            Some(PromotionRule::PerItem { off_per_unit }) => item_discounts(lines, off_per_unit),
            _ => unreachable!("the chosen id is a per-item promotion"),
        },
        None => vec![Cents::ZERO; lines.len()],
    };
    let amounts: Vec<Cents> = subtotals
        .iter()
        .zip(&item_discounts)
        .map(|(subtotal, discount)| Cents(subtotal.0 - discount.0))
        .collect();
    let after_items = Cents(amounts.iter().map(|amount| amount.0).sum());

    // 2. Percentage, on what per-item discounts left.
    let percentage = best(
        promotions
            .iter()
            .filter_map(|promotion| match promotion.rule() {
                PromotionRule::Percentage { basis_points } => Some((
                    promotion.id(),
                    percentage_discount(basis_points, after_items).0,
                )),
                _ => None,
            }),
    );
    let percentage_taken = Cents(percentage.map_or(0, |(_, discount)| discount));
    let after_percentage = Cents(after_items.0 - percentage_taken.0);

    // 3. Threshold, judged on and taken from what the percentage left.
    let threshold = best(
        promotions
            .iter()
            .filter_map(|promotion| match promotion.rule() {
                PromotionRule::Threshold { threshold, off } => Some((
                    promotion.id(),
                    threshold_discount(threshold, off, after_percentage).0,
                )),
                _ => None,
            }),
    );
    let threshold_taken = Cents(threshold.map_or(0, |(_, discount)| discount));
    let paid = Cents(after_percentage.0 - threshold_taken.0);

    let shares = apportion(&amounts, Cents(percentage_taken.0 + threshold_taken.0));
    let priced_lines: Vec<PricedLine> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| PricedLine {
            sku: line.sku,
            unit_price: line.unit_price,
            quantity: line.quantity,
            subtotal: subtotals[index],
            item_discount: item_discounts[index],
            order_discount: shares[index],
            paid: Cents(amounts[index].0 - shares[index].0),
        })
        .collect();
    let order = PricedOrder {
        lines: priced_lines,
        subtotal: Cents(subtotals.iter().map(|subtotal| subtotal.0).sum()),
        item_discount: Cents(item_discounts.iter().map(|discount| discount.0).sum()),
        percentage_discount: percentage_taken,
        threshold_discount: threshold_taken,
        paid,
        applied: AppliedPromotions {
            per_item: per_item.map(|(id, _)| id),
            percentage: percentage.map(|(id, _)| id),
            threshold: threshold.map(|(id, _)| id),
        },
    };
    assert_invariants(&order);
    Ok(order)
}

/// Each line's subtotal, after checking the limits that keep every sum below [`MAX_CENTS`].
fn check_lines(lines: &[OrderLine]) -> Result<Vec<Cents>, PricingError> {
    if lines.is_empty() {
        return Err(PricingError::NoLines);
    }
    if lines.len() > MAX_LINES {
        return Err(PricingError::TooManyLines);
    }
    let mut subtotals = Vec::with_capacity(lines.len());
    let mut order_subtotal: u128 = 0;
    for (index, line) in lines.iter().enumerate() {
        if line.quantity == 0 || line.quantity > MAX_QUANTITY {
            return Err(PricingError::BadQuantity(index));
        }
        let subtotal = u128::from(line.unit_price.0) * u128::from(line.quantity);
        order_subtotal += subtotal;
        if order_subtotal > u128::from(MAX_CENTS) {
            return Err(PricingError::SubtotalTooLarge);
        }
        subtotals.push(Cents(u64::try_from(subtotal).expect("below MAX_CENTS")));
    }
    Ok(subtotals)
}

fn check_promotions(promotions: &[Promotion]) -> Result<(), PricingError> {
    if promotions.len() > MAX_PROMOTIONS {
        return Err(PricingError::TooManyPromotions);
    }
    let mut seen = BTreeSet::new();
    for promotion in promotions {
        if !seen.insert(promotion.id()) {
            return Err(PricingError::DuplicatePromotion(promotion.id()));
        }
    }
    Ok(())
}

/// Per-line discounts of a per-item rule: never more than a unit's price, per unit.
fn item_discounts(lines: &[OrderLine], off_per_unit: Cents) -> Vec<Cents> {
    lines
        .iter()
        .map(|line| {
            Cents(unit_discount(off_per_unit, line.unit_price).0 * u64::from(line.quantity))
        })
        .collect()
}

/// The candidate with the largest discount, the smallest id among equals; `None` if none takes
/// anything off. Independent of the candidates' order because ids are unique.
fn best(candidates: impl Iterator<Item = (PromotionId, u64)>) -> Option<(PromotionId, u64)> {
    candidates.filter(|&(_, discount)| discount > 0).max_by(
        |(id_a, discount_a), (id_b, discount_b)| discount_a.cmp(discount_b).then(id_b.cmp(id_a)),
    )
}

fn assert_invariants(order: &PricedOrder) {
    for line in &order.lines {
        assert_eq!(
            line.subtotal.0,
            line.item_discount.0 + line.order_discount.0 + line.paid.0,
            "a line's discounts and paid amount make up its subtotal"
        );
    }
    let lines_paid: u64 = order.lines.iter().map(|line| line.paid.0).sum();
    assert_eq!(
        lines_paid, order.paid.0,
        "lines sum exactly to what was paid"
    );
    let lines_order_discount: u64 = order.lines.iter().map(|line| line.order_discount.0).sum();
    assert_eq!(
        lines_order_discount,
        order.percentage_discount.0 + order.threshold_discount.0,
        "the order-level discount is apportioned exactly"
    );
    assert_eq!(
        order.subtotal.0,
        order.total_discount().0 + order.paid.0,
        "discounts and paid amount make up the subtotal"
    );
}

#[cfg(test)]
mod tests;
