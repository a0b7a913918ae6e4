//! Where each (channel, txn_id) was recorded in the whole ledger, so that a transaction is
//! recorded for one order in the whole ledger, not once per campaign.
//!
//! Each campaign's [`crate::payment_book`] finds its own payments by (channel, txn_id). This
//! index finds them across campaigns: it stores only the place of each payment (campaign slot,
//! position in that campaign's payment list) and compares a probe against the payment at that
//! place, exactly: no copy of the pair, no false match, no fallback scan. An element is 8
//! bytes plus hashbrown's 1 control byte; at its load factor (between 7/16 and 7/8 full) that
//! is 10 to 21 bytes a payment, against about 100 for the payment itself.
//!
//! Soft state: rebuilt by [`crate::Ledger::apply`] on replay like the books themselves.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// Where a payment is recorded: the campaign's slot in the ledger and the payment's position
/// in that campaign's payment list ([`crate::Campaign::payments`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TxnPlace {
    /// The campaign's slot.
    pub(super) slot: u32,
    /// The payment's position in the campaign's payments.
    pub(super) entry: u32,
}
const _: () = assert!(std::mem::size_of::<TxnPlace>() == 8);

/// (channel, txn_id) → the place of the payment recorded for it, keyed by the pair read at
/// that place. Bounded by the payments, which the campaigns bound (see
/// [`crate::payment_book`]).
#[derive(Clone, Debug, Default)]
pub(super) struct TxnIndex<S = RandomState> {
    places: HashTable<TxnPlace>,
    hasher: S,
}

/// A (channel, txn_id)'s hash in one index ([`TxnIndex::hash`]): an apply computes it once
/// for its check and its insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TxnHash(u64);

impl<S: BuildHasher> TxnIndex<S> {
    /// The hash of (channel, txn_id) in this index.
    pub(super) fn hash(&self, channel: &str, txn_id: &str) -> TxnHash {
        TxnHash(self.hasher.hash_one((channel, txn_id)))
    }

    /// The place of the payment recorded for (channel, txn_id), if any; `pair_at(place)`
    /// reads the (channel, txn_id) of the payment at a place.
    pub(super) fn find<'a>(
        &self,
        channel: &str,
        txn_id: &str,
        pair_at: impl Fn(TxnPlace) -> (&'a str, &'a str),
    ) -> Option<TxnPlace> {
        self.find_hashed(self.hash(channel, txn_id), channel, txn_id, pair_at)
    }

    /// [`TxnIndex::find`] with the pair's hash from [`TxnIndex::hash`].
    pub(super) fn find_hashed<'a>(
        &self,
        hash: TxnHash,
        channel: &str,
        txn_id: &str,
        pair_at: impl Fn(TxnPlace) -> (&'a str, &'a str),
    ) -> Option<TxnPlace> {
        self.places
            .find(hash.0, |&place| pair_at(place) == (channel, txn_id))
            .copied()
    }

    /// Indexes the payment recorded at `place`, whose pair (hashed `hash` by
    /// [`TxnIndex::hash`]) no other place has: the ledger checks first.
    ///
    /// # Panics
    /// If the pair at `place` is indexed already.
    pub(super) fn insert<'a>(
        &mut self,
        hash: TxnHash,
        place: TxnPlace,
        pair_at: impl Fn(TxnPlace) -> (&'a str, &'a str),
    ) {
        let (channel, txn_id) = pair_at(place);
        debug_assert_eq!(hash, self.hash(channel, txn_id), "the pair's hash");
        let hash = hash.0;
        let Self { places, hasher } = self;
        match places.entry(
            hash,
            |&p| pair_at(p) == (channel, txn_id),
            |&p| hasher.hash_one(pair_at(p)),
        ) {
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(place);
            }
            hashbrown::hash_table::Entry::Occupied(_) => {
                panic!("transaction {channel}/{txn_id} indexed twice")
            }
        }
    }

    /// Payments indexed (for the invariant check).
    pub(super) fn len(&self) -> usize {
        self.places.len()
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

    /// Payments by campaign slot, as (channel, txn_id).
    fn books() -> Vec<Vec<(&'static str, &'static str)>> {
        vec![
            vec![("sim", "t1"), ("sim", "t2")],
            vec![("alt", "t1")],
            vec![("sim", "t3")],
        ]
    }

    fn index_all<S: BuildHasher>(index: &mut TxnIndex<S>, books: &[Vec<(&str, &str)>]) {
        let pair_at = |p: TxnPlace| books[p.slot as usize][p.entry as usize];
        for (slot, book) in books.iter().enumerate() {
            for entry in 0..book.len() {
                let place = TxnPlace {
                    slot: slot as u32,
                    entry: entry as u32,
                };
                let (channel, txn_id) = pair_at(place);
                index.insert(index.hash(channel, txn_id), place, pair_at);
            }
        }
    }

    fn finds_exactly<S: BuildHasher>(index: &TxnIndex<S>, books: &[Vec<(&str, &str)>]) {
        let pair_at = |p: TxnPlace| books[p.slot as usize][p.entry as usize];
        let place = |slot, entry| Some(TxnPlace { slot, entry });
        assert_eq!(index.find("sim", "t1", pair_at), place(0, 0));
        assert_eq!(index.find("sim", "t2", pair_at), place(0, 1));
        assert_eq!(index.find("alt", "t1", pair_at), place(1, 0));
        assert_eq!(index.find("sim", "t3", pair_at), place(2, 0));
        assert_eq!(index.find("alt", "t2", pair_at), None);
        assert_eq!(index.find("sim", "t", pair_at), None);
        assert_eq!(index.len(), 4);
    }

    #[test]
    fn a_pair_is_found_at_its_place_and_nowhere_else() {
        let books = books();
        let mut index = TxnIndex::<RandomState>::default();
        index_all(&mut index, &books);
        finds_exactly(&index, &books);
    }

    #[test]
    fn colliding_hashes_still_compare_exactly() {
        let books = books();
        let mut index = TxnIndex::<BuildHasherDefault<Zero>>::default();
        index_all(&mut index, &books);
        finds_exactly(&index, &books);
    }

    #[test]
    #[should_panic(expected = "indexed twice")]
    fn a_pair_is_indexed_once() {
        let books = vec![vec![("sim", "t1"), ("sim", "t1")]];
        let mut index = TxnIndex::<RandomState>::default();
        index_all(&mut index, &books);
    }
}
