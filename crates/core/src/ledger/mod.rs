//! The ledger: every campaign and every order, the pure state machine the engine drives.
//!
//! Each operation is "decide, then apply": a grab decides (stock, limits, a packet amount, a new
//! order id) and produces a [`Record`]; [`Ledger::apply`] applies that record. Journal replay
//! calls the same `apply`, so what was answered and what is rebuilt cannot differ.

use std::collections::HashMap;

use rand::Rng;

use crate::campaign::Campaign;
use crate::decision::Decision;
use crate::grab_key::GrabKey;
use crate::ids::{CampaignId, OrderId, UserId, uuid_v7_bits};
use crate::money::UnixMillis;
use crate::order::{InvalidTransition, Order, OrderState};
use crate::order_key::{OrderCipher, OrderKey};
use crate::outcome::{CreateOutcome, GrabOutcome, OrderOutcome, OrderTicket};
use crate::record::Record;
use crate::spec::{CampaignSpec, MAX_CAMPAIGNS};
use txn_index::{TxnIndex, TxnPlace};

mod apply;
mod claims;
mod payments;
mod snapshot;
mod txn_index;

pub use payments::{PendingRefund, StalePaying};

/// Most attempts at drawing an unused campaign id before declaring the RNG broken: a collision
/// among 74 random bits within one millisecond is practically impossible, twice in a row
/// means the RNG is not random. (Order ids cannot collide: each carries its own place.)
const MAX_ID_DRAWS: usize = 8;

/// The state an overdue order expires to: `claim_expired` for an unclaimed packet, `expired`
/// for an unpaid order.
fn expired_state(state: OrderState) -> OrderState {
    match state {
        OrderState::Won => OrderState::ClaimExpired,
        _ => OrderState::Expired,
    }
}

/// A record that cannot be applied: the journal holds something this ledger never wrote.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("journal record cannot be applied: {0}")]
pub struct ApplyError(pub String);

/// All campaigns and orders. An order is found from its id alone: the id enciphers its
/// campaign slot and index under `order_key` (see [`crate::order_key`]), so no id → order map
/// is kept.
#[derive(Debug, Default)]
pub struct Ledger {
    campaigns: Vec<Campaign>,
    by_id: HashMap<CampaignId, u32>,
    /// Set by the first campaign creation (drawn live, read back on replay).
    order_cipher: Option<std::sync::Arc<OrderCipher>>,
    order_count: usize,
    /// (channel, txn_id) → where it was recorded: one order per transaction ledger-wide.
    txn_index: TxnIndex,
    /// In a cluster, the shard this ledger writes: the campaign ids it mints land on it.
    /// Not journaled; `None` on a single node.
    campaign_shard: Option<crate::CampaignShard>,
}

