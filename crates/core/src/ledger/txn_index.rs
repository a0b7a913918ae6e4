//! Which campaign first recorded each (channel, txn_id), so that a transaction is recorded for
//! one order in the whole ledger, not once per campaign.
//!
//! Each campaign's [`crate::payment_book`] finds its own payments by (channel, txn_id). This
//! index keeps only a 64-bit hash of the pair and the slot of the first campaign that recorded
//! a payment with that hash (12 bytes a payment, against about 100 for the payment itself), so
//! the usual answer, "no campaign has it", costs one probe. A hash that is present sends the
//! question to that campaign's book; if that book does not have the pair either (two pairs
//! sharing a hash), every campaign is asked: correct, and rare enough not to matter.
//!
//! Soft state: rebuilt by [`crate::Ledger::apply`] on replay like the books themselves.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

/// Hash of (channel, txn_id) → slot of the first campaign that recorded a payment with it.
/// Bounded by the payments, which the campaigns bound (see [`crate::payment_book`]).
#[derive(Clone, Debug, Default)]
pub(super) struct TxnIndex<S = RandomState> {
    first_slot: HashMap<u64, u32>,
    hasher: S,
}

/// Where a (channel, txn_id) may be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TxnPlace {
    /// No campaign has recorded it.
    Nowhere,
    /// Campaign `slot` recorded it (and no other can have: the first one to record a pair
    /// is the only one allowed to).
    RecordedIn(u32),
    /// The hash is shared with another pair: ask every campaign.
    Anywhere,
}

impl<S: BuildHasher> TxnIndex<S> {
    fn hash(&self, channel: &str, txn_id: &str) -> u64 {
        self.hasher.hash_one((channel, txn_id))
    }

    /// Records that campaign `slot` recorded a payment for (channel, txn_id).
    pub(super) fn insert(&mut self, channel: &str, txn_id: &str, slot: u32) {
        let hash = self.hash(channel, txn_id);
        self.first_slot.entry(hash).or_insert(slot);
    }

    /// Where (channel, txn_id) may be recorded; `has(slot)` asks campaign `slot`'s book.
    pub(super) fn place(&self, channel: &str, txn_id: &str, has: impl Fn(u32) -> bool) -> TxnPlace {
        match self.first_slot.get(&self.hash(channel, txn_id)) {
            None => TxnPlace::Nowhere,
            Some(&slot) if has(slot) => TxnPlace::RecordedIn(slot),
            Some(_) => TxnPlace::Anywhere,
        }
    }

    /// Hashes indexed (for the invariant check).
    pub(super) fn len(&self) -> usize {
        self.first_slot.len()
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasherDefault, Hasher};

    use super::*;

    /// Hashes everything to 0: every pair collides.
    #[derive(Default)]
    struct Zero;
    impl Hasher for Zero {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn a_pair_is_placed_in_its_campaign_and_a_collision_asks_everyone() {
        let mut index = TxnIndex::<RandomState>::default();
        assert_eq!(index.place("sim", "t1", |_| true), TxnPlace::Nowhere);
        index.insert("sim", "t1", 3);
        index.insert("sim", "t1", 5);
        assert_eq!(
            index.place("sim", "t1", |s| s == 3),
            TxnPlace::RecordedIn(3)
        );
        assert_eq!(index.len(), 1);

        let mut colliding = TxnIndex::<BuildHasherDefault<Zero>>::default();
        colliding.insert("sim", "t1", 3);
        // Another pair with the same hash, not in campaign 3's book: ask every campaign.
        assert_eq!(colliding.place("sim", "t2", |_| false), TxnPlace::Anywhere);
        assert_eq!(
            colliding.place("sim", "t1", |s| s == 3),
            TxnPlace::RecordedIn(3)
        );
    }
}
