//! Reads of the ledger that show only durable state.
//!
//! The writer decides a batch under the ledger lock and applies it to the ledger at once; the
//! journal write and its fsync come after the lock is released. A handler that reads the
//! ledger in between would see decisions the journal may still lose, and would see them
//! before the published read side does (an order shown `claim_expired` while its campaign's
//! `refundable_cents` has not moved yet). So every batch that changes the ledger gets a
//! number: the writer takes it from [`DurableMark::decided`] under the ledger lock as it
//! finishes deciding, and announces it with [`DurableMark::announce`] once the batch is
//! durable and published. A reader takes the last number with its snapshot (under the same
//! lock) and, if that batch is not durable yet, waits for it: at most one batch, a few
//! milliseconds. After a journal failure nothing is announced again, so every such read that
//! would have to wait answers `Unavailable`, like the writes (fail-stop).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use stampede_core::Ledger;
use tokio::sync::watch;
use tokio::time::timeout;

use crate::error::{EngineError, JOURNAL_FAILED_EARLIER};
use crate::guard::JournalGuard;

/// The numbers of the batches the writer has decided and made durable.
#[derive(Debug)]
pub(crate) struct DurableMark {
    /// Last batch decided (taken under the ledger lock).
    decided: AtomicU64,
    /// Last batch durable and published; never moves again after a journal failure.
    durable: watch::Sender<u64>,
}

impl Default for DurableMark {
    fn default() -> Self {
        Self {
            decided: AtomicU64::new(0),
            durable: watch::Sender::new(0),
        }
    }
}

impl DurableMark {
    /// The writer has decided one more batch that changed the ledger (call while holding the
    /// ledger lock). Answers its number.
    pub(crate) fn decided(&self) -> u64 {
        self.decided.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Batch `number` is durable and published: readers waiting for it may go on.
    pub(crate) fn announce(&self, number: u64) {
        self.durable.send_modify(|durable| {
            assert!(*durable < number, "batches are announced in order");
            *durable = number;
        });
    }

    /// The journal failed: wakes every waiting reader (they find the engine poisoned).
    pub(crate) fn wake_after_failure(&self) {
        self.durable.send_modify(|_| {});
    }
}

/// Runs `f` over `ledger` and answers its result once everything `f` could see is durable
/// and published, as `mark` tells (what [`crate::Engine::read_durable`] does). Waits at most
/// the guard's `journal_reply_timeout` (then its timeout answer, `Degraded`, like a write that
/// timed out); `Unavailable` once the journal has failed (`poisoned`).
pub(crate) async fn read_durable<R>(
    ledger: &Mutex<Ledger>,
    mark: &DurableMark,
    poisoned: &AtomicBool,
    guard: &JournalGuard,
    f: impl FnOnce(&Ledger) -> R,
) -> Result<R, EngineError> {
    let (value, number) = {
        let ledger = ledger.lock();
        (f(&ledger), mark.decided.load(Ordering::Acquire))
    };
    if *mark.durable.borrow() >= number {
        return Ok(value);
    }
    let mut durable = mark.durable.subscribe();
    let poisoned = || poisoned.load(Ordering::Acquire);
    let waited = timeout(
        guard.journal_reply_timeout(),
        durable.wait_for(|durable| *durable >= number || poisoned()),
    )
    .await;
    if waited.is_err() {
        return Err(guard.timeout_answer());
    }
    if *mark.durable.borrow() >= number {
        Ok(value)
    } else {
        Err(EngineError::Unavailable(JOURNAL_FAILED_EARLIER.into()))
    }
}
