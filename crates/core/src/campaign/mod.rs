//! One campaign's live state: stock or packet pool, its orders in win order, a per-user index
//! and the queue of payment deadlines. Mutated only by [`Campaign::apply_win`] and
//! [`Campaign::apply_transition`], which the ledger calls for live decisions and for journal
//! replay alike.
//!
//! Memory per order (the 1,000,000-winner target): an [`OrderSlot`] is 40 bytes (the order id
//! is derived, not stored: see [`crate::order_key`]), and the per-user index stores 12 bytes
//! per user in a hash table that keys by the winner's id *in the order list* instead of keeping
//! its own copy of the key.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::claim::PayoutId;
use crate::ids::{CampaignId, OrderId, UserId};
use crate::money::{Cents, UnixMillis};
use crate::order::{Order, OrderState};
use crate::order_key::OrderCipher;
use crate::outcome::{CampaignStatus, OrderTicket};
use crate::payment_book::PaymentBook;

mod payments;

use crate::red_packet::PacketPool;
use crate::spec::CampaignSpec;
pub(crate) use payments::payment_kind_for;

/// An order as stored: the campaign id is implied by where it lives, the order id is derived
/// from the campaign's place, the index, the time and `nonce` ([`OrderCipher::encode`]).
#[derive(Clone, Debug)]
struct OrderSlot {
    user_id: UserId,
    amount_cents: Cents,
    created_at: UnixMillis,
    nonce: u32,
    state: OrderState,
}
const _: () = assert!(std::mem::size_of::<OrderSlot>() == 40);

/// A user id's hash in one campaign's per-user index ([`Campaign::user_hash`]); meaningless
/// in another campaign (each has its own hasher).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UserHash(u64);

/// A user's orders in one campaign; the user is `orders[latest].user_id`.
#[derive(Clone, Copy, Debug)]
struct UserOrders {
    /// Orders that hold an item.
    live: u32,
    /// Orders ever won, released ones included (what the per-user limit counts unless the
    /// campaign sets `regrab_after_release`).
    held: u32,
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
    /// Enciphers and deciphers this ledger's order ids (shared by its campaigns).
    cipher: Arc<OrderCipher>,
    remaining: u64,
    live_orders: u64,
    pool: Option<PacketPool>,
    orders: Vec<OrderSlot>,
    by_user: HashTable<UserOrders>,
    hasher: RandomState,
    /// Indices of orders created `pending_payment` (seckill) or `won` (red packet), in
    /// creation order. Every order of a campaign has the same payment or claim window, so
    /// creation order is deadline order (as long as
    /// the clock does not step back; if it does, a later order waits for the one before it).
    /// Orders that left `pending_payment` are dropped lazily when they reach the front.
    /// Bounded by the stock: one entry per order at most (a failed claim puts its order back
    /// in index order, unless it is still queued).
    deadlines: VecDeque<u32>,
    /// Payout ids of `claimed` red packets, by order index. Bounded by the packet count.
    payouts: HashMap<u32, PayoutId>,
    /// Payments, refunds and `paying` orders: see [`crate::payment_book`].
    book: PaymentBook,
    /// Sum of `claim_expired` packets: money to refund to the campaign's owner.
    refundable_cents: u64,
}

impl Campaign {
    /// A new campaign with full stock, kept by the ledger in `slot`; its order ids are
    /// enciphered by `cipher`.
    ///
    /// # Panics
    /// If the spec is invalid (callers validate first).
    pub(crate) fn new(
        id: CampaignId,
        spec: CampaignSpec,
        created_at: UnixMillis,
        slot: u32,
        cipher: Arc<OrderCipher>,
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
            cipher,
            live_orders: 0,
            pool,
            orders: Vec::new(),
            by_user: HashTable::new(),
            hasher: RandomState::new(),
            deadlines: VecDeque::new(),
            payouts: HashMap::new(),
            book: PaymentBook::default(),
            refundable_cents: 0,
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
    /// Sum of the packets whose claim expired: refundable to the campaign's owner.
    pub fn refundable_cents(&self) -> u64 {
        self.refundable_cents
    }
    /// The payout of the `claimed` order at `index`.
    pub fn payout_of(&self, index: u32) -> Option<&PayoutId> {
        self.payouts.get(&index)
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

    /// The user's latest order if they are at `per_user_limit`: counting live orders when the
    /// campaign sets `regrab_after_release`, every order they ever won otherwise.
    pub fn holding_limit(&self, user: &str) -> Option<OrderTicket> {
        self.holding_limit_hashed(user, self.user_hash(user))
    }

    /// [`Campaign::holding_limit`] with the user's hash from [`Campaign::user_hash`].
    pub(crate) fn holding_limit_hashed(&self, user: &str, hash: UserHash) -> Option<OrderTicket> {
        let u = self.user_orders_hashed(user, hash)?;
        let counted = if self.spec.regrab_after_release() {
            u.live
        } else {
            u.held
        };
        if counted < self.spec.per_user_limit() {
            return None;
        }
        Some(OrderTicket {
            order_id: self.order_id(u.latest),
            amount_cents: self.orders[u.latest as usize].amount_cents,
        })
    }

    /// The hash of `user` in this campaign's per-user index: a grab computes it once and
    /// hands it to the limit check and to the insert of its win.
    pub(crate) fn user_hash(&self, user: &str) -> UserHash {
        UserHash(self.hasher.hash_one(user))
    }

    fn user_orders(&self, user: &str) -> Option<&UserOrders> {
        self.user_orders_hashed(user, self.user_hash(user))
    }

    fn user_orders_hashed(&self, user: &str, hash: UserHash) -> Option<&UserOrders> {
        let orders = &self.orders;
        self.by_user.find(hash.0, |u| {
            orders[u.latest as usize].user_id.as_str() == user
        })
    }

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
        let Self {
            orders,
            by_user,
            hasher,
            ..
        } = self;
        let user_at = |u: &UserOrders| orders[u.latest as usize].user_id.as_str();
        let entry = by_user
            .entry(
                hash.0,
                |u| user_at(u) == user.as_str(),
                |u| hasher.hash_one(user_at(u)),
            )
            .or_insert(UserOrders {
                live: 0,
                held: 0,
                latest: index,
            })
            .into_mut();
        entry.live += 1;
        entry.held += 1;
        entry.latest = index;
        self.remaining -= 1;
        self.live_orders += 1;
        self.assert_counts();
        index
    }

    /// When the order at `index` expires if still unpaid or unclaimed (`None` unless
    /// `pending_payment`, `paying` or `won`). A `paying` order keeps its payment deadline: a
    /// callback that comes after it finds the order `expired`.
    fn expires_at(&self, index: u32) -> Option<UnixMillis> {
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

    /// The order at `index` in win order.
    pub fn order_at(&self, index: u32) -> Option<Order> {
        self.orders.get(index as usize).map(|slot| Order {
            id: self.order_id(index),
            campaign_id: self.id,
            user_id: slot.user_id.clone(),
            amount_cents: slot.amount_cents,
            created_at: slot.created_at,
            state: slot.state,
            expires_at: self.expires_at(index),
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
