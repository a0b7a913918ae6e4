//! Wins made under an `Idempotency-Key` ([`crate::GrabKey`]): which order a user's grab under
//! a key won, so the key's retry is answered that order again. Like the per-user index, the
//! table keeps only the order's index and the key; the user is the order's own.
//!
//! Bounded by the orders: at most one key per order, kept as long as the order is.

use std::hash::BuildHasher;

use super::Campaign;
use crate::grab_key::GrabKey;
use crate::outcome::OrderTicket;

/// One keyed win: the order at `index` was won under `key` (by the order's user).
#[derive(Clone, Debug)]
pub(super) struct KeyedWin {
    pub(super) index: u32,
    pub(super) key: GrabKey,
}

impl Campaign {
    fn key_hash(&self, user: &str, key: &str) -> u64 {
        self.hasher.hash_one((user, key))
    }

    /// The index of the order `user` won under `key`, if any.
    fn keyed_index(&self, user: &str, key: &str) -> Option<u32> {
        let orders = &self.orders;
        self.keys
            .find(self.key_hash(user, key), |won| {
                won.key.as_str() == key && orders[won.index as usize].user_id.as_str() == user
            })
            .map(|won| won.index)
    }

    /// The order `user` won under `key`, as the grab answered it.
    pub fn keyed_win(&self, user: &str, key: &str) -> Option<OrderTicket> {
        self.keyed_index(user, key).map(|index| OrderTicket {
            order_id: self.order_id(index),
            amount_cents: self.orders[index as usize].amount_cents,
        })
    }

    /// Whether a win by `user` under `key` may be recorded: the key has not won for them.
    pub(crate) fn check_key(&self, user: &str, key: &str) -> Result<(), &'static str> {
        match self.keyed_index(user, key) {
            Some(_) => Err("a second win under one idempotency key"),
            None => Ok(()),
        }
    }

    /// Remembers that the order at `index` (which exists) was won under `key`.
    ///
    /// # Panics
    /// In debug builds, if [`Campaign::check_key`] would refuse it.
    pub(crate) fn index_key(&mut self, index: u32, key: GrabKey) {
        let user = self.orders[index as usize].user_id.clone();
        debug_assert_eq!(self.check_key(user.as_str(), key.as_str()), Ok(()));
        let hash = self.key_hash(user.as_str(), key.as_str());
        let Self {
            keys,
            orders,
            hasher,
            ..
        } = self;
        keys.insert_unique(hash, KeyedWin { index, key }, |won| {
            hasher.hash_one((
                orders[won.index as usize].user_id.as_str(),
                won.key.as_str(),
            ))
        });
    }

    /// Every keyed win, by order index (for the snapshot).
    pub(crate) fn keyed_wins(&self) -> Vec<(u32, &str)> {
        let mut wins: Vec<(u32, &str)> = self
            .keys
            .iter()
            .map(|won| (won.index, won.key.as_str()))
            .collect();
        wins.sort_unstable_by_key(|&(index, _)| index);
        wins
    }

    /// Every keyed win names an order, at most one key per order, and each is found again.
    pub(super) fn check_keys(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::with_capacity(self.keys.len());
        for won in &self.keys {
            let order = self
                .orders
                .get(won.index as usize)
                .ok_or("a keyed win for an order that does not exist")?;
            ensure!(seen.insert(won.index), "two keys for one order");
            ensure!(
                self.keyed_index(order.user_id.as_str(), won.key.as_str()) == Some(won.index),
                "keyed wins out of step"
            );
        }
        Ok(())
    }
}
