//! What one batch changed: its encoded records, its replies, and what to publish to the read
//! side once the batch is durable ([`publish`]). Kept by the writer across batches (cleared,
//! not reallocated), with the deadlines it knows of ([`crate::deadlines`]).

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use stampede_core::{Campaign, CampaignId, Ledger, OrderState, Record, UnixMillis, UserId};

use super::MAX_EXPIRIES_PER_BATCH;
use crate::codec;
use crate::command::Reply;
use crate::deadlines::Deadlines;
use crate::published::CampaignView;
use crate::shared::Shared;

/// Why a user's published holding may have changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HoldingChange {
    /// A win: it may have put the user at the per-user limit (never takes them off it).
    Won,
    /// A release under `regrab_after_release`: it may have taken the user off the limit.
    Released,
}

/// What a batch changed, to publish once it is durable.
#[derive(Default)]
pub(super) struct BatchEffects {
    pub(super) encoded: Vec<u8>,
    pub(super) bounds: Vec<Range<usize>>,
    pub(super) replies: Vec<Reply>,
    /// Campaigns whose published numbers (stock, pool, refundable cents) may have changed.
    pub(super) touched: Vec<CampaignId>,
    /// Users whose holding may have changed, and how: republished from the ledger.
    pub(super) holders: Vec<(CampaignId, UserId, HoldingChange)>,
    pub(super) created: Vec<CampaignId>,
    /// Orders expired in this batch so far (bounded by [`MAX_EXPIRIES_PER_BATCH`]).
    pub(super) expired: usize,
    /// The batch's number for [`crate::Engine::read_durable`], if it changed the ledger.
    pub(super) number: Option<u64>,
    /// Whether a late or duplicate payment opened a refund in this batch.
    pub(super) refund_opened: bool,
    /// The (campaign, time) of the last win whose deadline was noted: a batch's wins mostly
    /// share both, so the deadline is noted once per run of them.
    pub(super) deadline_noted: Option<(CampaignId, UnixMillis)>,
    /// Every deadline that may be queued in the ledger: not per batch, never cleared.
    pub(super) deadlines: Deadlines,
}

impl BatchEffects {
    pub(super) fn clear(&mut self) {
        self.encoded.clear();
        self.bounds.clear();
        self.replies.clear();
        self.touched.clear();
        self.holders.clear();
        self.created.clear();
        self.expired = 0;
        self.number = None;
        self.refund_opened = false;
        self.deadline_noted = None;
    }

    /// Queues a decided record and notes what it changes on the read side: a new campaign,
    /// the stock and holders a win or a release moves, a deadline that enters the queues, a
    /// refund opened (the refund job is woken once the batch is durable).
    pub(super) fn note(&mut self, record: &Record, ledger: &Ledger) {
        self.push_record(record);
        let (campaign_id, order_id, from, to) = match record {
            Record::CampaignCreated { id, .. } => {
                self.created.push(*id);
                return;
            }
            Record::Won {
                campaign_id,
                user_id,
                won_at,
                ..
            }
            | Record::KeyedWon {
                campaign_id,
                user_id,
                won_at,
                ..
            } => {
                self.touched.push(*campaign_id);
                self.holders
                    .push((*campaign_id, user_id.clone(), HoldingChange::Won));
                // Every win of one campaign in a batch is due at the same time (`won_at` is
                // the batch's `now`, plus the campaign's window): note it once per run.
                if self.deadline_noted != Some((*campaign_id, *won_at)) {
                    let window = ledger
                        .campaign(*campaign_id)
                        .expect("a campaign with a win exists")
                        .spec()
                        .deadline_window_millis();
                    self.deadlines
                        .add(UnixMillis(won_at.0.saturating_add(window)));
                    self.deadline_noted = Some((*campaign_id, *won_at));
                }
                return;
            }
            Record::OrderTransitioned {
                campaign_id,
                order_id,
                from,
                to,
                ..
            } => (*campaign_id, *order_id, *from, *to),
            Record::ExtraPaymentRecorded { .. } => {
                self.refund_opened = true;
                return;
            }
            // Each moves an order between two live states (`paying`, `paid`, `claimed`) or
            // between two closed ones (`refunded`), and no money in or out of a packet pool:
            // nothing [`CampaignView::publish`] shows changes.
            Record::PaymentStarted { .. }
            | Record::PaymentRecorded { .. }
            | Record::RefundConfirmed { .. }
            | Record::ClaimPaid { .. } => return,
        };
        // Published are stock (back on a release), the pool (moved by wins only) and the
        // refundable cents (up on `claim_expired`): republishing the campaign after any other
        // move would cost a map lookup, atomic stores and a gauge update for nothing.
        let releases = from.is_live() && !to.is_live();
        if releases || to == OrderState::ClaimExpired {
            self.touched.push(campaign_id);
        }
        // Only a release under `regrab_after_release` changes what the read side holds for
        // the user (it may take them off the limit); every other move keeps their holding and
        // latest order, so republishing it would only cost a lookup and an allocation per
        // expiry (measured: ~10 % of the writer's time draining a million expiries).
        if releases
            && ledger
                .campaign(campaign_id)
                .is_some_and(|c| c.spec().regrab_after_release())
        {
            let order = ledger.order(order_id).expect("a moved order exists");
            self.holders
                .push((campaign_id, order.user_id, HoldingChange::Released));
        }
        // A declined payout puts a `claiming` packet back under its claim deadline (queued
        // again by the core, possibly already past).
        if from == OrderState::Claiming && to == OrderState::Won {
            let order = ledger.order(order_id).expect("a moved order exists");
            self.deadlines
                .add(order.expires_at.expect("a won packet has a claim deadline"));
        }
    }

