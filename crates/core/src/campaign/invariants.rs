//! The campaign's invariants, asserted after every applied batch and after replay: counts that\nagree with the orders, indexes that agree with each other.

use std::collections::HashMap;

use super::Campaign;
use crate::order::OrderState;
use crate::spec::CampaignSpec;

impl Campaign {
    /// `remaining + live orders == total`, the never-oversell invariant, O(1).
    pub fn assert_counts(&self) {
        assert_eq!(
            self.remaining + self.live_orders,
            self.total(),
            "campaign {} oversold or lost stock",
            self.id
        );
        if let Some(pool) = &self.pool {
            assert_eq!(
                pool.remaining_count, self.remaining,
                "pool count out of step"
            );
        }
    }

    /// Full check, O(orders): counts, per-user limits and, for red packets, exact money.
    pub fn assert_invariants(&self) {
        self.assert_counts();
        let live = self.orders.iter().filter(|o| o.state.is_live()).count() as u64;
        assert_eq!(live, self.live_orders, "live order count out of step");
        let mut per_user: HashMap<&str, (u32, u32)> = HashMap::new();
        for o in &self.orders {
            let counts = per_user.entry(o.user_id.as_str()).or_default();
            counts.0 += u32::from(o.state.is_live());
            counts.1 += 1;
        }
        let limit = self.spec.per_user_limit();
        let regrab = self.spec.regrab_after_release();
        assert!(
            per_user
                .values()
                .all(|&(live, held)| live <= limit && (regrab || held <= limit)),
            "a user above the per-user limit"
        );
        let mut users: Vec<&str> = self.orders.iter().map(|o| o.user_id.as_str()).collect();
        users.sort_unstable();
        users.dedup();
        assert_eq!(
            users.len(),
            self.by_user.len(),
            "per-user index out of step"
        );
        for (user, &(live, held)) in &per_user {
            let indexed = self.user_orders(user).expect("every winner is indexed");
            assert_eq!(indexed.live, live, "per-user live count out of step");
            assert_eq!(indexed.held, held, "per-user order count out of step");
        }
        let queued: std::collections::HashSet<u32> = self.deadlines.iter().copied().collect();
        for index in (0..self.orders.len() as u32).filter(|&i| self.expires_at(i).is_some()) {
            assert!(
                queued.contains(&index),
                "a pending order without a deadline"
            );
        }
        let claimed = self
            .orders
            .iter()
            .filter(|o| o.state == OrderState::Claimed)
            .count();
        assert_eq!(claimed, self.payouts.len(), "payouts out of step");
        assert!(
            self.payouts
                .keys()
                .all(|&i| self.orders[i as usize].state == OrderState::Claimed),
            "a payout for an order that is not claimed"
        );
        self.assert_payment_invariants();
        let refundable: u64 = self
            .orders
            .iter()
            .filter(|o| o.state == OrderState::ClaimExpired)
            .map(|o| o.amount_cents.0)
            .sum();
        assert_eq!(refundable, self.refundable_cents, "refundable out of step");
        if let (CampaignSpec::RedPacket(r), Some(pool)) = (&self.spec, &self.pool) {
            let paid: u64 = self.orders.iter().map(|o| o.amount_cents.0).sum();
            assert_eq!(
                paid + pool.remaining_cents.0,
                r.total_cents.0,
                "red packets lost money"
            );
            assert!(self.orders.iter().all(|o| o.amount_cents >= r.min_cents));
        }
    }
}
