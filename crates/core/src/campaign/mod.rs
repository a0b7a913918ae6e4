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
use std::hash::RandomState;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::claim::PayoutId;
use crate::ids::{CampaignId, UserId};
use crate::money::{Cents, UnixMillis};
use crate::order::{Order, OrderState};
use crate::order_key::OrderCipher;
use crate::outcome::CampaignStatus;
use crate::payment_book::PaymentBook;
use crate::red_packet::PacketPool;
use crate::spec::CampaignSpec;

mod invariants;
mod keys;
mod payments;
mod snapshot;
mod transitions;
mod users;
mod wins;

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
    /// Wins made under an idempotency key ([`keys`]). Bounded by the orders.
    keys: HashTable<keys::KeyedWin>,
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
            keys: HashTable::new(),
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
    /// Where its ledger keeps it: the ledger's campaigns are numbered in creation order, so
    /// this orders two campaigns created in the same millisecond (their ids do not).
    pub fn slot(&self) -> u32 {
        self.slot
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
