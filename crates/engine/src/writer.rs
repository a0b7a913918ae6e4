//! The single writer: drains the command queue in batches, decides every command against the
//! ledger in arrival order, makes the batch's records durable with one journal append (one
//! fsync: group commit), publishes the new state to the read side, and only then replies.
//!
//! One thread owns every decision, so there is no lock on the winning path to contend for and
//! no interleaving to reason about: fairness is the queue's FIFO order. Batching is natural:
//! while one fsync runs, the next batch queues up, so the batch grows with the load and the
//! fsync cost per win falls.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use rand_chacha::ChaCha8Rng;
use stampede_core::{CampaignId, GrabOutcome, Record, UserId};
use stampede_journal::{Journal, Storage};

use crate::clock::stopwatch;
use crate::codec;
use crate::command::{Command, Reply};
use crate::engine::Shared;
use crate::published::CampaignView;

/// Most commands decided in one batch. Bounded by the journal's `MAX_BATCH_RECORDS` (8,192);
/// 4,096 keeps one batch's apply time well under a millisecond while amortising an fsync over
/// thousands of wins under a stampede.
pub const MAX_BATCH_COMMANDS: usize = 4_096;
const _: () = assert!(MAX_BATCH_COMMANDS <= stampede_journal::MAX_BATCH_RECORDS);

/// What a batch changed, to publish once it is durable.
#[derive(Default)]
struct BatchEffects {
    encoded: Vec<u8>,
    bounds: Vec<Range<usize>>,
    replies: Vec<Reply>,
    touched: Vec<CampaignId>,
    holders: Vec<(CampaignId, UserId)>,
    created: Vec<CampaignId>,
}

impl BatchEffects {
    fn clear(&mut self) {
        self.encoded.clear();
        self.bounds.clear();
        self.replies.clear();
        self.touched.clear();
        self.holders.clear();
        self.created.clear();
    }

    fn push_record(&mut self, record: &Record) {
        let start = self.encoded.len();
        codec::encode(record, &mut self.encoded);
        self.bounds.push(start..self.encoded.len());
    }
}

/// Runs the writer until a `Shutdown` command or until every sender is gone.
pub(crate) fn run<S: Storage>(
    mut journal: Journal<S>,
    commands: Receiver<Command>,
    shared: Arc<Shared>,
    mut rng: ChaCha8Rng,
) {
    let records_per_fsync = metrics::histogram!("stampede_journal_records_per_fsync");
    let fsync_seconds = metrics::histogram!("stampede_journal_fsync_seconds");
    let batch_commands = metrics::histogram!("stampede_writer_batch_commands");
    let mut batch: Vec<Command> = Vec::with_capacity(MAX_BATCH_COMMANDS);
    let mut effects = BatchEffects::default();
    loop {
        let Ok(first) = commands.recv() else { return };
        batch.push(first);
        while batch.len() < MAX_BATCH_COMMANDS {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        batch_commands.record(batch.len() as f64);
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
        effects.replies.drain(..).for_each(Reply::send);
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
    for command in batch.drain(..) {
        // Nobody waits for this answer: the requester was told `degraded` (outcome unknown,
        // retry safe). Deciding now would make a win that nobody asked for any more, so skip
        // it. A command decided before its requester gave up still stands (see `guard`).
        if command.is_abandoned() {
            abandoned += 1;
            continue;
        }
        match command {
            Command::Shutdown => shutdown = true,
            Command::Grab {
                campaign,
                user,
                reply,
            } => {
                if poisoned {
                    let _ = reply.send(Err(crate::EngineError::Unavailable(
                        "journal failed earlier; restart the server".into(),
                    )));
                    continue;
                }
                let grab = ledger.grab(campaign, &user, now, rng);
                if let Some(record) = &grab.record {
                    effects.push_record(record);
                    effects.touched.push(campaign);
                    if matches!(grab.outcome, GrabOutcome::Won(_)) {
                        effects.holders.push((campaign, user));
                    }
                }
                effects.replies.push(Reply::Grab(reply, grab.outcome));
            }
            Command::Create { spec, reply } => {
                if poisoned {
                    let _ = reply.send(Err(crate::EngineError::Unavailable(
                        "journal failed earlier; restart the server".into(),
                    )));
                    continue;
                }
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
        }
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
    for (id, user) in &effects.holders {
        let campaign = ledger.campaign(*id).expect("touched campaign exists");
        if let Some(ticket) = campaign.holding_limit(user.as_str()) {
            shared
                .published
                .with_campaign(*id, |view| view.publish_holder(user.clone(), ticket));
        }
    }
}
