//! One campaign's live state: stock or packet pool, its orders in win order, and a per-user
//! index. Mutated only by [`Campaign::apply_win`], which the ledger calls for live grabs and
//! for journal replay alike.
//!
//! Memory per order (the 1,000,000-winner target): an [`OrderSlot`] is 40 bytes (the order id
//! is derived, not stored: see [`crate::order_key`]), and the per-user index stores 8 bytes
//! per user in a hash table that keys by the winner's id *in the order list* instead of keeping
//! its own copy of the key.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::ids::{CampaignId, OrderId, UserId};
use crate::money::{Cents, UnixMillis};
use crate::order::{Order, OrderState};
use crate::order_key::OrderKey;
use crate::outcome::{CampaignStatus, OrderTicket};
use crate::red_packet::PacketPool;
use crate::spec::CampaignSpec;

/// An order as stored: the campaign id is implied by where it lives, the order id is derived
/// from the campaign's place, the index, the time and `nonce` ([`OrderKey::encode`]).
#[derive(Clone, Debug)]
struct OrderSlot {
    user_id: UserId,
    amount_cents: Cents,
    created_at: UnixMillis,
    nonce: u32,
    state: OrderState,
}
const _: () = assert!(std::mem::size_of::<OrderSlot>() == 40);

/// A user's orders in one campaign; the user is `orders[latest].user_id`.
#[derive(Clone, Copy, Debug)]
struct UserOrders {
    /// Orders that hold an item (count against the per-user limit).
    live: u32,
    /// Index of the user's latest order in `orders`.
    latest: u32,
}

/// A campaign and everything won in it.
#[derive(Clone, Debug)]
pub struct Campaign {
    id: CampaignId,
    spec: CampaignSpec,
    created_at: UnixMillis,
    /// Where the ledger keeps this campaign (part of every order id).
    slot: u32,
    order_key: OrderKey,
    remaining: u64,
    live_orders: u64,
    pool: Option<PacketPool>,
    orders: Vec<OrderSlot>,
    by_user: HashTable<UserOrders>,
    hasher: RandomState,
}

