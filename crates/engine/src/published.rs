//! The lock-free read side: what request handlers may read without touching the writer.
//!
//! The writer publishes here only after a batch is durable, so everything a handler reads here
//! is acknowledged state. The sold-out fast path reads one atomic and, when the campaign is
//! closed or sold out, looks the user up in a lock-free map (papaya: reads take no lock and do
//! not allocate). Nothing here is authoritative: the [`stampede_core::Ledger`] in the writer is.

use std::sync::atomic::{AtomicU64, Ordering};

use stampede_core::{
    Campaign, CampaignId, CampaignSpec, CampaignStatus, Cents, GrabOutcome, Ledger, OrderId,
    OrderTicket, UnixMillis, UserId,
};

use crate::deadlines::Deadlines;

/// Everything the fast path needs about one campaign.
#[derive(Debug)]
pub struct CampaignView {
    /// The campaign's id.
    pub id: CampaignId,
    /// What was asked for (immutable).
    pub spec: CampaignSpec,
    /// When it was created.
    pub created_at: UnixMillis,
    /// Its place in its ledger, in creation order ([`Campaign::slot`]).
    pub slot: u32,
    /// Items or packets not yet won, as of the last durable batch.
    remaining: AtomicU64,
    /// Money left in a red-packet pool, as of the last durable batch.
    remaining_cents: AtomicU64,
    /// Sum of `claim_expired` packets (refundable to the owner), as of the last durable batch.
    refundable_cents: AtomicU64,
    /// Users holding `per_user_limit` live orders, with their latest order. Bounded by the
    /// campaign's stock (at most `total` users can hold an item). The key shares the core's
    /// string (`UserId` is an `Arc<str>`).
    holders: papaya::HashMap<UserId, HeldTicket>,
}

impl CampaignView {
    /// A view of `campaign` as it stands.
    pub fn new(campaign: &Campaign) -> Self {
        Self {
            id: campaign.id(),
            spec: campaign.spec().clone(),
            created_at: campaign.created_at(),
            slot: campaign.slot(),
            remaining: AtomicU64::new(campaign.remaining()),
            remaining_cents: AtomicU64::new(campaign.pool().map_or(0, |p| p.remaining_cents.0)),
            refundable_cents: AtomicU64::new(campaign.refundable_cents()),
            holders: papaya::HashMap::new(),
        }
    }

    /// Items or packets not yet won (durable state).
    pub fn remaining(&self) -> u64 {
        self.remaining.load(Ordering::Acquire)
    }

    /// Money left in a red-packet pool (0 for seckill).
    pub fn remaining_cents(&self) -> u64 {
        self.remaining_cents.load(Ordering::Acquire)
    }

    /// Sum of the red packets whose claim expired: refundable to the campaign's owner.
    pub fn refundable_cents(&self) -> u64 {
        self.refundable_cents.load(Ordering::Acquire)
    }

    /// Status at `now`.
    pub fn status(&self, now: UnixMillis) -> CampaignStatus {
        let c = self.spec.common();
        CampaignStatus::derive(now, c.starts_at, c.ends_at, self.remaining())
    }

    /// The user's latest order if they hold the per-user limit (no lock, no allocation).
    pub fn holder(&self, user: &str) -> Option<OrderTicket> {
        self.holders.pin().get(user).map(|held| held.ticket())
    }

    /// Called by the writer after a durable batch, before it replies. Stock and holders are
    /// stored one after the other, so a reader between the two may see stock returned by a
    /// release while the released user still shows as a holder (answered `already_won` once
    /// more): a stale but acknowledged answer, never an oversell (the writer decides wins).
    pub(crate) fn publish(&self, campaign: &Campaign) {
        self.remaining
            .store(campaign.remaining(), Ordering::Release);
        if let Some(pool) = campaign.pool() {
            self.remaining_cents
                .store(pool.remaining_cents.0, Ordering::Release);
            self.refundable_cents
                .store(campaign.refundable_cents(), Ordering::Release);
        }
    }

    /// Records that `user` now holds the limit with `ticket` as latest order.
    pub(crate) fn publish_holder(&self, user: UserId, ticket: OrderTicket) {
        self.holders.pin().insert(user, HeldTicket::new(ticket));
    }

