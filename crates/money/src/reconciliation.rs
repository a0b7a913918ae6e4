//! The periodic reconciliation job and the last report it made
//! (`GET /v1/admin/reconciliation`).
//!
//! Every `reconcile_interval_secs` the job rebuilds the ledger read-only from its
//! [`LedgerSource`] (a single node's journal file; a cluster shard's newest snapshot and log
//! tail on NATS) in a blocking thread
//! (never under the writer's lock: a grab is never held up by it; the cost is CPU — replay is
//! ~4–5 s per million orders, reconciling ~20 ms per million orders plus ~1 µs per statement
//! line, see BENCHMARKS.md — and, while it runs, a second copy of the ledger in memory) and reconciles it with the statements of the in-process channels, drawn
//! first and cut off `reconcile_grace_secs` ago: payments younger than that may still be on
//! their way from the channel to the books, so neither side is expected to hold them yet.
//! Discrepancies are logged as errors and counted in `stampede_reconciliation_discrepancies`.
//!
//! **One run at a time.** A run holds a second copy of the ledger and a CPU for seconds, so
//! runs never overlap: each holds the one run permit from drawing the statements until its
//! result is stored. The periodic job skips a tick while a run is in progress (the next tick
//! runs). `POST /v1/admin/reconciliation` waits for the running one, then runs its own: its
//! statements are drawn after the request came, so its answer is never older than the
//! request. Waiting requests run in turn, in arrival order (admin only, one replay each). The
//! permit moves into the blocking replay, so a request whose client went away still holds it
//! until its replay ends and its result is stored.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use stampede_core::{Ledger, ReconciliationReport, Statement, UnixMillis};
use stampede_engine::{OpenError, ReplayInfo};
use tokio::sync::OwnedMutexGuard;

use crate::payments::Payments;

/// A ledger rebuilt read-only for a reconciliation, never the writer's own: a run must not
/// hold the writer's lock for the seconds it takes.
#[derive(Debug)]
pub struct Replayed {
    /// The ledger as its records rebuild it.
    pub ledger: Ledger,
    /// Records replayed (after the snapshot it started from, if any).
    pub records: u64,
}

/// Where a reconciliation's ledger comes from.
pub trait LedgerSource: Send + Sync + std::fmt::Debug + 'static {
    /// Rebuilds the ledger from durable state, reading only. Blocking: called in a blocking
    /// thread, it may take seconds per million orders.
    ///
    /// # Errors
    /// The durable state cannot be read, or does not replay.
    fn replay(&self) -> anyhow::Result<Replayed>;
}

/// A single node's journal file, replayed read-only ([`stampede_engine::replay_read_only`]:
/// safe beside the server appending to it).
#[derive(Debug)]
pub struct JournalFile(pub PathBuf);

impl LedgerSource for JournalFile {
    fn replay(&self) -> anyhow::Result<Replayed> {
        let (ledger, info) = stampede_engine::replay_read_only(&self.0)?;
        Ok(Replayed {
            ledger,
            records: info.records,
        })
    }
}

/// The last reconciliation this process made, and the permit that keeps runs one at a time.
#[derive(Debug, Default)]
pub struct LastReconciliation {
    last: Mutex<Option<Arc<ReconciliationRun>>>,
    /// Held by the run in progress (fair: waiters run in arrival order).
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Runs holding a permit: 0 or 1 (asserted by [`RunPermit`]).
    in_progress: Arc<AtomicUsize>,
}

/// One run of the job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconciliationRun {
    /// On a cluster node, the shard the run covered (absent on a single node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// How long it took, in milliseconds (replay included).
    pub took_ms: u64,
    /// Journal records replayed.
    pub records: u64,
    /// Whether no discrepancy was found.
    pub clean: bool,
    /// The report (as `stampede reconcile --json` prints it).
    #[schema(value_type = Object)]
    pub report: ReconciliationReport,
}

/// The right to run a reconciliation; released by `Drop`.
#[derive(Debug)]
struct RunPermit {
    _gate: OwnedMutexGuard<()>,
    in_progress: Arc<AtomicUsize>,
}

impl RunPermit {
    /// # Panics
    /// If another permit is alive (the gate's contract broken).
    fn new(gate: OwnedMutexGuard<()>, in_progress: &Arc<AtomicUsize>) -> Self {
        let before = in_progress.fetch_add(1, Ordering::SeqCst);
        assert_eq!(before, 0, "two reconciliation runs at once");
        Self {
            _gate: gate,
            in_progress: Arc::clone(in_progress),
        }
    }
}