/// Reads the (channel, txn_id) of the payment at a place of the transaction index.
fn txn_pair<'a>(campaigns: &'a [Campaign]) -> impl Fn(TxnPlace) -> (&'a str, &'a str) + 'a {
    |place| {
        let payment = &campaigns[place.slot as usize].payments()[place.entry as usize].payment;
        (payment.channel.as_str(), payment.txn_id.as_str())
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this ledger a cluster shard's: every campaign id it mints from now on belongs
    /// to `shard` (ids already in it, replayed from the shard's log, do too).
    pub fn set_campaign_shard(&mut self, shard: crate::CampaignShard) {
        assert!(
            shard.index < shard.count,
            "{shard:?} is not a shard of its cluster"
        );
        self.campaign_shard = Some(shard);
    }

    /// Decides a campaign creation and applies it. A spec that breaks a rule, or a ledger
    /// already holding [`MAX_CAMPAIGNS`], changes nothing.
    pub fn create_campaign(
        &mut self,
        spec: CampaignSpec,
        now: UnixMillis,
        rng: &mut impl Rng,
    ) -> Decision<CreateOutcome> {
        if let Err(invalid) = spec.validate_new() {
            return Decision::unchanged(CreateOutcome::Invalid(invalid));
        }
        if self.campaigns.len() >= MAX_CAMPAIGNS {
            return Decision::unchanged(CreateOutcome::TooManyCampaigns);
        }
        // On a shard, about `count` draws land one id on it; the bound keeps the odds of
        // running out below 1e-20 for any count up to the cluster's maximum.
        let draws = self.campaign_shard.map_or(MAX_ID_DRAWS, |shard| {
            MAX_ID_DRAWS * 8 * shard.count as usize
        });
        let id = (0..draws)
            .map(|_| CampaignId(uuid_v7_bits(now.0, rng.random())))
            .find(|id| {
                !self.by_id.contains_key(id)
                    && self.campaign_shard.is_none_or(|shard| shard.holds(*id))
            })
            .expect("RNG produced colliding campaign ids repeatedly");
        let order_key = self
            .order_cipher
            .as_ref()
            .map_or_else(|| OrderKey(rng.random()), |cipher| cipher.key());
        let record = Record::CampaignCreated {
            id,
            spec,
            created_at: now,
            order_key,
        };
        self.apply(&record)
            .expect("a freshly decided campaign applies");
        Decision::recorded(CreateOutcome::Created(id), record)
    }

    /// Decides one grab by `user` at `now` and applies it if it wins.
    pub fn grab(
        &mut self,
        campaign_id: CampaignId,
        user: &UserId,
        now: UnixMillis,
        rng: &mut impl Rng,
    ) -> Decision<GrabOutcome> {
        self.grab_keyed(campaign_id, user, None, now, rng)
    }

    /// [`Ledger::grab`] under an `Idempotency-Key`: if the key already won for `user` in the
    /// campaign, that win is answered again (`won`, the same order, nothing recorded);
    /// otherwise the grab is decided as any other, and a win is journaled with its key
    /// ([`Record::KeyedWon`]).
    pub fn grab_keyed(
        &mut self,
        campaign_id: CampaignId,
        user: &UserId,
        key: Option<GrabKey>,
        now: UnixMillis,
        rng: &mut impl Rng,
    ) -> Decision<GrabOutcome> {
        let rejected = Decision::unchanged;
        let Some(&slot) = self.by_id.get(&campaign_id) else {
            return rejected(GrabOutcome::CampaignNotFound);
        };
        let campaign = &self.campaigns[slot as usize];
        if let Some(key) = &key
            && let Some(ticket) = campaign.keyed_win(user.as_str(), key.as_str())
        {
            return rejected(GrabOutcome::Won(ticket));
        }
        let user_hash = campaign.user_hash(user.as_str());
        if let Some(ticket) = campaign.holding_limit_hashed(user.as_str(), user_hash) {
            return rejected(GrabOutcome::AlreadyWon(ticket));
        }
        let common = campaign.spec().common();
        if common.starts_at.is_some_and(|s| now < s) {
            return rejected(GrabOutcome::NotStarted);
        }
        if common.ends_at.is_some_and(|e| now >= e) {
            return rejected(GrabOutcome::Ended);
        }
        let Some(amount_cents) = campaign.next_amount(rng) else {
            return rejected(GrabOutcome::SoldOut);
        };
        let nonce = rng.random();
        let order_id = campaign.next_order_id(now, nonce);
        let carried = crate::order_key::carried_nonce(nonce);
        let index = self
            .commit_win(
                slot,
                user_hash,
                order_id,
                Some(carried),
                user,
                amount_cents,
                now,
            )
            .expect("a freshly decided win applies");
        let record = match key {
            None => Record::Won {
                campaign_id,
                order_id,
                user_id: user.clone(),
                amount_cents,
                won_at: now,
            },
            Some(key) => {
                // Not found above, so the key is new for this user here.
                self.campaigns[slot as usize].index_key(index, key.clone());
                Record::KeyedWon {
                    campaign_id,
                    order_id,
                    user_id: user.clone(),
                    amount_cents,
                    won_at: now,
                    key,
                }
            }
        };
        let ticket = OrderTicket {
            order_id,
            amount_cents,
        };
        Decision::recorded(GrabOutcome::Won(ticket), record)
    }

    /// Decides a cancellation of `order_id` at `now` by `by` (`None`: the admin) and applies
    /// it if allowed. Another user's order answers `NotFound`; an order that cannot move to
    /// `Cancelled` (already closed, paid, a red packet) answers `InvalidTransition` and changes
    /// nothing.
    pub fn cancel(
        &mut self,
        order_id: OrderId,
        by: Option<&UserId>,
        now: UnixMillis,
    ) -> Decision<OrderOutcome> {
        let rejected = Decision::unchanged;
        let Some(order) = self.order(order_id) else {
            return rejected(OrderOutcome::NotFound);
        };
        if by.is_some_and(|user| *user != order.user_id) {
            return rejected(OrderOutcome::NotFound);
        }
        match self.move_order(&order, OrderState::Cancelled, now) {
            Ok((record, after)) => Decision::recorded(OrderOutcome::Moved(after), record),
            Err(invalid) => rejected(OrderOutcome::InvalidTransition(invalid)),
        }
    }

    /// Expires `order_id` if it is `pending_payment` (or an unclaimed `won` packet) and its
    /// deadline is at or before `now` (passive expiry, on read); answers whether it expired.
    pub fn expire(&mut self, order_id: OrderId, now: UnixMillis) -> Decision<bool> {
        let Some(order) = self.order(order_id) else {
            return Decision::unchanged(false);
        };
        if order.expires_at.is_none_or(|deadline| deadline > now) {
            return Decision::unchanged(false);
        }
        let to = expired_state(order.state);
        let (record, _) = self
            .move_order(&order, to, now)
            .expect("a pending order may expire");
        Decision::recorded(true, record)
    }

    /// Expires every pending order whose deadline is at or before `now`, at most `max` of
    /// them (the caller's batch bound; the rest wait for the next call), in deadline order per
    /// campaign. Returns the records to journal.
    pub fn expire_due(&mut self, now: UnixMillis, max: usize) -> Vec<Record> {
        let mut records = Vec::new();
        for slot in 0..self.campaigns.len() {
            while records.len() < max {
                let Some(index) = self.campaigns[slot].take_due(now) else {
                    break;
                };
                let order = self.campaigns[slot]
                    .order_at(index)
                    .expect("a queued deadline names an order");
                let (record, _) = self
                    .move_order(&order, expired_state(order.state), now)
                    .expect("a due order is pending and may expire");
                records.push(record);
            }
        }
        records
    }

    /// Decides and applies one move of `order` to `to`; returns its record and the order after.
    pub(super) fn move_order(
        &mut self,
        order: &Order,
        to: OrderState,
        now: UnixMillis,
    ) -> Result<(Record, Order), InvalidTransition> {
        let from = order.state;
        let invalid = InvalidTransition { from, to };
        let campaign = self.campaign(order.campaign_id).ok_or(invalid)?;
        let index = self.place_of(order.id).ok_or(invalid)?.1;
        campaign
            .check_transition(index, from, to, now)
            .map_err(|_| invalid)?;
        let record = Record::OrderTransitioned {
            campaign_id: order.campaign_id,
            order_id: order.id,
            from,
            to,
            at: now,
        };
        self.apply(&record)
            .expect("a freshly decided transition applies");
        let after = self.order(order.id).expect("a moved order exists");
        Ok((record, after))
    }

    /// The campaign slot and index an order id names, if an order with that id is there.
    pub(crate) fn place_of(&self, id: OrderId) -> Option<(u32, u32)> {
        let place = self.order_cipher.as_ref()?.decode(id)?;
        self.campaigns
            .get(place.slot as usize)?
            .state_of(place.index, id)?;
        Some((place.slot, place.index))
    }

    /// A campaign by id.
    pub fn campaign(&self, id: CampaignId) -> Option<&Campaign> {
        self.by_id
            .get(&id)
            .map(|&slot| &self.campaigns[slot as usize])
    }

    /// Every campaign, in creation order.
    pub fn campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter()
    }

    /// An order by id.
    /// An unknown or forged id deciphers to some place; the order there has another id.
    pub fn order(&self, id: OrderId) -> Option<Order> {
        let place = self.order_cipher.as_ref()?.decode(id)?;
        self.campaigns
            .get(place.slot as usize)?
            .order_at(place.index)
            .filter(|order| order.id == id)
    }

    /// Number of orders across all campaigns.
    pub fn order_count(&self) -> usize {
        self.order_count
    }

    /// Checks every invariant of every campaign (O(orders)); run after replay and in tests.
    ///
    /// # Panics
    /// If an invariant is broken (the message names it).
    pub fn assert_invariants(&self) {
        if let Err(why) = self.check_invariants() {
            panic!("{why}");
        }
    }

    /// [`Ledger::assert_invariants`] as an error naming the broken invariant (what a restored
    /// snapshot is checked with: bytes from disk never make the ledger panic).
    pub fn check_invariants(&self) -> Result<(), String> {
        ensure!(
            self.by_id.len() == self.campaigns.len(),
            "campaign index out of step"
        );
        let mut orders = 0;
        for c in &self.campaigns {
            c.check_invariants()?;
            orders += c.order_count();
        }
        ensure!(orders == self.order_count, "order count out of step");
        // Every payment is found at its own place: none is missing, and no transaction is
        // recorded twice (the index would find the other place).
        let mut payments = 0;
        for (slot, c) in self.campaigns.iter().enumerate() {
            for (entry, recorded) in c.payments().iter().enumerate() {
                let (channel, txn) = (&recorded.payment.channel, &recorded.payment.txn_id);
                payments += 1;
                let place = TxnPlace {
                    slot: slot as u32,
                    entry: entry as u32,
                };
                ensure!(
                    self.txn_place(channel, txn) == Some(place),
                    "transaction {channel}/{txn} recorded twice or missing from the index"
                );
            }
        }
        ensure!(self.txn_index.len() == payments, "index has stray entries");
        Ok(())
    }
}
