//! Property tests of promotions and apportionment: for any basket and promotions, the lines sum
//! exactly to what was paid, refunds return exactly that, no line goes below zero, the result
//! does not depend on the order promotions are listed in, and the best of each kind is chosen.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use stampede_core::*;

/// Small prices make ties and thresholds at the edge common; large ones test the arithmetic
/// near the `MAX_CENTS` order limit.
fn lines_strategy() -> impl Strategy<Value = Vec<OrderLine>> {
    let small = (0u64..4, 0u64..20_000, 1u32..5);
    // At most 7 lines of 10 units at MAX_CENTS / 80: up to 0.875 × MAX_CENTS in all.
    let large = (0u64..4, 0u64..=MAX_CENTS / 80, 1u32..=10);
    let line = prop_oneof![small, large].prop_map(|(sku, unit_price, quantity)| OrderLine {
        sku: Sku(sku),
        unit_price: Cents(unit_price),
        quantity,
    });
    prop::collection::vec(line, 1..8)
}

fn rule_strategy() -> impl Strategy<Value = PromotionRule> {
    prop_oneof![
        (1u64..3_000).prop_map(|off| PromotionRule::PerItem {
            off_per_unit: Cents(off)
        }),
        prop_oneof![1u16..=BASIS_POINTS_PER_WHOLE, Just(BASIS_POINTS_PER_WHOLE)]
            .prop_map(|basis_points| PromotionRule::Percentage { basis_points }),
        (0u64..60_000, 1u64..20_000).prop_map(|(threshold, off)| PromotionRule::Threshold {
            threshold: Cents(threshold),
            off: Cents(off),
        }),
    ]
}

/// Up to 8 promotions with distinct random ids.
fn promotions_strategy() -> impl Strategy<Value = Vec<Promotion>> {
    prop::collection::vec(rule_strategy(), 0..8).prop_flat_map(|rules| {
        let count = rules.len();
        prop::collection::btree_set(0u32..50, count).prop_map(move |ids| {
            ids.into_iter()
                .zip(&rules)
                .map(|(id, rule)| Promotion::new(PromotionId(id), *rule).unwrap())
                .collect()
        })
    })
}