impl Drop for RunPermit {
    fn drop(&mut self) {
        self.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LastReconciliation {
    /// The last run, if any.
    pub fn get(&self) -> Option<Arc<ReconciliationRun>> {
        self.last.lock().clone()
    }

    /// Whether a run is in progress now.
    pub fn is_running(&self) -> bool {
        self.in_progress.load(Ordering::SeqCst) > 0
    }

    /// Stores `run` as the last one and answers it.
    fn set(&self, run: ReconciliationRun) -> Arc<ReconciliationRun> {
        let run = Arc::new(run);
        *self.last.lock() = Some(Arc::clone(&run));
        run
    }

    /// Waits until no run is in progress and takes the permit.
    async fn begin(&self) -> RunPermit {
        let gate = Arc::clone(&self.gate).lock_owned().await;
        RunPermit::new(gate, &self.in_progress)
    }

    /// The permit, or `None` while a run is in progress.
    fn try_begin(&self) -> Option<RunPermit> {
        let gate = Arc::clone(&self.gate).try_lock_owned().ok()?;
        Some(RunPermit::new(gate, &self.in_progress))
    }
}

/// Replays the journal at `journal` read-only and reconciles the ledger against `statements`
/// at `now`: what `stampede reconcile` does (the job does the same through [`JournalFile`]). Draw the statements before
/// calling it, so that whatever the books hold up to their cut-off reached the books earlier.
/// Blocking: seconds per million orders.
///
/// # Errors
/// The journal cannot be read, or is corrupt before its tail (see
/// [`stampede_engine::replay_read_only`]).
pub fn reconcile_journal(
    journal: &Path,
    statements: &[Statement],
    now: UnixMillis,
) -> Result<(ReconciliationReport, ReplayInfo), OpenError> {
    let (ledger, info) = stampede_engine::replay_read_only(journal)?;
    Ok((stampede_core::reconcile(&ledger, statements, now), info))
}

/// The reconciliation of one server (or one cluster shard): its books rebuilt read-only
/// from `source`, against the statements of its payment channels, and the last result.
#[derive(Debug)]
pub struct Reconciler {
    payments: Arc<Payments>,
    source: Arc<dyn LedgerSource>,
    grace: Duration,
    /// The cluster shard reconciled (`None`: a single node's whole ledger).
    shard: Option<u32>,
    last: LastReconciliation,
}

impl Reconciler {
    /// Reconciles the ledger `source` rebuilds against `payments`' channels, leaving out
    /// payments younger than `grace` (they may still be on their way to the books). `shard`:
    /// the cluster shard it covers, named in its runs and its metric (`None` on a single node).
    pub fn new(
        payments: Arc<Payments>,
        source: Arc<dyn LedgerSource>,
        grace: Duration,
        shard: Option<u32>,
    ) -> Arc<Self> {
        Arc::new(Self {
            payments,
            source,
            grace,
            shard,
            last: LastReconciliation::default(),
        })
    }

    /// The cluster shard it covers (`None` on a single node).
    pub fn shard(&self) -> Option<u32> {
        self.shard
    }

    /// `stampede_reconciliation_discrepancies`, labelled with the shard on a cluster node (each
    /// led shard reports its own; one label set per process either way).
    fn discrepancy_gauge(&self) -> metrics::Gauge {
        match self.shard {
            None => metrics::gauge!("stampede_reconciliation_discrepancies"),
            Some(shard) => {
                metrics::gauge!("stampede_reconciliation_discrepancies", "shard" => shard.to_string())
            }
        }
    }

    /// The last run and whether one is in progress.
    pub fn last(&self) -> &LastReconciliation {
        &self.last
    }

    /// Runs one reconciliation (durable books against the channels' statements up to
    /// `now − grace`) once no other is in progress, stores it as the last one and returns it.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<Arc<ReconciliationRun>> {
        let permit = self.last.begin().await;
        self.run_with(permit).await
    }

    /// [`Reconciler::run_once`] unless a run is in progress now (`None`: nothing was run).
    pub async fn run_if_idle(self: &Arc<Self>) -> Option<anyhow::Result<Arc<ReconciliationRun>>> {
        let permit = self.last.try_begin()?;
        Some(self.run_with(permit).await)
    }

    async fn run_with(
        self: &Arc<Self>,
        permit: RunPermit,
    ) -> anyhow::Result<Arc<ReconciliationRun>> {
        let now = self.payments.engine().now();
        let cutoff = UnixMillis(now.0.saturating_sub(self.grace.as_millis() as u64));
        // Statements first: whatever the books hold up to the cut-off reached them earlier.
        let statements = self.payments.desk().statements(cutoff);
        let this = Arc::clone(self);
        // Everything after the statements runs in the blocking thread, permit held: dropping
        // the caller's future (a client gone) neither frees the permit early nor loses the
        // result.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let started = stampede_clock::stopwatch();
            let replayed = this.source.replay()?;
            let report = stampede_core::reconcile(&replayed.ledger, &statements, now);
            drop(replayed.ledger);
            let run = ReconciliationRun {
                shard: this.shard,
                took_ms: started.elapsed().as_millis() as u64,
                records: replayed.records,
                clean: report.is_clean(),
                report,
            };
            this.discrepancy_gauge()
                .set(run.report.discrepancy_total as f64);
            if run.clean {
                tracing::info!(
                    took_ms = run.took_ms,
                    records = run.records,
                    "reconciliation clean"
                );
            } else {
                tracing::error!(
                    took_ms = run.took_ms,
                    discrepancies = run.report.discrepancy_total,
                    "reconciliation found discrepancies (GET /v1/admin/reconciliation)"
                );
            }
            anyhow::Ok(this.last.set(run))
        })
        .await?
    }

    /// Starts the periodic job (`interval` zero: none), its first run now; it stops when the
    /// handle is aborted, and then zeroes its discrepancy gauge.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.spawn_from(interval, FirstRun::Now)
    }

    /// [`Reconciler::spawn`], its first run one `interval` from now: a cluster shard's job,
    /// started when the node takes the shard's lease — often during a failover, when NATS is
    /// busiest and the shard was reconciled by its previous leader a moment ago. It stops
    /// with the lease, and its new leader reports the shard from then on.
    pub fn spawn_deferred(
        self: &Arc<Self>,
        interval: Duration,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.spawn_from(interval, FirstRun::AfterInterval)
    }

    fn spawn_from(
        self: &Arc<Self>,
        interval: Duration,
        first: FirstRun,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if interval.is_zero() {
            return None;
        }
        let this = Arc::clone(self);
        Some(tokio::spawn(async move {
            let _zeroed_when_stopped = ZeroOnDrop(this.discrepancy_gauge());
            let start = match first {
                FirstRun::Now => tokio::time::Instant::now(),
                FirstRun::AfterInterval => tokio::time::Instant::now() + interval,
            };
            let mut tick = tokio::time::interval_at(start, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match this.run_if_idle().await {
                    None => {
                        tracing::debug!("a reconciliation is still running; this tick skipped")
                    }
                    Some(Err(error)) => tracing::warn!(%error, "reconciliation did not run"),
                    Some(Ok(_)) => {}
                }
            }
        }))
    }
}

