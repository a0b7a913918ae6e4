//! Unit tests of pricing: 9 off an order of 99 or more, stacking, ties, rounding edges and limits.

use super::*;
use crate::promotion::BASIS_POINTS_PER_WHOLE;

fn line(sku: u64, unit_price: u64, quantity: u32) -> OrderLine {
    OrderLine {
        sku: Sku(sku),
        unit_price: Cents(unit_price),
        quantity,
    }
}

fn per_item(id: u32, off: u64) -> Promotion {
    Promotion::new(
        PromotionId(id),
        PromotionRule::PerItem {
            off_per_unit: Cents(off),
        },
    )
    .unwrap()
}

fn percentage(id: u32, basis_points: u16) -> Promotion {
    Promotion::new(PromotionId(id), PromotionRule::Percentage { basis_points }).unwrap()
}

fn threshold(id: u32, threshold: u64, off: u64) -> Promotion {
    Promotion::new(
        PromotionId(id),
        PromotionRule::Threshold {
            threshold: Cents(threshold),
            off: Cents(off),
        },
    )
    .unwrap()
}

fn paid_lines(order: &PricedOrder) -> Vec<u64> {
    order.lines().iter().map(|line| line.paid.0).collect()
}

#[test]
fn ninety_nine_off_nine_applies_once_at_or_above_the_threshold() {
    let promotions = [threshold(1, 9_900, 900)];
    let below = price_order(&[line(1, 9_899, 1)], &promotions).unwrap();
    assert_eq!(
        (below.paid(), below.applied().threshold),
        (Cents(9_899), None)
    );

    let at = price_order(&[line(1, 9_900, 1)], &promotions).unwrap();
    assert_eq!(at.paid(), Cents(9_000));
    assert_eq!(at.threshold_discount(), Cents(900));
    assert_eq!(at.applied().threshold, Some(PromotionId(1)));

    // Twice the threshold still takes 9 off once, not 18.
    let double = price_order(&[line(1, 9_900, 2)], &promotions).unwrap();
    assert_eq!(double.paid(), Cents(18_900));

    // Apportioned over two lines of 60.00 and 39.00: 900 × 6000 / 9900 = 545.45 -> 545,
    // 900 × 3900 / 9900 = 354.54 -> 354, the left-over cent goes to the larger line.
    let split = price_order(&[line(1, 6_000, 1), line(2, 3_900, 1)], &promotions).unwrap();
    assert_eq!(paid_lines(&split), vec![6_000 - 546, 3_900 - 354]);
}

#[test]
fn kinds_stack_per_item_then_percentage_then_threshold() {
    // Subtotal 2 × 3000 + 1 × 5000 = 11000; 500 off per unit -> 9500; 10 % -> 950 off -> 8550;
    // "85 off 5" judged on 8550 -> 500 off -> 8050.
    let lines = [line(1, 3_000, 2), line(2, 5_000, 1)];
    let promotions = [
        threshold(3, 8_500, 500),
        percentage(2, 1_000),
        per_item(1, 500),
    ];
    let order = price_order(&lines, &promotions).unwrap();
    assert_eq!(order.subtotal(), Cents(11_000));
    assert_eq!(order.item_discount(), Cents(1_500));
    assert_eq!(order.percentage_discount(), Cents(950));
    assert_eq!(order.threshold_discount(), Cents(500));
    assert_eq!(order.paid(), Cents(8_050));
    assert_eq!(order.lines()[0].item_discount, Cents(1_000));
    assert_eq!(order.lines()[1].item_discount, Cents(500));
    // Order-level 1450 over amounts 5000 and 4500: 763.15 -> 763 and 686.84 -> 686, +1 to the
    // larger (first) line.
    assert_eq!(paid_lines(&order), vec![5_000 - 764, 4_500 - 686]);
}

#[test]
fn threshold_is_judged_after_the_percentage() {
    // 10000 at 5 % off leaves 9500: below a 99.00 threshold, so it does not apply.
    let promotions = [percentage(1, 500), threshold(2, 9_900, 900)];
    let order = price_order(&[line(1, 10_000, 1)], &promotions).unwrap();
    assert_eq!(order.applied().threshold, None);
    assert_eq!(order.paid(), Cents(9_500));
}

