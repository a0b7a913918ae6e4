//! One campaign's money: every payment a channel reported, what each one came to (it paid the
//! order, it came late, it paid the order twice), the refunds those extra payments opened, and
//! which orders are `paying` on which channels (so a lost callback can be looked for).
//!
//! Mutated only through [`crate::Ledger::apply`] (live and replay alike), except the query
//! schedule ([`PaymentBook::take_stale_paying`]), which is soft state: replay rebuilds it from
//! the `PaymentStarted` records, so after a restart every `paying` order is queried again.
//!
//! Bounds: at most one settling payment per order, at most [`MAX_EXTRA_PAYMENTS_PER_ORDER`]
//! late or duplicate ones, and at most [`MAX_CHANNELS_PER_ORDER`] channels per `paying` order,
//! so everything here is bounded by the campaign's stock.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

use crate::channel_name::ChannelName;
use crate::money::UnixMillis;
use crate::payment::{Payment, PaymentKind};

mod snapshot;

pub(crate) use snapshot::BookImage;

/// Most late or duplicate payments recorded for one order; past it a further one is refused
/// (`too_many_payments`), logged, and left to reconciliation against the channel's statement.
pub const MAX_EXTRA_PAYMENTS_PER_ORDER: usize = 8;
/// Most channels one order may be `paying` on at once (a user who switches channel).
pub const MAX_CHANNELS_PER_ORDER: usize = 8;

/// Where the refund of a late or duplicate payment is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundStatus {
    /// Opened, durable; the channel has not confirmed it yet.
    Pending,
    /// The channel confirmed it under this id.
    Refunded {
        /// The channel's refund id.
        refund_id: String,
        /// When the confirmation was recorded.
        at: UnixMillis,
    },
}

impl RefundStatus {
    /// The stable name used in the API and reports.
    pub fn code(&self) -> &'static str {
        match self {
            RefundStatus::Pending => "refund_pending",
            RefundStatus::Refunded { .. } => "refunded",
        }
    }
}

/// One payment a channel reported for an order of this campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentEntry {
    /// The order's index in the campaign (win order).
    pub order_index: u32,
    /// What the channel reported.
    pub payment: Payment,
    /// What it came to.
    pub kind: PaymentKind,
    /// Its refund: `None` for a settling payment, `Some` for a late or duplicate one.
    pub refund: Option<RefundStatus>,
    /// When it was recorded.
    pub recorded_at: UnixMillis,
}

/// Longest refund id a channel's receipt may carry, in bytes (see
/// [`crate::MAX_PROVIDER_ID_BYTES`]).
pub const MAX_REFUND_ID_BYTES: usize = crate::ids::MAX_PROVIDER_ID_BYTES;

/// A channel's refund id that breaks the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refund_id must be 1..={MAX_REFUND_ID_BYTES} bytes without control characters")]
pub struct RefundIdError;

/// Checks a channel's refund id: 1..=[`MAX_REFUND_ID_BYTES`] bytes without control
/// characters ([`crate::is_provider_id`]).
pub fn validate_refund_id(refund_id: &str) -> Result<(), RefundIdError> {
    if crate::ids::is_provider_id(refund_id) {
        Ok(())
    } else {
        Err(RefundIdError)
    }
}

/// The refund idempotency key of a payment: the channel refunds each key at most once.
pub fn refund_key(payment: &Payment) -> String {
    format!("refund:{}:{}", payment.channel, payment.txn_id)
}

/// The payments of one campaign; see the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct PaymentBook {
    entries: Vec<PaymentEntry>,
    /// (channel, txn_id) → index in `entries`; keys are read from the entries themselves.
    by_txn: HashTable<u32>,
    hasher: RandomState,
    /// Order index → its settling payment's entry.
    settled: HashMap<u32, u32>,
    /// Order index → its late and duplicate payments' entries.
    extras: HashMap<u32, Vec<u32>>,
    /// Entries whose refund is still pending.
    pending_refunds: usize,
    /// `paying` order index → the channels its payment was started on.
    paying: HashMap<u32, Vec<ChannelName>>,
    /// (when to query next, order index) for `paying` orders, oldest first. Entries of orders
    /// that left `paying` are dropped when they reach the front.
    query_queue: VecDeque<(UnixMillis, u32)>,
}

impl PaymentBook {
    fn txn_hash(&self, channel: &ChannelName, txn_id: &str) -> u64 {
        self.hasher.hash_one((channel, txn_id))
    }

