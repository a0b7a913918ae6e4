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
mod follow;
mod snapshot;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stampede_core::Ledger;
use stampede_journal::{Durability, Journal, Log, Storage};

use self::effects::{BatchEffects, publish};
pub use self::follow::Following;
pub use self::snapshot::{
    DEFAULT_SNAPSHOT_EVERY_RECORDS, MAX_SNAPSHOT_EVERY_RECORDS, MIN_SNAPSHOT_EVERY_RECORDS,
};
use crate::clock::{Clock, stopwatch};
use crate::codec;
use crate::command::{Reply, Request};
use crate::deadlines::EXPIRY_TICK;
use crate::error::{JOURNAL_FAILED_EARLIER, OpenError};
use crate::published::Published;
use crate::shared::{Recovered, Shared};

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

/// The writer's histograms, registered once.
struct WriterMetrics {
    records_per_fsync: metrics::Histogram,
    fsync_seconds: metrics::Histogram,
    batch_commands: metrics::Histogram,
}

/// The writer: the ledger's only author. [`Writer::step`] is a plain, synchronous function
/// of one batch: decide every request, append the records (one fsync), publish, answer. The
/// thread loop ([`run`]) only gathers batches; the deterministic simulation calls `step`
/// itself, on one thread, with a manual clock and a faulty storage.
pub struct Writer<L: Log> {
    log: L,
    shared: Arc<Shared>,
    rng: ChaCha8Rng,
    effects: BatchEffects,
    /// Whether the last expiry pass used its whole budget: more may be due, so the next
    /// batch should start at once instead of after a tick (a backlog of a million due orders
    /// drains in seconds, not in 245 ticks).
    expiry_backlog: bool,
    metrics: WriterMetrics,
    /// When to take the next snapshot; `None`: never ([`Writer::schedule_snapshots`]).
    snapshots: Option<snapshot::SnapshotSchedule>,
}

/// What one [`Writer::step`] came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stepped {
    /// A `Shutdown` request was in the batch: stop after this step.
    pub shutdown: bool,
    /// The expiry pass used its whole budget: step again without waiting.
    pub expiry_backlog: bool,
    /// Records made durable by this step (0 for a batch that changed nothing, or failed).
    pub records: usize,
}

impl<S: Storage> Writer<Journal<S>> {
    /// Opens the journal on `storage`, replays it into a fresh ledger (asserting every
    /// invariant afterwards), rebuilds the read side from it, and returns the writer ready to
    /// step. Order ids and packet draws come from `rng_seed` (`None`: drawn from the OS).
    ///
    /// # Errors
    /// [`OpenError`] if storage fails or replay refuses the journal.
    pub fn open(
        storage: S,
        durability: Durability,
        rng_seed: Option<u64>,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Recovered), OpenError> {
        let started = stopwatch();
        let mut ledger = Ledger::new();
        let (journal, recovery) = Journal::open(storage, durability, |_, payload| {
            codec::apply_payload(&mut ledger, payload)
        })
        .map_err(codec::recovery_error)?;
        ledger.assert_invariants();
        let recovered = Recovered {
            records: recovery.records,
            truncated_tail_bytes: recovery.truncated_tail_bytes,
            campaigns: ledger.campaigns().count(),
            orders: ledger.order_count(),
            replay_millis: started.elapsed().as_millis(),
        };
        Ok((Self::new(journal, ledger, clock, rng_seed), recovered))
    }
}

