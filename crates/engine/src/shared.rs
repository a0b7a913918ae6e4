//! What the engine handle and the writer thread share: the ledger (written only by the
//! writer), the published read side, the clock, the poisoned flag, the writer's counters and
//! the durable batch numbers; and what opening found in the journal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use parking_lot::Mutex;
use stampede_core::Ledger;

use crate::clock::Clock;
use crate::durable_read::DurableMark;
use crate::published::Published;

/// What the engine found on open.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// Records replayed.
    pub records: u64,
    /// Bytes cut from a torn tail.
    pub truncated_tail_bytes: u64,
    /// Campaigns rebuilt.
    pub campaigns: usize,
    /// Orders rebuilt.
    pub orders: usize,
    /// Replay time in milliseconds.
    pub replay_millis: u128,
}

/// State shared by handlers and the writer.
pub(crate) struct Shared {
    pub(crate) ledger: Mutex<Ledger>,
    pub(crate) published: Published,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) poisoned: AtomicBool,
    pub(crate) stats: WriterStats,
    /// Batch numbers decided and durable, for [`Engine::read_durable`].
    pub(crate) durable: DurableMark,
    /// Woken by the writer once a batch that opened a refund is durable, so the refund job
    /// runs at once (see [`crate::payments`]).
    pub(crate) refunds_wake: tokio::sync::Notify,
    /// The log's next position as this state stands: records applied (a follower) or
    /// appended (a writer, set after each append, before the batch is answered).
    pub(crate) followed: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    /// The state around a replayed `ledger` and the read side rebuilt from it.
    pub(crate) fn new(ledger: Ledger, published: Published, clock: Arc<dyn Clock>) -> Self {
        Self {
            ledger: Mutex::new(ledger),
            published,
            clock,
            poisoned: AtomicBool::new(false),
            stats: WriterStats::default(),
            durable: DurableMark::default(),
            refunds_wake: tokio::sync::Notify::new(),
            followed: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Counters the writer keeps (for benchmarks and the start-up log; Prometheus has the
/// histograms). Read from outside through [`Engine::writer_counts`].
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    /// Batches that carried at least one record.
    pub(crate) journal_batches: AtomicU64,
    /// Records made durable (or written, under `Durability::Os`).
    pub(crate) journal_records: AtomicU64,
    /// fsync calls.
    pub(crate) fsyncs: AtomicU64,
    /// Commands the writer took off its queue (shutdown included).
    pub(crate) commands: AtomicU64,
    /// Grabs and creations skipped undecided because their requester had already given up
    /// (answered `degraded` on a reply timeout).
    pub(crate) abandoned_commands: AtomicU64,
}