    /// The entry recorded for (channel, txn_id).
    pub(crate) fn find(&self, channel: &ChannelName, txn_id: &str) -> Option<&PaymentEntry> {
        self.find_index(channel, txn_id)
            .map(|i| &self.entries[i as usize])
    }

    /// The position in [`PaymentBook::entries`] of the entry recorded for (channel, txn_id).
    pub(crate) fn find_index(&self, channel: &ChannelName, txn_id: &str) -> Option<u32> {
        let entries = &self.entries;
        self.by_txn
            .find(self.txn_hash(channel, txn_id), |&i| {
                let p = &entries[i as usize].payment;
                p.channel == *channel && p.txn_id == txn_id
            })
            .copied()
    }

    /// Every payment, in record order.
    pub(crate) fn entries(&self) -> &[PaymentEntry] {
        &self.entries
    }

    /// The settling payment of the order at `index`.
    pub(crate) fn settled_of(&self, index: u32) -> Option<&PaymentEntry> {
        self.settled.get(&index).map(|&e| &self.entries[e as usize])
    }

    /// The late and duplicate payments of the order at `index`.
    pub(crate) fn extras_of(&self, index: u32) -> impl Iterator<Item = &PaymentEntry> {
        self.extras
            .get(&index)
            .into_iter()
            .flatten()
            .map(|&e| &self.entries[e as usize])
    }

    /// How many late or duplicate payments the order at `index` has.
    pub(crate) fn extra_count(&self, index: u32) -> usize {
        self.extras.get(&index).map_or(0, Vec::len)
    }

    /// Whether the order at `index` has a refund not yet confirmed.
    pub(crate) fn has_pending_refund(&self, index: u32) -> bool {
        self.extras_of(index)
            .any(|e| e.refund == Some(RefundStatus::Pending))
    }

    /// Refunds opened and not yet confirmed.
    pub(crate) fn pending_refund_count(&self) -> usize {
        self.pending_refunds
    }

    /// Records a payment (checked by the ledger: the transaction is new, the bounds hold).
    ///
    /// # Panics
    /// If (channel, txn_id) is recorded already, or the order's bounds would break.
    pub(crate) fn insert(&mut self, entry: PaymentEntry) {
        if let Err(why) = self.try_insert(entry) {
            panic!("{why}");
        }
    }

