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

mod effects;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use stampede_core::{CampaignId, GrabOutcome, OrderOutcome, Record, UnixMillis};
use stampede_journal::{Journal, Storage};

use self::effects::{BatchEffects, HoldingChange, publish};
use crate::clock::stopwatch;
use crate::command::{Command, Reply};
use crate::deadlines::Deadlines;
use crate::engine::Shared;
use crate::error::JOURNAL_FAILED_EARLIER;

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
    // The campaign whose wins' deadline was noted last: every win of this batch in one
    // campaign is due at the same time (`now` plus its window, so a pass at `now` never
    // forgets it), and a batch's wins mostly share a campaign.
    let mut noted_wins_of: Option<CampaignId> = None;
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
                        if noted_wins_of != Some(campaign) {
                            let window = ledger
                                .campaign(campaign)
                                .expect("a campaign with a win exists")
                                .spec()
                                .deadline_window_millis();
                            effects
                                .deadlines
                                .add(UnixMillis(now.0.saturating_add(window)));
                            noted_wins_of = Some(campaign);
                        }
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
