//! [`QueuedInFlight`]: slots in a FIFO semaphore, waiters counted against a bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::config::QueuedInFlightConfig;
use super::decision::{QueueDecision, QueuedPermit};

/// A concurrency limit with a bounded, time-limited queue (see the module docs).
///
/// Cloning is cheap (two `Arc`s); clones share the slots and the queue.
#[derive(Debug, Clone)]
pub struct QueuedInFlight {
    slots: Arc<Semaphore>,
    /// Callers waiting now; never above `config.max_queue`.
    queued: Arc<AtomicUsize>,
    config: QueuedInFlightConfig,
}

impl QueuedInFlight {
    /// A limit of `config.max_in_flight` slots with its bounded queue.
    ///
    /// # Panics
    /// If `config` fails [`QueuedInFlightConfig::validate`]; validate it when loading config.
    pub fn new(config: QueuedInFlightConfig) -> Self {
        if let Err(error) = config.validate() {
            panic!("QueuedInFlight::new: invalid config: {error}");
        }
        Self {
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            queued: Arc::new(AtomicUsize::new(0)),
            config,
        }
    }

    /// Takes a slot at once, or waits in the bounded queue for at most `max_wait`.
    ///
    /// Cancel-safe: dropping the future leaves the queue and takes no slot.
    pub async fn acquire(&self) -> QueueDecision {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return QueueDecision::Admitted(QueuedPermit::new(permit));
        }
        let Some(_place) = self.join_queue() else {
            return QueueDecision::QueueFull;
        };
        let waiting = Arc::clone(&self.slots).acquire_owned();
        match tokio::time::timeout(self.config.max_wait, waiting).await {
            Ok(Ok(permit)) => QueueDecision::Admitted(QueuedPermit::new(permit)),
            Ok(Err(_closed)) => unreachable!("QueuedInFlight never closes its semaphore"),
            Err(_elapsed) => QueueDecision::QueueTimeout,
        }
    }

    /// Slots held now (a snapshot).
    pub fn in_flight(&self) -> usize {
        self.config.max_in_flight - self.slots.available_permits()
    }

    /// Callers waiting now (a snapshot).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// The limits in force.
    pub fn config(&self) -> &QueuedInFlightConfig {
        &self.config
    }

    /// Counts the caller into the queue unless it is full; the place is given back on drop.
    fn join_queue(&self) -> Option<QueuePlace<'_>> {
        let max = self.config.max_queue;
        // CAS, not fetch_add-then-undo, so a refused caller never pushes the count past `max`.
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued < max).then_some(queued + 1)
            })
            .ok()
            .map(|_| QueuePlace {
                queued: &self.queued,
            })
    }
}

/// One place in the queue, given back when the wait ends however it ends.
struct QueuePlace<'a> {
    queued: &'a AtomicUsize,
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        let previous = self.queued.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(previous > 0, "QueuePlace dropped with no place counted");
    }
}
