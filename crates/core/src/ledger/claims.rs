//! Red-packet claims: `won` → `claiming` while the payout provider is asked, then `claimed` with
//! its payout id (or back to `won` when it declines).

use super::Ledger;
use crate::claim::{ClaimStart, PayoutId, PayoutResult};
use crate::decision::Decision;
use crate::ids::{OrderId, UserId};
use crate::money::UnixMillis;
use crate::order::OrderState;
use crate::record::Record;

impl Ledger {
    /// Decides the start of a red-packet claim of `order_id` by `by` (`None`: the admin) and
    /// applies it if allowed: `won` → `claiming` (the record must be durable before the
    /// payout is called). Another user's order answers `NotFound`; an order already claiming
    /// or claimed answers so without a record.
    pub fn start_claim(
        &mut self,
        order_id: OrderId,
        by: Option<&UserId>,
        now: UnixMillis,
    ) -> Decision<ClaimStart> {
        let rejected = Decision::unchanged;
        let Some(order) = self.order(order_id) else {
            return rejected(ClaimStart::NotFound);
        };
        if by.is_some_and(|user| *user != order.user_id) {
            return rejected(ClaimStart::NotFound);
        }
        match order.state {
            OrderState::Claiming => return rejected(ClaimStart::InFlight(order)),
            OrderState::Claimed => {
                let payout = self
                    .payout_id(order_id)
                    .expect("a claimed order has a payout");
                return rejected(ClaimStart::Claimed(order, payout));
            }
            _ => {}
        }
        match self.move_order(&order, OrderState::Claiming, now) {
            Ok((record, after)) => Decision::recorded(ClaimStart::Started(after), record),
            Err(invalid) => rejected(ClaimStart::InvalidTransition(invalid)),
        }
    }

    /// Decides the end of a claim: `claiming` → `claimed` under the payout, or back to `won`
    /// when it was definitely not paid. Answers `false` (nothing to journal) when the order is
    /// not `claiming` (already resolved).
    pub fn finish_claim(
        &mut self,
        order_id: OrderId,
        result: &PayoutResult,
        now: UnixMillis,
    ) -> Decision<bool> {
        let Some(order) = self.order(order_id) else {
            return Decision::unchanged(false);
        };
        if order.state != OrderState::Claiming {
            return Decision::unchanged(false);
        }
        let record = match result {
            PayoutResult::Paid(payout_id) => {
                let record = Record::ClaimPaid {
                    campaign_id: order.campaign_id,
                    order_id,
                    payout_id: payout_id.clone(),
                    at: now,
                };
                self.apply(&record)
                    .expect("a freshly decided payout applies");
                record
            }
            PayoutResult::NotPaid => {
                self.move_order(&order, OrderState::Won, now)
                    .expect("a claiming order may go back to won")
                    .0
            }
        };
        Decision::recorded(true, record)
    }

    /// The payout of a `claimed` order.
    pub fn payout_id(&self, order_id: OrderId) -> Option<PayoutId> {
        let (slot, index) = self.place_of(order_id)?;
        self.campaigns[slot as usize].payout_of(index).cloned()
    }

    /// Every order left `claiming` (after a restart: claims whose payout result was never
    /// journaled). O(orders); run once at start-up.
    pub fn claiming_orders(&self) -> Vec<OrderId> {
        self.campaigns
            .iter()
            .filter(|c| c.pool().is_some())
            .flat_map(|c| {
                (0..c.order_count() as u32)
                    .filter(|&i| {
                        c.state_and_amount(i)
                            .is_some_and(|(state, _)| state == OrderState::Claiming)
                    })
                    .map(|i| c.order_id(i))
            })
            .collect()
    }
}
