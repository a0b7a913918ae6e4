//! The periodic reconciliation job and the last report it made
//! (`GET /v1/admin/reconciliation`).
//!
//! Every `reconcile_interval_secs` the job replays the journal read-only in a blocking thread
//! (never under the writer's lock: a grab is never held up by it; the cost is CPU — replay is
//! ~4–5 s per million orders, reconciling ~20 ms per million orders plus ~1 µs per statement
//! line, see BENCHMARKS.md — and, while it runs, a second copy of the ledger in memory) and reconciles it with the statements of the in-process channels, drawn
//! first and cut off `reconcile_grace_secs` ago: payments younger than that may still be on
//! their way from the channel to the books, so neither side is expected to hold them yet.
//! Discrepancies are logged as errors and counted in `stampede_reconciliation_discrepancies`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use stampede_core::{ReconciliationReport, UnixMillis};

use crate::state::AppState;

/// The last reconciliation this process made.
#[derive(Debug, Default)]
pub struct LastReconciliation {
    last: Mutex<Option<Arc<ReconciliationRun>>>,
}

/// One run of the job.
#[derive(Debug, Serialize)]
pub struct ReconciliationRun {
    /// How long it took, in milliseconds (replay included).
    pub took_ms: u64,
    /// Journal records replayed.
    pub records: u64,
    /// Whether no discrepancy was found.
    pub clean: bool,
    /// The report.
    pub report: ReconciliationReport,
}

impl LastReconciliation {
    /// The last run, if any.
    pub fn get(&self) -> Option<Arc<ReconciliationRun>> {
        self.last.lock().clone()
    }

    /// Stores `run` as the last one and answers it.
    fn set(&self, run: ReconciliationRun) -> Arc<ReconciliationRun> {
        let run = Arc::new(run);
        *self.last.lock() = Some(Arc::clone(&run));
        run
    }
}

/// Runs one reconciliation now (durable books against the channels' statements up to
/// `now − grace`), stores it as the last one and returns it.
pub async fn run_once(
    state: &Arc<AppState>,
    journal: PathBuf,
    grace: Duration,
) -> anyhow::Result<Arc<ReconciliationRun>> {
    let now = state.engine.now();
    let cutoff = UnixMillis(now.0.saturating_sub(grace.as_millis() as u64));
    // Statements first: whatever the books hold up to the cut-off reached them earlier.
    let statements = state.payments.statements(cutoff);
    let started = stampede_engine::stopwatch();
    let (report, records) = tokio::task::spawn_blocking(move || {
        let (ledger, info) = stampede_engine::replay_read_only(&journal)?;
        anyhow::Ok((
            stampede_core::reconcile(&ledger, &statements, now),
            info.records,
        ))
    })
    .await??;
    let run = ReconciliationRun {
        took_ms: started.elapsed().as_millis() as u64,
        records,
        clean: report.is_clean(),
        report,
    };
    metrics::gauge!("stampede_reconciliation_discrepancies")
        .set(run.report.discrepancy_total as f64);
    if run.clean {
        tracing::info!(took_ms = run.took_ms, records, "reconciliation clean");
    } else {
        tracing::error!(
            took_ms = run.took_ms,
            discrepancies = run.report.discrepancy_total,
            "reconciliation found discrepancies (GET /v1/admin/reconciliation)"
        );
    }
    Ok(state.reconciliation.set(run))
}

/// Starts the periodic job (`interval` zero: none); it stops when the handle is aborted.
pub fn spawn(
    state: Arc<AppState>,
    journal: PathBuf,
    interval: Duration,
    grace: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = run_once(&state, journal.clone(), grace).await {
                tracing::warn!(%error, "reconciliation did not run");
            }
        }
    }))
}
