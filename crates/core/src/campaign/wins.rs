//! Winning: the next order's id and amount, and a win checked, then applied (live or on replay).

use std::hash::BuildHasher;

use super::{Campaign, OrderSlot, UserHash, UserOrders};
use crate::ids::{OrderId, UserId};
use crate::money::{Cents, UnixMillis};
use crate::order::OrderState;
use crate::spec::CampaignSpec;

impl Campaign {
    /// The id of the order at `index` (which exists).
    pub(crate) fn order_id(&self, index: u32) -> OrderId {
        let slot = &self.orders[index as usize];
        self.cipher
            .encode(slot.created_at, self.slot, index, slot.nonce)
    }

    /// The nonce of `id` if it is the id the next win at `won_at` carries
    /// ([`Campaign::next_order_id`]): deciphering it finds this campaign's next place and its
    /// time is `won_at`. That is `next_order_id(won_at, nonce) == id` without enciphering
    /// again (the cipher is a permutation under the time and the nonce).
    pub(crate) fn names_next_place(&self, id: OrderId, won_at: UnixMillis) -> Option<u32> {
        let place = self.cipher.decode(id)?;
        let next = u32::try_from(self.orders.len()).expect("orders bounded by MAX_STOCK");
        let names = place.slot == self.slot
            && place.index == next
            && crate::order_key::carries_time(id, won_at);
        debug_assert_eq!(names, self.next_order_id(won_at, place.nonce) == id);
        names.then_some(place.nonce)
    }

    /// The id the next win will carry, given a nonce from the caller's RNG.
    pub(crate) fn next_order_id(&self, won_at: UnixMillis, nonce: u32) -> OrderId {
        let index = u32::try_from(self.orders.len()).expect("orders bounded by MAX_STOCK");
        self.cipher.encode(won_at, self.slot, index, nonce)
    }

    /// The amount the next win will carry: the price, or a packet drawn from the pool.
    pub(crate) fn next_amount(&self, rng: &mut impl rand::Rng) -> Option<Cents> {
        if self.remaining == 0 {
            return None;
        }
        match (&self.spec, self.pool) {
            (CampaignSpec::Seckill(s), _) => Some(s.price_cents),
            (CampaignSpec::RedPacket(_), Some(mut pool)) => pool.draw(rng),
            (CampaignSpec::RedPacket(_), None) => unreachable!("red-packet campaign has a pool"),
        }
    }

    /// Whether a win record is acceptable: stock left, user (whose hash is `hash`) below the
    /// limit, amount possible.
    pub(crate) fn check_win(
        &self,
        user: &UserId,
        hash: UserHash,
        amount: Cents,
    ) -> Result<(), &'static str> {
        if self.remaining == 0 {
            return Err("win recorded on a sold-out campaign");
        }
        if self.holding_limit_hashed(user.as_str(), hash).is_some() {
            return Err("win recorded for a user at the per-user limit");
        }
        match (&self.spec, &self.pool) {
            (CampaignSpec::Seckill(s), _) if amount != s.price_cents => {
                Err("seckill win amount differs from the price")
            }
            (CampaignSpec::RedPacket(_), Some(pool)) => {
                let (low, high) = pool.next_bounds().ok_or("packet pool is empty")?;
                if amount.0 < low || amount.0 > high {
                    return Err("packet amount outside the double-mean bounds");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Applies a checked win (whose id is [`Campaign::next_order_id`] with `nonce`) and returns
    /// the new order's index.
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_win`] would reject it: the ledger checks first,
    /// once (the check is most of a win's cost).
    pub(crate) fn apply_win(
        &mut self,
        nonce: u32,
        user: &UserId,
        hash: UserHash,
        amount: Cents,
        won_at: UnixMillis,
    ) -> u32 {
        debug_assert_eq!(self.check_win(user, hash, amount), Ok(()), "win checked");
        if let Some(pool) = &mut self.pool {
            pool.take(amount);
        }
        let index = u32::try_from(self.orders.len()).expect("orders bounded by MAX_STOCK");
        self.deadlines.push_back(index);
        self.orders.push(OrderSlot {
            user_id: user.clone(),
            amount_cents: amount,
            created_at: won_at,
            nonce,
            state: match self.spec {
                CampaignSpec::Seckill(_) => OrderState::PendingPayment,
                CampaignSpec::RedPacket(_) => OrderState::Won,
            },
        });
        self.index_user_order(hash, index, true);
        self.remaining -= 1;
        self.live_orders += 1;
        self.assert_counts();
        index
    }
    /// Counts the order at `index` (already in `orders`) for its user, whose hash is `hash`:
    /// one more held order, one more live one if `live`, and it is now their latest.
    pub(super) fn index_user_order(&mut self, hash: UserHash, index: u32, live: bool) {
        let Self {
            orders,
            by_user,
            hasher,
            ..
        } = self;
        let user = orders[index as usize].user_id.as_str();
        let user_at = |u: &UserOrders| orders[u.latest as usize].user_id.as_str();
        let entry = by_user
            .entry(
                hash.0,
                |u| user_at(u) == user,
                |u| hasher.hash_one(user_at(u)),
            )
            .or_insert(UserOrders {
                live: 0,
                held: 0,
                latest: index,
            })
            .into_mut();
        entry.live += u32::from(live);
        entry.held += 1;
        entry.latest = index;
    }
}
