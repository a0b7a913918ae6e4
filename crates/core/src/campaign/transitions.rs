//! An order's moves after its win: deadlines falling due, state changes the order table allows,\nand a red packet's claim paid out.

use std::hash::BuildHasher;

use super::Campaign;
use crate::claim::PayoutId;
use crate::ids::OrderId;
use crate::money::UnixMillis;
use crate::order::OrderState;

impl Campaign {
    /// When the order at `index` expires if still unpaid or unclaimed (`None` unless
    /// `pending_payment`, `paying` or `won`). A `paying` order keeps its payment deadline: a
    /// callback that comes after it finds the order `expired`.
    pub(super) fn expires_at(&self, index: u32) -> Option<UnixMillis> {
        let slot = &self.orders[index as usize];
        if !matches!(
            slot.state,
            OrderState::PendingPayment | OrderState::Paying | OrderState::Won
        ) {
            return None;
        }
        let window = self.spec.deadline_window_millis();
        Some(UnixMillis(slot.created_at.0.saturating_add(window)))
    }

    /// The index of the next pending order whose deadline is at or before `now`, taken off
    /// the deadline queue (the caller expires it at once). Drops entries that are no longer
    /// pending on the way.
    pub(crate) fn take_due(&mut self, now: UnixMillis) -> Option<u32> {
        loop {
            let &front = self.deadlines.front()?;
            match self.expires_at(front) {
                None => {
                    self.deadlines.pop_front();
                }
                Some(deadline) if deadline <= now => {
                    self.deadlines.pop_front();
                    return Some(front);
                }
                Some(_) => return None,
            }
        }
    }

    /// The state of the order at `index` if `id` is its id (a forged id names another order).
    pub(crate) fn state_of(&self, index: u32, id: OrderId) -> Option<OrderState> {
        let slot = self.orders.get(index as usize)?;
        (self.order_id(index) == id).then_some(slot.state)
    }

    /// Whether the order at `index` may move from `from` to `to` by an
    /// [`crate::Record::OrderTransitioned`]: it is in `from`, the table allows the move, a
    /// decision makes it with such a record ([`OrderState::moves_by_transition_record`]), an
    /// expiry comes at or after the order's deadline, and (for now) a red packet never gives
    /// its packet back.
    pub(crate) fn check_transition(
        &self,
        index: u32,
        from: OrderState,
        to: OrderState,
        at: UnixMillis,
    ) -> Result<(), &'static str> {
        let slot = self
            .orders
            .get(index as usize)
            .ok_or("transition of an order that does not exist")?;
        if slot.state != from {
            return Err("transition from a state the order is not in");
        }
        if !from.can_move_to(to) {
            return Err("transition the table does not allow");
        }
        if !from.moves_by_transition_record(to) {
            return Err("transition no decision makes with a transition record");
        }
        let expiry = matches!(to, OrderState::Expired | OrderState::ClaimExpired);
        if expiry && self.expires_at(index).is_none_or(|deadline| deadline > at) {
            return Err("expiry before the order's deadline");
        }
        if from.is_live() != to.is_live() && self.pool.is_some() {
            return Err("red-packet orders do not give their packet back");
        }
        if !from.is_live() && to.is_live() {
            return Err("a released order cannot hold an item again");
        }
        Ok(())
    }

    /// Applies a checked transition. Leaving the live states returns the item: `remaining`
    /// goes up by one and the live counts down by one, exactly once, because the order has
    /// left `from` and no state leads back to a live one.
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_transition`] would reject it: the ledger checks
    /// first, once.
    pub(crate) fn apply_transition(
        &mut self,
        index: u32,
        from: OrderState,
        to: OrderState,
        at: UnixMillis,
    ) {
        debug_assert_eq!(
            self.check_transition(index, from, to, at),
            Ok(()),
            "transition checked"
        );
        let released = from.is_live() && !to.is_live();
        let slot = &mut self.orders[index as usize];
        slot.state = to;
        if to == OrderState::ClaimExpired {
            self.refundable_cents += slot.amount_cents.0;
        }
        if from == OrderState::Paying {
            self.book.stop_paying(index);
        }
        if from == OrderState::Claiming && to == OrderState::Won {
            // Back under the claim deadline; the queue may have dropped it while claiming.
            if let Err(at) = self.deadlines.binary_search(&index) {
                self.deadlines.insert(at, index);
            }
        }
        if released {
            let user = slot.user_id.clone();
            let Self {
                orders,
                by_user,
                hasher,
                ..
            } = self;
            let entry = by_user
                .find_mut(hasher.hash_one(user.as_str()), |u| {
                    orders[u.latest as usize].user_id == user
                })
                .expect("every winner is indexed");
            entry.live -= 1;
            self.remaining += 1;
            self.live_orders -= 1;
        }
        self.assert_counts();
    }

    /// Whether the order at `index` may be marked paid out: it is `claiming`.
    pub(crate) fn check_claim_paid(&self, index: u32) -> Result<(), &'static str> {
        let slot = self
            .orders
            .get(index as usize)
            .ok_or("payout of an order that does not exist")?;
        if slot.state != OrderState::Claiming {
            return Err("payout of an order that is not claiming");
        }
        Ok(())
    }

    /// Applies a checked payout: `claiming` → `claimed` under `payout`.
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_claim_paid`] would reject it: the ledger checks
    /// first, once.
    pub(crate) fn apply_claim_paid(&mut self, index: u32, payout: PayoutId) {
        debug_assert_eq!(self.check_claim_paid(index), Ok(()), "payout checked");
        self.orders[index as usize].state = OrderState::Claimed;
        self.payouts.insert(index, payout);
        self.assert_counts();
    }
}
