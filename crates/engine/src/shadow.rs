//! Shadow copies of campaigns: where a rehearsal's grabs are decided.
//!
//! A rehearsal (shadow traffic: `s1.` tokens) must go through everything a real stampede
//! meets except the sale itself. Its grabs are decided here, by the same pure
//! [`Ledger::grab`] the writer runs, against a copy of the campaign made from its spec (same
//! kind, stock or pool, per-user limit, start and end) on the campaign's first shadow grab.
//! The copy's state is its own: nothing here reaches the real ledger, the journal, the read
//! side, payments or winners.
//!
//! In memory only. A rehearsal needs no durability: nothing is sold, so nothing must survive
//! a crash, and the journal stays the record of real sales alone. After a restart every
//! shadow copy is gone (the next shadow grab starts a fresh one). Shadow orders are never
//! paid, cancelled or expired: nobody drives them, so a copy's stock only goes down.
//!
//! One mutex over all copies: a shadow grab holds it for one ledger decision (no I/O, well
//! under a microsecond), and shadow traffic is a rehearsal's, not the sale's.

use std::collections::HashMap;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stampede_core::{
    CampaignId, CampaignStatus, GrabOutcome, Ledger, Order, OrderKey, Record, UnixMillis, UserId,
};

use crate::published::CampaignView;

/// Most campaigns with a shadow copy at once. A rehearsal is of one sale, or a handful run
/// side by side; 64 leaves room for that and bounds what stray shadow grabs over many
/// campaigns can hold. At the limit a shadow grab on a campaign without a copy is refused
/// ([`ShadowFull::Campaigns`]) until a copy is reset.
pub const MAX_SHADOW_CAMPAIGNS: usize = 64;

/// Most shadow orders over all copies. About 200 bytes each (order slot, per-user index,
/// user id), so 1,000,000 hold at most ~200 MiB: a rehearsal of the seed scenario (3,000
/// items) uses a few hundred KiB. At the limit a shadow grab that could still win is refused
/// ([`ShadowFull::Orders`]); one on a sold-out, closed or unknown campaign is answered as usual.
pub const MAX_SHADOW_ORDERS: usize = 1_000_000;

/// The ChaCha stream the shadow copies draw from (the writer uses stream 0).
const SHADOW_RNG_STREAM: u64 = 1;

/// Why a shadow grab was not decided: a bound is reached. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShadowFull {
    /// [`MAX_SHADOW_CAMPAIGNS`] copies exist and this campaign has none.
    #[error("the shadow copies hold their maximum of {MAX_SHADOW_CAMPAIGNS} campaigns")]
    Campaigns,
    /// [`MAX_SHADOW_ORDERS`] shadow orders exist.
    #[error("the shadow copies hold their maximum of {MAX_SHADOW_ORDERS} orders")]
    Orders,
}

/// A shadow copy as the admin sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowStatus {
    /// Items or packets in the copy.
    pub total: u64,
    /// Not yet won in the copy.
    pub remaining: u64,
    /// Shadow orders (winners) in the copy.
    pub winners: usize,
    /// The copy's status at the moment asked.
    pub status: CampaignStatus,
    /// When the copy was made (the rehearsal's first grab).
    pub started_at: UnixMillis,
}

struct Copy {
    /// A ledger holding this one campaign: dropping it on reset frees everything.
    ledger: Ledger,
    started_at: UnixMillis,
}

struct Inner {
    /// Most copies ([`MAX_SHADOW_CAMPAIGNS`] outside tests).
    max_campaigns: usize,
    /// Most shadow orders ([`MAX_SHADOW_ORDERS`] outside tests).
    max_orders: usize,
    copies: HashMap<CampaignId, Copy>,
    orders: usize,
    rng: ChaCha8Rng,
}

/// Every shadow copy, bounded by [`MAX_SHADOW_CAMPAIGNS`] and [`MAX_SHADOW_ORDERS`].
pub struct Shadows {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Shadows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadows").finish_non_exhaustive()
    }
}

impl Shadows {
    /// No copies yet. Order ids and packet draws come from `rng_seed` (`None`: the OS).
    pub fn new(rng_seed: Option<u64>) -> Self {
        Self::with_limits(rng_seed, MAX_SHADOW_CAMPAIGNS, MAX_SHADOW_ORDERS)
    }