fn applied_of(order: &PricedOrder, kind: PromotionKind) -> (Option<PromotionId>, Cents) {
    let applied = order.applied();
    match kind {
        PromotionKind::PerItem => (applied.per_item, order.item_discount()),
        PromotionKind::Percentage => (applied.percentage, order.percentage_discount()),
        PromotionKind::Threshold => (applied.threshold, order.threshold_discount()),
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lines_sum_exactly_and_none_goes_negative(
        lines in lines_strategy(),
        promotions in promotions_strategy(),
    ) {
        let order = price_order(&lines, &promotions).unwrap();
        let subtotal: u64 = lines.iter().map(|l| l.unit_price.0 * u64::from(l.quantity)).sum();
        prop_assert_eq!(order.subtotal(), Cents(subtotal));
        prop_assert!(order.total_discount() <= order.subtotal());
        prop_assert_eq!(order.subtotal().0, order.total_discount().0 + order.paid().0);

        let mut paid_sum = 0;
        let mut order_discount_sum = 0;
        for (line, priced) in lines.iter().zip(order.lines()) {
            prop_assert_eq!(priced.subtotal.0, line.unit_price.0 * u64::from(line.quantity));
            prop_assert!(priced.item_discount.0 + priced.order_discount.0 <= priced.subtotal.0);
            prop_assert_eq!(
                priced.paid.0,
                priced.subtotal.0 - priced.item_discount.0 - priced.order_discount.0
            );
            paid_sum += priced.paid.0;
            order_discount_sum += priced.order_discount.0;
        }
        prop_assert_eq!(paid_sum, order.paid().0);
        prop_assert_eq!(
            order_discount_sum,
            order.percentage_discount().0 + order.threshold_discount().0
        );

        // Refunding every line, in any order, returns exactly what was paid.
        let refunds: u64 =
            (0..lines.len()).rev().map(|i| order.refund_for_line(i).unwrap().0).sum();
        prop_assert_eq!(refunds, order.paid().0);
        prop_assert_eq!(order.refund_for_line(lines.len()), None);
    }

    #[test]
    fn pricing_is_deterministic_and_independent_of_listing_order(
        lines in lines_strategy(),
        (promotions, shuffled) in promotions_strategy()
            .prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
    ) {
        let first = price_order(&lines, &promotions).unwrap();
        prop_assert_eq!(&first, &price_order(&lines, &promotions).unwrap());
        prop_assert_eq!(&first, &price_order(&lines, &shuffled).unwrap());
        let mut reversed = promotions.clone();
        reversed.reverse();
        prop_assert_eq!(&first, &price_order(&lines, &reversed).unwrap());
    }

    #[test]
    fn the_best_of_each_kind_is_chosen(
        lines in lines_strategy(),
        promotions in promotions_strategy(),
    ) {
        let order = price_order(&lines, &promotions).unwrap();
        let applied = order.applied();
        let chosen: Vec<Promotion> = promotions
            .iter()
            .copied()
            .filter(|p| {
                [applied.per_item, applied.percentage, applied.threshold].contains(&Some(p.id()))
            })
            .collect();
        for candidate in &promotions {
            let kind = candidate.kind();
            // The candidate alone in its kind, with the chosen promotions of the other kinds:
            // its stage sees the same input as the chosen promotion's stage did.
            let mut alone: Vec<Promotion> =
                chosen.iter().copied().filter(|p| p.kind() != kind).collect();
            alone.push(*candidate);
            let with_candidate = price_order(&lines, &alone).unwrap();
            let (_, candidate_discount) = applied_of(&with_candidate, kind);
            let (chosen_id, chosen_discount) = applied_of(&order, kind);
            prop_assert!(candidate_discount <= chosen_discount);
            if candidate_discount == chosen_discount && candidate_discount > Cents::ZERO {
                // Equal discounts go to the smallest id.
                prop_assert!(chosen_id.unwrap() <= candidate.id());
            }
            if chosen_id == Some(candidate.id()) {
                prop_assert_eq!(candidate_discount, chosen_discount);
            }
        }
    }

    #[test]
    fn apportion_is_exact_proportional_and_never_negative(
        amounts in prop::collection::vec(prop_oneof![0u64..10, 0u64..=MAX_CENTS], 0..MAX_LINES),
        fraction in 0u64..=1_000,
        short_of_total in prop_oneof![Just(None), (0u64..10).prop_map(Some)],
    ) {
        let amounts: Vec<Cents> = amounts.into_iter().map(Cents).collect();
        let total: u128 = amounts.iter().map(|a| u128::from(a.0)).sum();
        // Either a fraction of the total, or a few cents short of all of it: there the floors
        // leave the most cents over and the largest line has the least room.
        let discount = match short_of_total {
            None => total * u128::from(fraction) / 1_000,
            Some(short) => total.saturating_sub(u128::from(short)),
        };
        let discount = u64::try_from(discount).unwrap();
        let shares = apportion(&amounts, Cents(discount));
        prop_assert_eq!(shares.len(), amounts.len());
        prop_assert_eq!(shares.iter().map(|s| u128::from(s.0)).sum::<u128>(), u128::from(discount));
        for (amount, share) in amounts.iter().zip(&shares) {
            prop_assert!(share <= amount);
            // Never less than the line's rounded-down proportional share.
            if let Some(floor) = (u128::from(amount.0) * u128::from(discount)).checked_div(total) {
                prop_assert!(u128::from(share.0) >= floor);
            }
        }
        prop_assert_eq!(&shares, &apportion(&amounts, Cents(discount)));
    }
}