impl<L: Log> Writer<L> {
    /// Replays the records `log` holds from position `from` on into `ledger` — a fresh
    /// ledger for `from == 0`, or one restored from a snapshot covering the positions before
    /// `from` — asserts every invariant, and returns the writer appending to `log`. Any
    /// [`Log`] (a file journal, a replicated log) is opened the same way; nothing of the
    /// writer, the ledger or replay depends on which.
    ///
    /// # Errors
    /// [`OpenError::Recovery`] if the log cannot be read or a record does not apply.
    pub fn replay(
        mut log: L,
        mut ledger: Ledger,
        from: u64,
        clock: Arc<dyn Clock>,
        rng_seed: Option<u64>,
    ) -> Result<(Self, Recovered), OpenError> {
        let started = stopwatch();
        let end = log
            .read_from(from, &mut |_, payload| {
                codec::apply_payload(&mut ledger, payload)
            })
            .map_err(codec::recovery_error)?;
        ledger.assert_invariants();
        let recovered = Recovered {
            records: end.saturating_sub(from),
            truncated_tail_bytes: 0,
            campaigns: ledger.campaigns().count(),
            orders: ledger.order_count(),
            replay_millis: started.elapsed().as_millis(),
        };
        Ok((Self::new(log, ledger, clock, rng_seed), recovered))
    }