    /// [`Shadows::new`] with other bounds than [`MAX_SHADOW_CAMPAIGNS`] and
    /// [`MAX_SHADOW_ORDERS`] (tests reach them without a million grabs).
    pub(crate) fn with_limits(
        rng_seed: Option<u64>,
        max_campaigns: usize,
        max_orders: usize,
    ) -> Self {
        let mut rng = match rng_seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => ChaCha8Rng::from_os_rng(),
        };
        // The writer draws from stream 0 of the same seed: stream 1 keeps shadow order ids and
        // packet draws apart from the real ones.
        rng.set_stream(SHADOW_RNG_STREAM);
        Self {
            inner: Mutex::new(Inner {
                max_campaigns,
                max_orders,
                copies: HashMap::new(),
                orders: 0,
                rng,
            }),
        }
    }

    /// Decides one shadow grab by `user` at `now` against `real`'s shadow copy, making the
    /// copy first if it has none.
    ///
    /// # Errors
    /// [`ShadowFull`] when a bound is reached; nothing changed.
    pub fn grab(
        &self,
        real: &CampaignView,
        user: &UserId,
        now: UnixMillis,
    ) -> Result<GrabOutcome, ShadowFull> {
        let inner = &mut *self.inner.lock();
        if !inner.copies.contains_key(&real.id) {
            if inner.copies.len() >= inner.max_campaigns {
                return Err(ShadowFull::Campaigns);
            }
            let copy = Copy {
                ledger: copy_of(real, OrderKey(inner.rng.random())),
                started_at: now,
            };
            inner.copies.insert(real.id, copy);
        }
        let copy = inner.copies.get_mut(&real.id).expect("made above");
        let could_win = copy
            .ledger
            .campaign(real.id)
            .is_some_and(|c| c.status(now) == CampaignStatus::Active);
        if could_win && inner.orders >= inner.max_orders {
            return Err(ShadowFull::Orders);
        }
        let outcome = copy.ledger.grab(real.id, user, now, &mut inner.rng).outcome;
        if matches!(outcome, GrabOutcome::Won(_)) {
            inner.orders += 1;
        }
        Ok(outcome)
    }

    /// The shadow copy of `id`, if it has one.
    pub fn status(&self, id: CampaignId, now: UnixMillis) -> Option<ShadowStatus> {
        let inner = self.inner.lock();
        let copy = inner.copies.get(&id)?;
        let campaign = copy.ledger.campaign(id).expect("a copy holds its campaign");
        Some(ShadowStatus {
            total: campaign.total(),
            remaining: campaign.remaining(),
            winners: campaign.order_count(),
            status: campaign.status(now),
            started_at: copy.started_at,
        })
    }

    /// A page of the copy's orders in win order, as [`stampede_core::Campaign::winners_page`]
    /// (`None`: no copy).
    pub fn winners_page(
        &self,
        id: CampaignId,
        start: usize,
        limit: usize,
    ) -> Option<(Vec<Order>, Option<usize>)> {
        let inner = self.inner.lock();
        let copy = inner.copies.get(&id)?;
        let campaign = copy.ledger.campaign(id).expect("a copy holds its campaign");
        Some(campaign.winners_page(start, limit))
    }

    /// Drops the copy of `id` (the next shadow grab starts a fresh rehearsal); whether there
    /// was one.
    pub fn reset(&self, id: CampaignId) -> bool {
        let inner = &mut *self.inner.lock();
        let Some(copy) = inner.copies.remove(&id) else {
            return false;
        };
        inner.orders -= copy.ledger.order_count();
        true
    }

    /// Copies and shadow orders held now.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.copies.len(), inner.orders)
    }
}

/// A ledger holding a copy of `real`: its creation record applied as replay applies it, so
/// the copy keeps the real campaign's id and spec (a start already past is kept as it is,
/// which a new campaign's validation would refuse).
fn copy_of(real: &CampaignView, order_key: OrderKey) -> Ledger {
    let mut ledger = Ledger::new();
    let record = Record::CampaignCreated {
        id: real.id,
        spec: real.spec.clone(),
        created_at: real.created_at,
        order_key,
    };
    ledger
        .apply(&record)
        .expect("a published campaign's creation applies to an empty ledger");
    ledger
}

#[cfg(test)]
mod tests;
