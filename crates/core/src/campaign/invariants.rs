//! The campaign's invariants, asserted after every applied batch and after replay, and checked
//! (as an error, not a panic) on a restored snapshot: counts that agree with the orders,
//! indexes that agree with each other.

use std::collections::HashMap;

use super::Campaign;
use crate::order::OrderState;
use crate::spec::CampaignSpec;

impl Campaign {
    /// `remaining + live orders == total`, the never-oversell invariant, O(1).
    pub fn assert_counts(&self) {
        if let Err(why) = self.check_counts() {
            panic!("{why}");
        }
    }

    fn check_counts(&self) -> Result<(), String> {
        ensure!(
            self.remaining.checked_add(self.live_orders) == Some(self.total()),
            "campaign {} oversold or lost stock",
            self.id
        );
        if let Some(pool) = &self.pool {
            ensure!(
                pool.remaining_count == self.remaining,
                "pool count out of step"
            );
        }
        Ok(())
    }

    /// Full check, O(orders): counts, per-user limits and, for red packets, exact money.
    ///
    /// # Panics
    /// If an invariant is broken (the message names it).
    pub fn assert_invariants(&self) {
        if let Err(why) = self.check_invariants() {
            panic!("{why}");
        }
    }

    /// [`Campaign::assert_invariants`] as an error naming the broken invariant.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.check_counts()?;
        let live = self.orders.iter().filter(|o| o.state.is_live()).count() as u64;
        ensure!(live == self.live_orders, "live order count out of step");
        let mut per_user: HashMap<&str, (u32, u32)> = HashMap::with_capacity(self.by_user.len());
        for o in &self.orders {
            let counts = per_user.entry(o.user_id.as_str()).or_default();
            counts.0 += u32::from(o.state.is_live());
            counts.1 += 1;
        }
        let limit = self.spec.per_user_limit();
        let regrab = self.spec.regrab_after_release();
        ensure!(
            per_user
                .values()
                .all(|&(live, held)| live <= limit && (regrab || held <= limit)),
            "a user above the per-user limit"
        );
        ensure!(
            per_user.len() == self.by_user.len(),
            "per-user index out of step"
        );
        for (user, &(live, held)) in &per_user {
            let indexed = self.user_orders(user).ok_or("a winner is not indexed")?;
            ensure!(indexed.live == live, "per-user live count out of step");
            ensure!(indexed.held == held, "per-user order count out of step");
        }
        let queued: std::collections::HashSet<u32> = self.deadlines.iter().copied().collect();
        ensure!(
            queued.iter().all(|&i| (i as usize) < self.orders.len()),
            "a deadline for an order that does not exist"
        );
        for index in (0..self.orders.len() as u32).filter(|&i| self.expires_at(i).is_some()) {
            ensure!(
                queued.contains(&index),
                "a pending order without a deadline"
            );
        }
        let claimed = self
            .orders
            .iter()
            .filter(|o| o.state == OrderState::Claimed)
            .count();
        ensure!(claimed == self.payouts.len(), "payouts out of step");
        ensure!(
            self.payouts.keys().all(|&i| self
                .orders
                .get(i as usize)
                .is_some_and(|o| o.state == OrderState::Claimed)),
            "a payout for an order that is not claimed"
        );
        self.check_payment_invariants()?;
        self.check_keys()?;
        let refundable: u64 = self
            .orders
            .iter()
            .filter(|o| o.state == OrderState::ClaimExpired)
            .map(|o| o.amount_cents.0)
            .sum();
        ensure!(
            refundable == self.refundable_cents,
            "refundable out of step"
        );
        if let (CampaignSpec::RedPacket(r), Some(pool)) = (&self.spec, &self.pool) {
            let paid: u64 = self.orders.iter().map(|o| o.amount_cents.0).sum();
            ensure!(
                paid.checked_add(pool.remaining_cents.0) == Some(r.total_cents.0),
                "red packets lost money"
            );
            ensure!(
                self.orders.iter().all(|o| o.amount_cents >= r.min_cents),
                "a red packet below the minimum"
            );
        }
        Ok(())
    }
}
