//! The single writer: drains the command queue in batches, decides every command against the
//! ledger in arrival order, makes the batch's records durable with one journal append (one
//! fsync: group commit), publishes the new state to the read side, and only then replies.
//!
//! The writer is also the expiry timer: it waits for commands at most [`EXPIRY_TICK`], and
//! every batch (empty ones included) ends with an expiry pass over the ledger's deadline
//! queues, so expiries are decided, journaled and published like any other change — skipped
//! while no deadline the writer knows of has come ([`crate::deadlines`]). After a restart the
//! queues are rebuilt by replay and the first pass expires what fell due while the engine was
//! down.
//!
//! One thread owns every decision, so there is no lock on the winning path to contend for and
//! no interleaving to reason about: fairness is the queue's FIFO order. Batching is natural:
//! while one fsync runs, the next batch queues up, so the batch grows with the load and the
//! fsync cost per win falls.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use stampede_core::{
    Campaign, CampaignId, GrabOutcome, Ledger, OrderOutcome, OrderState, Record, UnixMillis, UserId,
};
use stampede_journal::{Journal, Storage};

use crate::clock::stopwatch;
use crate::codec;
use crate::command::{Command, Reply};
use crate::deadlines::Deadlines;
use crate::engine::Shared;
use crate::error::JOURNAL_FAILED_EARLIER;
use crate::published::CampaignView;

/// Most commands decided in one batch. Bounded by the journal's `MAX_BATCH_RECORDS` (8,192);
/// 4,096 keeps one batch's apply time well under a millisecond while amortising an fsync over
/// thousands of wins under a stampede.
pub const MAX_BATCH_COMMANDS: usize = 4_096;
/// Most orders expired in one batch, on top of its commands' records. The two together stay
/// within the journal's `MAX_BATCH_RECORDS`; a backlog (say after a long outage) drains over
/// several batches a tick apart instead of stalling the commands behind one huge append.
pub const MAX_EXPIRIES_PER_BATCH: usize = 4_096;
const _: () =
    assert!(MAX_BATCH_COMMANDS + MAX_EXPIRIES_PER_BATCH <= stampede_journal::MAX_BATCH_RECORDS);
/// Longest wait for a command before an expiry pass runs anyway: an unpaid order outlives its
/// deadline by at most about this much, plus the time to drain a backlog larger than one
/// pass ([`MAX_EXPIRIES_PER_BATCH`]; passes then follow each other without waiting, ~2 µs of
/// writer time per order), and reading it expires it at once.
pub const EXPIRY_TICK: Duration = Duration::from_millis(100);

/// Why a user's published holding may have changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HoldingChange {
    /// A win: it may have put the user at the per-user limit (never takes them off it).
    Won,
    /// A release under `regrab_after_release`: it may have taken the user off the limit.
    Released,
}

/// What a batch changed, to publish once it is durable.
#[derive(Default)]
struct BatchEffects {
    encoded: Vec<u8>,
    bounds: Vec<Range<usize>>,
    replies: Vec<Reply>,
    /// Campaigns whose published numbers (stock, pool, refundable cents) may have changed.
    touched: Vec<CampaignId>,
    /// Users whose holding may have changed, and how: republished from the ledger.
    holders: Vec<(CampaignId, UserId, HoldingChange)>,
    created: Vec<CampaignId>,
    /// Orders expired in this batch so far (bounded by [`MAX_EXPIRIES_PER_BATCH`]).
    expired: usize,
    /// The batch's number for [`crate::Engine::read_durable`], if it changed the ledger.
    number: Option<u64>,
    /// Every deadline that may be queued in the ledger: not per batch, never cleared.
    deadlines: Deadlines,
}

impl BatchEffects {
    fn clear(&mut self) {
        self.encoded.clear();
        self.bounds.clear();
        self.replies.clear();
        self.touched.clear();
        self.holders.clear();
        self.created.clear();
        self.expired = 0;
        self.number = None;
    }