    /// Expires overdue orders up to what is left of this batch's expiry budget. Unless
    /// `forced`, looks only if a deadline the writer knows of has come.
    pub(super) fn expire_due(
        &mut self,
        ledger: &mut Ledger,
        now: UnixMillis,
        forced: bool,
    ) -> usize {
        let budget = MAX_EXPIRIES_PER_BATCH.saturating_sub(self.expired);
        if budget == 0 || !(forced || self.deadlines.may_be_due(now)) {
            return 0;
        }
        let records = ledger.expire_due(now, budget);
        if records.len() < budget {
            // Short of the budget: every order due by `now` is expired.
            self.deadlines.passed(now);
        }
        for record in &records {
            self.note(record, ledger);
        }
        self.expired += records.len();
        records.len()
    }

    pub(super) fn push_record(&mut self, record: &Record) {
        let start = self.encoded.len();
        codec::encode(record, &mut self.encoded);
        self.bounds.push(start..self.encoded.len());
    }
}

/// Publishes a durable batch's effects to the read side (no-op for a failed batch's effects:
/// the engine is poisoned and the read side keeps showing the last durable state).
pub(super) fn publish(effects: &BatchEffects, shared: &Shared) {
    if shared.poisoned.load(Ordering::Acquire) || effects.bounds.is_empty() {
        return;
    }
    if effects.refund_opened {
        shared.refunds_wake.notify_one();
    }
    let ledger = shared.ledger.lock();
    for id in &effects.created {
        let campaign = ledger.campaign(*id).expect("created campaign exists");
        shared
            .published
            .insert(Arc::new(CampaignView::new(campaign)));
    }
    let mut last = None;
    for id in &effects.touched {
        if last == Some(*id) {
            continue;
        }
        last = Some(*id);
        let campaign = ledger.campaign(*id).expect("touched campaign exists");
        shared
            .published
            .with_campaign(*id, |view| view.publish(campaign));
    }
    // Each user as the ledger now stands: a win may put them at the limit, a release (under
    // `regrab_after_release`) may take them off it. A win that leaves the user under the
    // limit (`per_user_limit` > 1) changes nothing published: they were not a holder before.
    // A batch's wins mostly share a campaign: look it and its view up once per run of them.
    let mut current: Option<(CampaignId, &Campaign, Option<Arc<CampaignView>>)> = None;
    for (id, user, change) in &effects.holders {
        if current.as_ref().is_none_or(|(last, ..)| last != id) {
            let campaign = ledger.campaign(*id).expect("touched campaign exists");
            current = Some((*id, campaign, shared.published.campaign(*id)));
        }
        let Some((_, campaign, Some(view))) = &current else {
            continue;
        };
        match (campaign.holding_limit(user.as_str()), change) {
            (Some(ticket), _) => view.publish_holder(user.clone(), ticket),
            (None, HoldingChange::Released) => view.remove_holder(user),
            (None, HoldingChange::Won) => {}
        }
    }
}