impl Campaign {
    /// A new campaign with full stock, kept by the ledger in `slot`; its order ids are
    /// enciphered under `order_key`.
    ///
    /// # Panics
    /// If the spec is invalid (callers validate first).
    pub fn new(
        id: CampaignId,
        spec: CampaignSpec,
        created_at: UnixMillis,
        slot: u32,
        order_key: OrderKey,
    ) -> Self {
        spec.validate()
            .expect("campaign spec validated before creation");
        let pool = match &spec {
            CampaignSpec::Seckill(_) => None,
            CampaignSpec::RedPacket(r) => {
                Some(PacketPool::new(r.total_cents, r.count, r.min_cents))
            }
        };
        Self {
            id,
            remaining: spec.total(),
            spec,
            created_at,
            slot,
            order_key,
            live_orders: 0,
            pool,
            orders: Vec::new(),
            by_user: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    /// The campaign's id.
    pub fn id(&self) -> CampaignId {
        self.id
    }
    /// What was asked for.
    pub fn spec(&self) -> &CampaignSpec {
        &self.spec
    }
    /// When it was created.
    pub fn created_at(&self) -> UnixMillis {
        self.created_at
    }
    /// Items or packets not yet won.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
    /// Items or packets in total.
    pub fn total(&self) -> u64 {
        self.spec.total()
    }
    /// Orders ever created (the winners list length).
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }
    /// Money left in a red-packet pool.
    pub fn pool(&self) -> Option<&PacketPool> {
        self.pool.as_ref()
    }

    /// Status at `now`.
    pub fn status(&self, now: UnixMillis) -> CampaignStatus {
        let c = self.spec.common();
        CampaignStatus::derive(now, c.starts_at, c.ends_at, self.remaining)
    }

    /// The user's latest order if they hold `per_user_limit` live orders.
    pub fn holding_limit(&self, user: &str) -> Option<OrderTicket> {
        let u = self.user_orders(user)?;
        if u.live < self.spec.per_user_limit() {
            return None;
        }
        Some(OrderTicket {
            order_id: self.order_id(u.latest),
            amount_cents: self.orders[u.latest as usize].amount_cents,
        })
    }

    fn user_orders(&self, user: &str) -> Option<&UserOrders> {
        let orders = &self.orders;
        self.by_user.find(self.hasher.hash_one(user), |u| {
            orders[u.latest as usize].user_id.as_str() == user
        })
    }

    /// The id of the order at `index` (which exists).
    fn order_id(&self, index: u32) -> OrderId {
        let slot = &self.orders[index as usize];
        self.order_key
            .encode(slot.created_at, self.slot, index, slot.nonce)
    }

    /// The id the next win will carry, given a nonce from the caller's RNG.
    pub(crate) fn next_order_id(&self, won_at: UnixMillis, nonce: u32) -> OrderId {
        let index = u32::try_from(self.orders.len()).expect("orders bounded by MAX_STOCK");
        self.order_key.encode(won_at, self.slot, index, nonce)
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

    /// Whether a win record is acceptable: stock left, user below the limit, amount possible.
    pub(crate) fn check_win(&self, user: &UserId, amount: Cents) -> Result<(), &'static str> {
        if self.remaining == 0 {
            return Err("win recorded on a sold-out campaign");
        }
        if self.holding_limit(user.as_str()).is_some() {
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
    /// If [`Campaign::check_win`] would reject it: the ledger checks first.
    pub(crate) fn apply_win(
        &mut self,
        nonce: u32,
        user: &UserId,
        amount: Cents,
        won_at: UnixMillis,
    ) -> u32 {
        self.check_win(user, amount)
            .expect("win checked before apply");
        if let Some(pool) = &mut self.pool {
            pool.take(amount);
        }
        let index = u32::try_from(self.orders.len()).expect("orders bounded by MAX_STOCK");
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
        let Self {
            orders,
            by_user,
            hasher,
            ..
        } = self;
        let user_at = |u: &UserOrders| orders[u.latest as usize].user_id.as_str();
        let entry = by_user
            .entry(
                hasher.hash_one(user.as_str()),
                |u| user_at(u) == user.as_str(),
                |u| hasher.hash_one(user_at(u)),
            )
            .or_insert(UserOrders {
                live: 0,
                latest: index,
            })
            .into_mut();
        entry.live += 1;
        entry.latest = index;
        self.remaining -= 1;
        self.live_orders += 1;
        self.assert_counts();
        index
    }

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
        let mut per_user: HashMap<&str, u32> = HashMap::new();
        for o in self.orders.iter().filter(|o| o.state.is_live()) {
            *per_user.entry(o.user_id.as_str()).or_default() += 1;
        }
        let limit = self.spec.per_user_limit();
        assert!(
            per_user.values().all(|&n| n <= limit),
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
        for (user, &live) in &per_user {
            let indexed = self.user_orders(user).expect("every winner is indexed");
            assert_eq!(indexed.live, live, "per-user live count out of step");
        }
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

    /// The order at `index` in win order.
    pub fn order_at(&self, index: u32) -> Option<Order> {
        self.orders.get(index as usize).map(|slot| Order {
            id: self.order_id(index),
            campaign_id: self.id,
            user_id: slot.user_id.clone(),
            amount_cents: slot.amount_cents,
            created_at: slot.created_at,
            state: slot.state,
        })
    }

    /// Orders in win order starting at `after` (exclusive cursor: the index of the first order
    /// to return), at most `limit`; and the cursor of the next page, if any.
    pub fn winners_page(&self, start: usize, limit: usize) -> (Vec<Order>, Option<usize>) {
        let end = start.saturating_add(limit).min(self.orders.len());
        let page = (start.min(end)..end)
            .filter_map(|i| self.order_at(i as u32))
            .collect();
        let next = (end < self.orders.len()).then_some(end);
        (page, next)
    }
}
