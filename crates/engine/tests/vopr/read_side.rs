//! The read side as it must be: taken from the ledger after every durable step (and every
//! reopen), and held against what `Published` shows after every step. After a failed step the
//! published side must still show the last durable state, never the failed batch's decisions.

use std::collections::{BTreeMap, BTreeSet};

use stampede_core::{CampaignId, GrabOutcome, Ledger, OrderTicket, UnixMillis, UserId};
use stampede_engine::Published;

/// What the fast path of one campaign must answer from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CampaignRead {
    starts_at: Option<UnixMillis>,
    ends_at: Option<UnixMillis>,
    remaining: u64,
    remaining_cents: u64,
    refundable_cents: u64,
    /// Users at the per-user limit, with their latest order.
    holders: BTreeMap<UserId, OrderTicket>,
}

/// The read side every handler must see, as of the last durable step.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadSide {
    campaigns: BTreeMap<CampaignId, CampaignRead>,
}

/// A campaign id no campaign has (ids are random 128-bit numbers).
const UNKNOWN_CAMPAIGN: CampaignId = CampaignId(7);

impl ReadSide {
    /// The read side `ledger` (durable) implies, for `users`.
    pub(crate) fn of(ledger: &Ledger, users: &[UserId]) -> Self {
        let campaigns = ledger
            .campaigns()
            .map(|c| {
                let common = c.spec().common();
                let holders = (users.iter())
                    .filter_map(|u| c.holding_limit(u.as_str()).map(|t| (u.clone(), t)))
                    .collect();
                let read = CampaignRead {
                    starts_at: common.starts_at,
                    ends_at: common.ends_at,
                    remaining: c.remaining(),
                    remaining_cents: c.pool().map_or(0, |p| p.remaining_cents.0),
                    refundable_cents: c.refundable_cents(),
                    holders,
                };
                (c.id(), read)
            })
            .collect();
        Self { campaigns }
    }

    /// `published` shows exactly this: the same campaigns, remaining counts and money, the
    /// same holders, and the fast path answers `already_won` for holders, `sold_out` exactly
    /// when nothing remains, and leaves everything else to the writer.
    pub(crate) fn check(&self, published: &Published, users: &[UserId], now: UnixMillis) {
        let shown: BTreeSet<CampaignId> = published.ids().into_iter().collect();
        let durable: BTreeSet<CampaignId> = self.campaigns.keys().copied().collect();
        assert_eq!(
            shown, durable,
            "published campaigns differ from durable ones"
        );
        assert_eq!(
            published.fast_path(UNKNOWN_CAMPAIGN, "u0", now),
            Some(GrabOutcome::CampaignNotFound)
        );
        for (id, read) in &self.campaigns {
            let view = published.campaign(*id).expect("listed");
            let numbers = (
                view.remaining(),
                view.remaining_cents(),
                view.refundable_cents(),
            );
            let expected = (read.remaining, read.remaining_cents, read.refundable_cents);
            assert_eq!(
                numbers, expected,
                "{id}: published (remaining, cents, refundable) differ from durable"
            );
            for user in users {
                let holder = read.holders.get(user).copied();
                assert_eq!(view.holder(user.as_str()), holder, "{id}: holder {user:?}");
                let fast = published.fast_path(*id, user.as_str(), now);
                assert_eq!(
                    fast,
                    read.fast_path(holder, now),
                    "{id}: fast path for {user:?} at {now:?}"
                );
            }
        }
    }
}

impl CampaignRead {
    /// What the fast path must answer a user holding `holder` at `now`.
    fn fast_path(&self, holder: Option<OrderTicket>, now: UnixMillis) -> Option<GrabOutcome> {
        if self.starts_at.is_some_and(|s| now < s) {
            return Some(GrabOutcome::NotStarted);
        }
        if let Some(ticket) = holder {
            return Some(GrabOutcome::AlreadyWon(ticket));
        }
        if self.ends_at.is_some_and(|e| now >= e) {
            return Some(GrabOutcome::Ended);
        }
        (self.remaining == 0).then_some(GrabOutcome::SoldOut)
    }
}