    /// Records that `user` no longer holds the limit (a release under `regrab_after_release`).
    pub(crate) fn remove_holder(&self, user: &UserId) {
        self.holders.pin().remove(user);
    }
}

/// An [`OrderTicket`] as the holders map stores it: the id as two `u64` halves, so the value is
/// 24 bytes at 8-byte alignment instead of 32 at the 16 a `u128` asks for. papaya boxes every
/// entry; with the 16-byte key that is a 40-byte box (a 48-byte malloc chunk) instead of 48
/// (64): 16 MiB less at 1,000,000 holders.
#[derive(Clone, Copy, Debug)]
struct HeldTicket {
    order_id_high: u64,
    order_id_low: u64,
    amount_cents: u64,
}
const _: () = assert!(std::mem::size_of::<HeldTicket>() == 24);

impl HeldTicket {
    fn new(ticket: OrderTicket) -> Self {
        Self {
            order_id_high: (ticket.order_id.0 >> 64) as u64,
            order_id_low: ticket.order_id.0 as u64,
            amount_cents: ticket.amount_cents.0,
        }
    }

    fn ticket(self) -> OrderTicket {
        OrderTicket {
            order_id: OrderId(
                (u128::from(self.order_id_high) << 64) | u128::from(self.order_id_low),
            ),
            amount_cents: Cents(self.amount_cents),
        }
    }
}

/// All published campaigns. Campaign creation is rare; lookups are on every request.
#[derive(Debug, Default)]
pub struct Published {
    campaigns: papaya::HashMap<CampaignId, std::sync::Arc<CampaignView>>,
}

impl Published {
    /// The campaign's view, if it exists.
    pub fn campaign(&self, id: CampaignId) -> Option<std::sync::Arc<CampaignView>> {
        self.campaigns.pin().get(&id).cloned()
    }

    /// Runs `f` on the campaign's view without cloning the `Arc` (the hot path).
    pub fn with_campaign<R>(
        &self,
        id: CampaignId,
        f: impl FnOnce(&CampaignView) -> R,
    ) -> Option<R> {
        self.campaigns.pin().get(&id).map(|view| f(view))
    }

    /// Every campaign id.
    pub fn ids(&self) -> Vec<CampaignId> {
        self.campaigns.pin().keys().copied().collect()
    }

    pub(crate) fn insert(&self, view: std::sync::Arc<CampaignView>) {
        self.campaigns.pin().insert(view.id, view);
    }

    /// Answers a grab by `user` at `now` from durable state when that is enough: campaign
    /// unknown, not started, the user already holds the limit (`already_won`), ended, or
    /// sold out. No lock, no allocation, no I/O. `None` means the writer must decide.
    pub fn fast_path(
        &self,
        campaign: CampaignId,
        user: &str,
        now: UnixMillis,
    ) -> Option<GrabOutcome> {
        self.with_campaign(campaign, |view| {
            let common = view.spec.common();
            if common.starts_at.is_some_and(|s| now < s) {
                return Some(GrabOutcome::NotStarted);
            }
            if let Some(ticket) = view.holder(user) {
                return Some(GrabOutcome::AlreadyWon(ticket));
            }
            if common.ends_at.is_some_and(|e| now >= e) {
                return Some(GrabOutcome::Ended);
            }
            (view.remaining() == 0).then_some(GrabOutcome::SoldOut)
        })
        .unwrap_or(Some(GrabOutcome::CampaignNotFound))
    }

    /// The read side of every campaign in `ledger` as it stands (after replay), and every
    /// deadline queued in it.
    pub(crate) fn rebuild(ledger: &Ledger) -> (Self, Deadlines) {
        let published = Published::default();
        let mut deadlines = Deadlines::default();
        for campaign in ledger.campaigns() {
            let view = CampaignView::new(campaign);
            for order in (0..campaign.order_count() as u32).filter_map(|i| campaign.order_at(i)) {
                if let Some(ticket) = campaign.holding_limit(order.user_id.as_str()) {
                    view.publish_holder(order.user_id.clone(), ticket);
                }
                if let Some(deadline) = order.expires_at {
                    deadlines.add(deadline);
                }
            }
            published.insert(std::sync::Arc::new(view));
        }
        (published, deadlines)
    }
}
