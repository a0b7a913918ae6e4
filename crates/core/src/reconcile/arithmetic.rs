//! The campaign-wide sums, as pure functions over numbers: whether stock and red-packet money
//! add up. The figures are recomputed from the orders by the caller, beside the counters the
//! campaign keeps, so a counter that drifted from its orders is caught.

use super::discrepancy::DiscrepancyCode;

/// Item (or packet) counts of one campaign: `remaining` as the campaign keeps it, the rest
/// recomputed from its orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StockFigures {
    /// Items in total (the spec).
    pub total: u64,
    /// The campaign's counter of items not held by an order.
    pub remaining: u64,
    /// Orders ever created.
    pub created: u64,
    /// Orders that hold an item now ([`crate::OrderState::is_live`]).
    pub live: u64,
    /// Orders that gave their item back (every order that is not live).
    pub released: u64,
}

/// Why the stock does not add up, or `None` when it does. Two equations, both needed:
///
/// - `total == remaining + live`: every item is either in stock or held by a live order;
/// - `remaining == total − created + released`: stock went down once per order created and
///   up once per order released (a released item is back in `remaining`, so it is not added
///   again on the first line).
///
/// Together they also give `created == live + released`.
pub(crate) fn stock_problem(f: &StockFigures) -> Option<String> {
    let mut problems = Vec::new();
    let held = u128::from(f.remaining) + u128::from(f.live);
    if held != u128::from(f.total) {
        problems.push(format!(
            "total {} != remaining {} + live orders {}",
            f.total, f.remaining, f.live
        ));
    }
    let expected = i128::from(f.total) - i128::from(f.created) + i128::from(f.released);
    if i128::from(f.remaining) != expected {
        problems.push(format!(
            "remaining {} != total {} - orders created {} + orders released {}",
            f.remaining, f.total, f.created, f.released
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// One red-packet campaign's money and count: the pool as kept, the sums recomputed from the
/// packets drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PacketFigures {
    /// Money in the pool at creation.
    pub total_cents: u64,
    /// Sum of every packet drawn (every order's amount).
    pub drawn_cents: u64,
    /// The pool's money left, as kept.
    pub pool_remaining_cents: u64,
    /// The pool's packets left, as kept.
    pub pool_remaining_count: u64,
    /// The campaign's counter of packets not won.
    pub remaining: u64,
    /// Sum of `claim_expired` packets, recomputed.
    pub claim_expired_cents: u64,
    /// The campaign's running refundable sum.
    pub refundable_cents: u64,
}

/// What does not add up in a red-packet campaign: drawn + pool == total (no cent created or
/// lost), the pool's count agrees with the campaign's, and the refundable sum is exactly the
/// expired packets.
pub(crate) fn packet_problems(f: &PacketFigures) -> Vec<(DiscrepancyCode, String)> {
    let mut problems = Vec::new();
    let accounted = u128::from(f.drawn_cents) + u128::from(f.pool_remaining_cents);
    if accounted != u128::from(f.total_cents) {
        problems.push((
            DiscrepancyCode::RedPacketSumMismatch,
            format!(
                "drawn {} + pool {} != total {} cents",
                f.drawn_cents, f.pool_remaining_cents, f.total_cents
            ),
        ));
    }
    if f.pool_remaining_count != f.remaining {
        problems.push((
            DiscrepancyCode::RedPacketSumMismatch,
            format!(
                "pool holds {} packets but the campaign counts {} remaining",
                f.pool_remaining_count, f.remaining
            ),
        ));
    }
    if f.claim_expired_cents != f.refundable_cents {
        problems.push((
            DiscrepancyCode::RefundableMismatch,
            format!(
                "refundable {} cents != sum of claim_expired packets {} cents",
                f.refundable_cents, f.claim_expired_cents
            ),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(total: u64, remaining: u64, created: u64, live: u64, released: u64) -> StockFigures {
        StockFigures {
            total,
            remaining,
            created,
            live,
            released,
        }
    }

    #[test]
    fn consistent_stock_passes() {
        assert_eq!(stock_problem(&stock(10, 10, 0, 0, 0)), None);
        assert_eq!(stock_problem(&stock(10, 4, 8, 6, 2)), None);
        assert_eq!(stock_problem(&stock(3, 0, 3, 3, 0)), None);
    }

    #[test]
    fn the_issue_formula_would_double_count_released_items() {
        // total 10, 8 orders, 2 released: remaining 4 already includes the 2 returned items.
        let f = stock(10, 4, 8, 6, 2);
        assert_ne!(f.remaining + f.live + f.released, f.total);
        assert_eq!(stock_problem(&f), None);
    }

    #[test]
    fn oversold_stock_is_found() {
        // A lost release: the order is closed but its item never came back.
        let problem = stock_problem(&stock(10, 2, 8, 6, 2)).unwrap();
        assert!(problem.contains("total 10 != remaining 2 + live orders 6"));
        assert!(problem.contains("remaining 2 != total 10 - orders created 8"));
        // A counter that drifted alone.
        assert!(stock_problem(&stock(10, 5, 8, 6, 2)).is_some());
        // Orders that vanished from the list (created short of live + released).
        assert!(
            stock_problem(&stock(10, 4, 7, 6, 2))
                .unwrap()
                .contains("created 7")
        );
    }

    #[test]
    fn extreme_figures_do_not_overflow() {
        assert!(stock_problem(&stock(u64::MAX, u64::MAX, 0, u64::MAX, u64::MAX)).is_some());
        assert!(stock_problem(&stock(0, 0, u64::MAX, 0, 0)).is_some());
    }

    fn packets() -> PacketFigures {
        PacketFigures {
            total_cents: 1000,
            drawn_cents: 700,
            pool_remaining_cents: 300,
            pool_remaining_count: 3,
            remaining: 3,
            claim_expired_cents: 50,
            refundable_cents: 50,
        }
    }

    #[test]
    fn consistent_packets_pass() {
        assert!(packet_problems(&packets()).is_empty());
    }

    #[test]
    fn packet_money_created_or_lost_is_found() {
        let codes = |f: PacketFigures| -> Vec<DiscrepancyCode> {
            packet_problems(&f).into_iter().map(|(c, _)| c).collect()
        };
        let mut f = packets();
        f.drawn_cents = 701;
        assert_eq!(codes(f), [DiscrepancyCode::RedPacketSumMismatch]);
        f = packets();
        f.pool_remaining_count = 2;
        assert_eq!(codes(f), [DiscrepancyCode::RedPacketSumMismatch]);
        f = packets();
        f.refundable_cents = 0;
        assert_eq!(codes(f), [DiscrepancyCode::RefundableMismatch]);
        f.drawn_cents = u64::MAX;
        f.pool_remaining_cents = u64::MAX;
        assert_eq!(codes(f).len(), 2, "no overflow on absurd figures");
    }
}