    /// A writer appending to `log`, which holds exactly the records `ledger` was replayed
    /// from: the read side is rebuilt from the ledger, and every deadline queued in it is
    /// noted. Order ids and packet draws come from `rng_seed` (`None`: drawn from the OS).
    pub fn new(log: L, ledger: Ledger, clock: Arc<dyn Clock>, rng_seed: Option<u64>) -> Self {
        let (published, deadlines) = Published::rebuild(&ledger);
        let rng = match rng_seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => ChaCha8Rng::from_os_rng(),
        };
        let shared = Arc::new(Shared::new(ledger, published, clock));
        shared.followed.send_replace(log.next_position());
        Self {
            log,
            shared,
            rng,
            effects: BatchEffects {
                deadlines,
                ..BatchEffects::default()
            },
            expiry_backlog: false,
            snapshots: None,
            metrics: WriterMetrics {
                records_per_fsync: metrics::histogram!("stampede_journal_records_per_fsync"),
                fsync_seconds: metrics::histogram!("stampede_journal_fsync_seconds"),
                batch_commands: metrics::histogram!("stampede_writer_batch_commands"),
            },
        }
    }

    /// The state this writer shares with the engine's handles (read side, ledger lock).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Runs `f` over the ledger as decided so far (takes the ledger lock).
    pub fn inspect<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.shared.ledger.lock())
    }

    /// The published read side: what handlers answer from without the writer.
    pub fn published(&self) -> &Published {
        &self.shared.published
    }

    /// Whether a journal failure stopped this writer (fail-stop until reopened).
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    /// Decides every request of `batch` (drained) in order at the clock's `now`, ends with an
    /// expiry pass, makes the batch's records durable with one append, publishes them to the
    /// read side and only then answers. After a journal failure every answer of the batch is
    /// an error and the engine is poisoned (fail-stop).
    pub fn step(&mut self, batch: &mut Vec<Request>) -> Stepped {
        if !batch.is_empty() {
            self.metrics.batch_commands.record(batch.len() as f64);
        }
        let shutdown = self.decide(batch);
        let records = self.append();
        let shared = &self.shared;
        publish(&self.effects, shared);
        let poisoned = shared.poisoned.load(Ordering::Acquire);
        if poisoned {
            shared.durable.wake_after_failure();
        } else if let Some(number) = self.effects.number {
            shared.durable.announce(number);
        }
        self.effects.replies.drain(..).for_each(Reply::send);
        self.expiry_backlog = self.effects.expired >= MAX_EXPIRIES_PER_BATCH && !poisoned;
        self.effects.clear();
        self.snapshot_if_due();
        Stepped {
            shutdown,
            expiry_backlog: self.expiry_backlog,
            records: if poisoned { 0 } else { records },
        }
    }

    /// Appends the batch's records (one write, one fsync). On failure every reply of the
    /// batch fails and the engine is poisoned. Answers how many records were appended.
    fn append(&mut self) -> usize {
        let effects = &mut self.effects;
        if effects.bounds.is_empty() {
            return 0;
        }
        let slices: Vec<&[u8]> = effects
            .bounds
            .iter()
            .map(|r| &effects.encoded[r.clone()])
            .collect();
        let started = stopwatch();
        match self.log.append_batch(&slices) {
            Ok(stats) => {
                let position = self.log.next_position();
                self.shared.followed.send_if_modified(|at| {
                    let moved = position > *at;
                    *at = position;
                    moved
                });
                let counters = &self.shared.stats;
                if stats.synced {
                    self.metrics
                        .fsync_seconds
                        .record(started.elapsed().as_secs_f64());
                    counters.fsyncs.fetch_add(1, Ordering::Relaxed);
                }
                self.metrics.records_per_fsync.record(stats.records as f64);
                counters.journal_batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .journal_records
                    .fetch_add(stats.records as u64, Ordering::Relaxed);
                stats.records
            }
            Err(error) => {
                tracing::error!(%error, "journal append failed: the engine stops accepting writes until restarted");
                self.shared.poisoned.store(true, Ordering::Release);
                let why = format!("journal failed: {error}");
                effects.replies.drain(..).for_each(|reply| reply.fail(&why));
                0
            }
        }
    }

    /// Decides every request of the batch against the ledger, in arrival order, then runs
    /// the batch's expiry pass. Returns whether a shutdown was requested.
    fn decide(&mut self, batch: &mut Vec<Request>) -> bool {
        let shared = &self.shared;
        let effects = &mut self.effects;
        let poisoned = shared.poisoned.load(Ordering::Acquire);
        let now = shared.clock.now();
        let mut shutdown = false;
        let mut ledger = shared.ledger.lock();
        shared
            .stats
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut abandoned = 0_u64;
        for request in batch.drain(..) {
            // Nobody waits for this answer: the requester was told `degraded` (outcome
            // unknown, retry safe). Deciding now would make a win nobody asked for any more,
            // so skip it. A request decided before its requester gave up still stands.
            if request.is_abandoned() {
                abandoned += 1;
                continue;
            }
            if poisoned && !matches!(request, Request::Shutdown) {
                request.refuse(JOURNAL_FAILED_EARLIER);
                continue;
            }
            match request {
                Request::Shutdown => shutdown = true,
                Request::Decide(command, reply) => {
                    let decision = ledger.decide(command, now, &mut self.rng);
                    if let Some(record) = &decision.record {
                        effects.note(record, &ledger);
                    }
                    effects
                        .replies
                        .push(Reply::Decided(reply, decision.outcome));
                }
                Request::ExpirePass(reply) => {
                    // Asked for: looks whatever the known deadlines say.
                    let expired = effects.expire_due(&mut ledger, now, true);
                    effects.replies.push(Reply::Expired(reply, expired));
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
}

/// Runs `writer` on the calling thread until a `Shutdown` request or until every sender is
/// gone: gathers up to [`MAX_BATCH_COMMANDS`] queued requests (waiting at most
/// [`EXPIRY_TICK`] for the first, so the expiry pass runs on idle ticks too) and steps.
pub(crate) fn run<L: Log>(mut writer: Writer<L>, requests: Receiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH_COMMANDS);
    let mut expiry_backlog = false;
    loop {
        let wait = if expiry_backlog {
            Duration::ZERO
        } else {
            EXPIRY_TICK
        };
        match requests.recv_timeout(wait) {
            Ok(first) => {
                batch.push(first);
                // Woken by the first request of a burst: let the threads that are handing in
                // the rest run first (a no-op when none shares this core), so they join this
                // batch and its fsync rather than wait for the next.
                std::thread::yield_now();
            }
            // No request for a tick: run the expiry pass on an empty batch.
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while !batch.is_empty() && batch.len() < MAX_BATCH_COMMANDS {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let stepped = writer.step(&mut batch);
        if stepped.shutdown {
            return;
        }
        expiry_backlog = stepped.expiry_backlog;
    }
}