    /// Queues an order record and, if it changes what the read side shows, the campaign it
    /// touches and the user whose holding it may change.
    fn push_transition(&mut self, record: &Record, ledger: &Ledger) {
        self.push_record(record);
        let (campaign_id, order_id, from, to) = match record {
            Record::OrderTransitioned {
                campaign_id,
                order_id,
                from,
                to,
                ..
            } => (*campaign_id, *order_id, *from, *to),
            // Each moves an order between two live states (`paying`, `paid`, `claimed`) or
            // between two closed ones (`refund_pending`, `refunded`), and no money in or out
            // of a packet pool: nothing [`CampaignView::publish`] shows changes.
            Record::PaymentStarted { .. }
            | Record::PaymentRecorded { .. }
            | Record::ExtraPaymentRecorded { .. }
            | Record::RefundConfirmed { .. }
            | Record::ClaimPaid { .. } => return,
            Record::CampaignCreated { .. } | Record::Won { .. } => {
                unreachable!("only order records reach push_transition")
            }
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
    fn expire_due(&mut self, ledger: &mut Ledger, now: UnixMillis, forced: bool) -> usize {
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
            self.push_transition(record, ledger);
        }
        self.expired += records.len();
        records.len()
    }

    fn push_record(&mut self, record: &Record) {
        let start = self.encoded.len();
        codec::encode(record, &mut self.encoded);
        self.bounds.push(start..self.encoded.len());
    }
}

/// Runs the writer until a `Shutdown` command or until every sender is gone.
/// `deadlines` holds every deadline queued in the ledger as replayed.
pub(crate) fn run<S: Storage>(
    mut journal: Journal<S>,
    commands: Receiver<Command>,
    shared: Arc<Shared>,
    mut rng: ChaCha8Rng,
    deadlines: Deadlines,
) {
    let records_per_fsync = metrics::histogram!("stampede_journal_records_per_fsync");
    let fsync_seconds = metrics::histogram!("stampede_journal_fsync_seconds");
    let batch_commands = metrics::histogram!("stampede_writer_batch_commands");
    let mut batch: Vec<Command> = Vec::with_capacity(MAX_BATCH_COMMANDS);
    let mut effects = BatchEffects {
        deadlines,
        ..BatchEffects::default()
    };
    // Whether the last expiry pass used its whole budget: more may be due, so the next batch
    // starts at once instead of after a tick (a backlog of a million due orders drains in
    // seconds, not in 245 ticks).
    let mut expiry_backlog = false;
    loop {
        let wait = if expiry_backlog {
            Duration::ZERO
        } else {
            EXPIRY_TICK
        };
        match commands.recv_timeout(wait) {
            Ok(first) => batch.push(first),
            // No command for a tick: run the expiry pass on an empty batch.
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while !batch.is_empty() && batch.len() < MAX_BATCH_COMMANDS {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            batch_commands.record(batch.len() as f64);
        }
        let shutdown = decide(&mut batch, &mut effects, &shared, &mut rng);

        if !effects.bounds.is_empty() {
            let slices: Vec<&[u8]> = effects
                .bounds
                .iter()
                .map(|r| &effects.encoded[r.clone()])
                .collect();
            let started = stopwatch();
            match journal.append_batch(&slices) {
                Ok(stats) => {
                    let counters = &shared.stats;
                    if stats.synced {
                        fsync_seconds.record(started.elapsed().as_secs_f64());
                        counters.fsyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    records_per_fsync.record(stats.records as f64);
                    counters.journal_batches.fetch_add(1, Ordering::Relaxed);
                    counters
                        .journal_records
                        .fetch_add(stats.records as u64, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::error!(%error, "journal append failed: the engine stops accepting writes until restarted");
                    shared.poisoned.store(true, Ordering::Release);
                    let why = format!("journal failed: {error}");
                    effects.replies.drain(..).for_each(|reply| reply.fail(&why));
                }
            }
        }
        publish(&effects, &shared);
        if shared.poisoned.load(Ordering::Acquire) {
            shared.durable.wake_after_failure();
        } else if let Some(number) = effects.number {
            shared.durable.announce(number);
        }
        effects.replies.drain(..).for_each(Reply::send);
        expiry_backlog =
            effects.expired >= MAX_EXPIRIES_PER_BATCH && !shared.poisoned.load(Ordering::Acquire);
        effects.clear();
        if shutdown {
            return;
        }
    }
}

/// Decides every command of the batch against the ledger, in arrival order. Returns whether a
/// shutdown was requested.
fn decide(
    batch: &mut Vec<Command>,
    effects: &mut BatchEffects,
    shared: &Shared,
    rng: &mut ChaCha8Rng,
) -> bool {
    let poisoned = shared.poisoned.load(Ordering::Acquire);
    let now = shared.clock.now();
    let mut shutdown = false;
    let mut ledger = shared.ledger.lock();
    shared
        .stats
        .commands
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut abandoned = 0_u64;
    // The deadline of the last win's campaign: a batch's wins mostly share one.
    let mut won_due: Option<(CampaignId, UnixMillis)> = None;
    for command in batch.drain(..) {
        // Nobody waits for this answer: the requester was told `degraded` (outcome unknown,
        // retry safe). Deciding now would make a win that nobody asked for any more, so skip
        // it. A command decided before its requester gave up still stands (see `guard`).
        if command.is_abandoned() {
            abandoned += 1;
            continue;
        }
        if poisoned && !matches!(command, Command::Shutdown) {
            command.refuse(JOURNAL_FAILED_EARLIER);
            continue;
        }
        match command {
            Command::Shutdown => shutdown = true,
            Command::Grab {
                campaign,
                user,
                reply,
            } => {
                let grab = ledger.grab(campaign, &user, now, rng);
                if let Some(record) = &grab.record {
                    effects.push_record(record);
                    effects.touched.push(campaign);
                    if matches!(grab.outcome, GrabOutcome::Won(_)) {
                        effects.holders.push((campaign, user, HoldingChange::Won));
                        let due = match won_due {
                            Some((last, due)) if last == campaign => due,
                            _ => {
                                let window = ledger
                                    .campaign(campaign)
                                    .expect("a campaign with a win exists")
                                    .spec()
                                    .deadline_window_millis();
                                UnixMillis(now.0.saturating_add(window))
                            }
                        };
                        won_due = Some((campaign, due));
                        effects.deadlines.add(due);
                    }
                }
                effects.replies.push(Reply::Grab(reply, grab.outcome));
            }
            Command::Create { spec, reply } => {
                let result = ledger.create_campaign(spec, now, rng).map(|record| {
                    effects.push_record(&record);
                    let Record::CampaignCreated { id, .. } = record else {
                        unreachable!("create_campaign returns a creation record")
                    };
                    effects.created.push(id);
                    id
                });
                effects
                    .replies
                    .push(Reply::Create(reply, result.map_err(Into::into)));
            }
            Command::Cancel { order, by, reply } => {
                let transition = ledger.cancel(order, by.as_ref(), now);
                if let Some(record) = &transition.record {
                    effects.push_transition(record, &ledger);
                }
                debug_assert!(
                    transition.record.is_some()
                        == matches!(transition.outcome, OrderOutcome::Moved(_))
                );
                effects
                    .replies
                    .push(Reply::Cancel(reply, transition.outcome));
            }
            Command::StartClaim { order, by, reply } => {
                let (start, record) = ledger.start_claim(order, by.as_ref(), now);
                if let Some(record) = &record {
                    effects.push_transition(record, &ledger);
                }
                effects.replies.push(Reply::StartClaim(reply, start));
            }
            Command::FinishClaim {
                order,
                result,
                reply,
            } => {
                if let Some(record) = ledger.finish_claim(order, &result, now) {
                    effects.push_transition(&record, &ledger);
                }
                effects.replies.push(Reply::FinishClaim(reply));
            }
            Command::StartPayment {
                order,
                by,
                channel,
                reply,
            } => {
                let transition = ledger.start_payment(order, &by, &channel, now);
                if let Some(record) = &transition.record {
                    effects.push_transition(record, &ledger);
                }
                effects
                    .replies
                    .push(Reply::StartPayment(reply, transition.outcome));
            }
            Command::RecordPayment {
                order,
                payment,
                reply,
            } => {
                let (outcome, record) = ledger.record_payment(order, payment, now);
                if let Some(record) = &record {
                    effects.push_transition(record, &ledger);
                }
                effects.replies.push(Reply::RecordPayment(reply, outcome));
            }
            Command::ConfirmRefund {
                order,
                payment,
                refund_id,
                reply,
            } => {
                let record = ledger.confirm_refund(order, &payment, refund_id, now);
                if let Some(record) = &record {
                    effects.push_transition(record, &ledger);
                }
                effects
                    .replies
                    .push(Reply::ConfirmRefund(reply, record.is_some()));
            }
            Command::Expire {
                order: Some(id),
                reply,
            } => {
                // Just this order: the batch's own expiry pass (below) takes the others.
                let record = ledger.expire(id, now);
                if let Some(record) = &record {
                    // This command's own record, not counted against the expiry budget.
                    effects.push_transition(record, &ledger);
                }
                effects
                    .replies
                    .push(Reply::Expire(reply, usize::from(record.is_some())));
            }
            Command::Expire { order: None, reply } => {
                // Asked for: looks whatever the known deadlines say.
                let expired = effects.expire_due(&mut ledger, now, true);
                effects.replies.push(Reply::Expire(reply, expired));
            }
        }
    }
    if !poisoned {
        effects.expire_due(&mut ledger, now, false);
    }
    if !effects.bounds.is_empty() {
        // Still under the ledger lock: a reader that saw these decisions sees this number.
        effects.number = Some(shared.durable.decided());
    }
    if abandoned > 0 {
        shared
            .stats
            .abandoned_commands
            .fetch_add(abandoned, Ordering::Relaxed);
    }
    shutdown
}

/// Publishes a durable batch's effects to the read side (no-op for a failed batch's effects:
/// the engine is poisoned and the read side keeps showing the last durable state).
fn publish(effects: &BatchEffects, shared: &Shared) {
    if shared.poisoned.load(Ordering::Acquire) || effects.bounds.is_empty() {
        return;
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