#[test]
fn only_the_best_of_a_kind_applies_and_ties_go_to_the_smallest_id() {
    let lines = [line(1, 10_000, 1)];
    let promotions = [
        threshold(5, 5_000, 300),
        threshold(4, 9_900, 900),
        threshold(9, 1_000, 900),
    ];
    let order = price_order(&lines, &promotions).unwrap();
    assert_eq!(order.applied().threshold, Some(PromotionId(4)));
    assert_eq!(order.paid(), Cents(9_100));

    // Per-item 300 and 500 on a 200 unit take the same 200: the smaller id wins.
    let order = price_order(&[line(1, 200, 3)], &[per_item(8, 500), per_item(7, 300)]).unwrap();
    assert_eq!(order.applied().per_item, Some(PromotionId(7)));
    assert_eq!(order.paid(), Cents(0));
}

#[test]
fn one_cent_orders() {
    let one = [line(1, 1, 1)];
    let order = price_order(&one, &[percentage(1, 9_999)]).unwrap();
    assert_eq!((order.paid(), order.applied().percentage), (Cents(1), None));
    let order = price_order(&one, &[percentage(1, BASIS_POINTS_PER_WHOLE)]).unwrap();
    assert_eq!(order.paid(), Cents(0));
    let order = price_order(&one, &[threshold(1, 0, 500)]).unwrap();
    assert_eq!(
        (order.paid(), order.threshold_discount()),
        (Cents(0), Cents(1))
    );
    let order = price_order(&one, &[per_item(1, 500)]).unwrap();
    assert_eq!((order.paid(), order.item_discount()), (Cents(0), Cents(1)));
}

#[test]
fn one_cent_over_three_equal_lines_goes_to_the_first() {
    let lines = [line(1, 100, 1), line(2, 100, 1), line(3, 100, 1)];
    let order = price_order(&lines, &[threshold(1, 300, 1)]).unwrap();
    assert_eq!(paid_lines(&order), vec![99, 100, 100]);
    let refunds: u64 = (0..3).map(|i| order.refund_for_line(i).unwrap().0).sum();
    assert_eq!(refunds, 299);
    assert_eq!(order.refund_for_line(3), None);
}

#[test]
fn a_whole_discount_leaves_every_line_at_zero() {
    let lines = [line(1, 333, 3), line(2, 1, 1), line(3, 0, 2)];
    let order = price_order(&lines, &[percentage(1, BASIS_POINTS_PER_WHOLE)]).unwrap();
    assert_eq!(order.paid(), Cents(0));
    assert_eq!(paid_lines(&order), vec![0, 0, 0]);
    assert_eq!(order.percentage_discount(), Cents(1_000));
}

#[test]
fn without_promotions_the_subtotal_is_paid() {
    let order = price_order(&[line(1, 250, 4), line(2, 0, 1)], &[]).unwrap();
    assert_eq!(order.paid(), Cents(1_000));
    assert_eq!(order.applied(), AppliedPromotions::default());
}

#[test]
fn limits_are_enforced() {
    assert_eq!(price_order(&[], &[]), Err(PricingError::NoLines));
    let many = vec![line(1, 1, 1); MAX_LINES + 1];
    assert_eq!(price_order(&many, &[]), Err(PricingError::TooManyLines));
    let lines = [line(1, 1, 1), line(2, 1, 0)];
    assert_eq!(price_order(&lines, &[]), Err(PricingError::BadQuantity(1)));
    let lines = [line(1, 1, MAX_QUANTITY + 1)];
    assert_eq!(price_order(&lines, &[]), Err(PricingError::BadQuantity(0)));
    let lines = [line(1, MAX_CENTS, 1), line(2, 1, 1)];
    assert_eq!(
        price_order(&lines, &[]),
        Err(PricingError::SubtotalTooLarge)
    );
    let lines = [line(1, MAX_CENTS, 1)];
    assert_eq!(price_order(&lines, &[]).unwrap().paid(), Cents(MAX_CENTS));

    let twice = [per_item(1, 1), threshold(1, 0, 1)];
    let one = [line(1, 1, 1)];
    let duplicate = Err(PricingError::DuplicatePromotion(PromotionId(1)));
    assert_eq!(price_order(&one, &twice), duplicate);
    let many: Vec<Promotion> = (0..=MAX_PROMOTIONS as u32)
        .map(|id| per_item(id, 1))
        .collect();
    assert_eq!(
        price_order(&one, &many),
        Err(PricingError::TooManyPromotions)
    );
}