    /// [`PaymentBook::insert`] that answers an error instead of panicking, changing nothing
    /// then (what a restored snapshot's payments go through).
    pub(crate) fn try_insert(&mut self, entry: PaymentEntry) -> Result<(), &'static str> {
        let at = u32::try_from(self.entries.len()).map_err(|_| "too many payments")?;
        let order = entry.order_index;
        match entry.kind {
            PaymentKind::Settled if self.settled.contains_key(&order) => {
                return Err("an order settled twice");
            }
            PaymentKind::Late | PaymentKind::Duplicate
                if self.extra_count(order) >= MAX_EXTRA_PAYMENTS_PER_ORDER =>
            {
                return Err("too many extra payments on an order");
            }
            _ => {}
        }
        let hash = self.txn_hash(&entry.payment.channel, &entry.payment.txn_id);
        let Self {
            entries,
            by_txn,
            hasher,
            ..
        } = self;
        let pair = |i: u32| {
            let p = &entries[i as usize].payment;
            (p.channel.as_str(), p.txn_id.as_str())
        };
        let new_pair = (
            entry.payment.channel.as_str(),
            entry.payment.txn_id.as_str(),
        );
        match by_txn.entry(
            hash,
            |&i| pair(i) == new_pair,
            |&i| hasher.hash_one(pair(i)),
        ) {
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(at);
            }
            hashbrown::hash_table::Entry::Occupied(_) => {
                return Err("payment transaction recorded twice");
            }
        }
        match entry.kind {
            PaymentKind::Settled => {
                self.settled.insert(order, at);
                self.paying.remove(&order);
            }
            PaymentKind::Late | PaymentKind::Duplicate => {
                self.extras.entry(order).or_default().push(at);
                self.pending_refunds += usize::from(entry.refund == Some(RefundStatus::Pending));
            }
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Whether the refund of (channel, txn_id) for the order at `index` may be confirmed.
    pub(crate) fn check_refund(
        &self,
        index: u32,
        channel: &ChannelName,
        txn_id: &str,
    ) -> Result<(), &'static str> {
        let entry = self
            .find(channel, txn_id)
            .ok_or("refund of a payment that was not recorded")?;
        if entry.order_index != index {
            return Err("refund of a payment of another order");
        }
        if entry.refund != Some(RefundStatus::Pending) {
            return Err("refund of a payment without a pending refund");
        }
        Ok(())
    }

    /// Confirms a checked refund.
    pub(crate) fn confirm_refund(
        &mut self,
        channel: &ChannelName,
        txn_id: &str,
        refund_id: String,
        at: UnixMillis,
    ) {
        let i = self
            .find_index(channel, txn_id)
            .expect("refund checked before apply");
        let entry = &mut self.entries[i as usize];
        assert_eq!(entry.refund, Some(RefundStatus::Pending));
        entry.refund = Some(RefundStatus::Refunded { refund_id, at });
        self.pending_refunds -= 1;
    }

    /// Every payment whose refund is still pending.
    pub(crate) fn pending_refunds(&self) -> impl Iterator<Item = &PaymentEntry> {
        self.entries
            .iter()
            .filter(|e| e.refund == Some(RefundStatus::Pending))
    }

    /// The channels the `paying` order at `index` was started on.
    pub(crate) fn paying_channels(&self, index: u32) -> &[ChannelName] {
        self.paying.get(&index).map_or(&[], Vec::as_slice)
    }

    /// Notes that the order at `index` started paying on `channel` at `at` (once per channel).
    pub(crate) fn start_paying(&mut self, index: u32, channel: &ChannelName, at: UnixMillis) {
        let channels = self.paying.entry(index).or_default();
        if channels.contains(channel) {
            return;
        }
        assert!(channels.len() < MAX_CHANNELS_PER_ORDER);
        if channels.is_empty() {
            self.query_queue.push_back((at, index));
        }
        channels.push(channel.clone());
    }

    /// The order at `index` left `paying` without a settling payment (expired, cancelled).
    pub(crate) fn stop_paying(&mut self, index: u32) {
        self.paying.remove(&index);
    }

    /// Orders `paying` since at or before `due` (or last queried then), oldest first, at most
    /// `max`; each one is queued again at `next` (when to query it next if still paying).
    pub(crate) fn take_stale_paying(
        &mut self,
        due: UnixMillis,
        next: UnixMillis,
        max: usize,
    ) -> Vec<u32> {
        let mut taken = Vec::new();
        while taken.len() < max {
            let Some(&(at, index)) = self.query_queue.front() else {
                break;
            };
            if !self.paying.contains_key(&index) {
                self.query_queue.pop_front();
                continue;
            }
            if at > due {
                break;
            }
            self.query_queue.pop_front();
            self.query_queue.push_back((next, index));
            taken.push(index);
        }
        taken
    }

    /// Checks the book against itself: indexes, counts and bounds.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        ensure!(
            self.by_txn.len() == self.entries.len(),
            "payment index out of step"
        );
        let pending = self
            .entries
            .iter()
            .filter(|e| e.refund == Some(RefundStatus::Pending))
            .count();
        ensure!(
            pending == self.pending_refunds,
            "pending refunds out of step"
        );
        for (i, e) in self.entries.iter().enumerate() {
            ensure!(
                self.find_index(&e.payment.channel, &e.payment.txn_id) == Some(i as u32),
                "payment index misses an entry"
            );
            ensure!(
                e.refund.is_none() == (e.kind == PaymentKind::Settled),
                "a refund on a settling payment, or none on an extra one"
            );
        }
        ensure!(
            self.extras
                .values()
                .all(|v| v.len() <= MAX_EXTRA_PAYMENTS_PER_ORDER),
            "too many extra payments on an order"
        );
        ensure!(
            self.paying
                .values()
                .all(|v| !v.is_empty() && v.len() <= MAX_CHANNELS_PER_ORDER),
            "an order paying on no channel or too many"
        );
        Ok(())
    }

    /// Every order index in the query schedule (built once per invariant check: a lookup per
    /// `paying` order into the queue would make the check quadratic).
    pub(crate) fn queued(&self) -> std::collections::HashSet<u32> {
        self.query_queue.iter().map(|&(_, i)| i).collect()
    }

    /// Order indexes with a `paying` entry.
    pub(crate) fn paying_orders(&self) -> impl Iterator<Item = u32> + '_ {
        self.paying.keys().copied()
    }
}