/// When a periodic job runs first.
#[derive(Clone, Copy, Debug)]
enum FirstRun {
    Now,
    AfterInterval,
}

/// Sets its gauge to zero when dropped (the periodic job's future, aborted).
struct ZeroOnDrop(metrics::Gauge);

impl Drop for ZeroOnDrop {
    fn drop(&mut self) {
        self.0.set(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_waits_for_the_one_in_progress_and_the_job_skips() {
        let last = LastReconciliation::default();
        let first = last.begin().await;
        assert!(last.is_running());
        assert!(
            last.try_begin().is_none(),
            "the periodic job skips its tick"
        );
        let second = last.begin();
        tokio::pin!(second);
        // Polled once: still waiting for the first.
        tokio::select! {
            biased;
            _ = &mut second => panic!("a second run began while the first held the permit"),
            () = std::future::ready(()) => {}
        }
        drop(first);
        let second = second.await;
        assert!(last.try_begin().is_none());
        drop(second);
        assert!(!last.is_running());
        assert!(last.try_begin().is_some(), "free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_runs_never_overlap() {
        // The shape of `run_with`: the permit moves into a blocking thread that works a while.
        let last = Arc::new(LastReconciliation::default());
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..16 {
            let last = Arc::clone(&last);
            let most_at_once = Arc::clone(&most_at_once);
            runs.spawn(async move {
                let permit = if i % 4 == 0 {
                    match last.try_begin() {
                        Some(permit) => permit,
                        None => return false,
                    }
                } else {
                    last.begin().await
                };
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    most_at_once
                        .fetch_max(last.in_progress.load(Ordering::SeqCst), Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                })
                .await
                .expect("the permit's assertion holds");
                true
            });
        }
        let mut ran = 0;
        while let Some(done) = runs.join_next().await {
            ran += usize::from(done.unwrap());
        }
        assert!(ran >= 12, "every waiting run ran ({ran})");
        assert_eq!(most_at_once.load(Ordering::SeqCst), 1);
        assert!(!last.is_running());
    }
}
