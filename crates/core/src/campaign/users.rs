//! The per-user index: who holds the per-user limit, found by a hash of the user's id computed\nonce per request.

use std::hash::BuildHasher;

use super::{Campaign, UserHash, UserOrders};
use crate::outcome::OrderTicket;

impl Campaign {
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

    pub(super) fn user_orders(&self, user: &str) -> Option<&UserOrders> {
        self.user_orders_hashed(user, self.user_hash(user))
    }

    pub(super) fn user_orders_hashed(&self, user: &str, hash: UserHash) -> Option<&UserOrders> {
        let orders = &self.orders;
        self.by_user.find(hash.0, |u| {
            orders[u.latest as usize].user_id.as_str() == user
        })
    }
}
