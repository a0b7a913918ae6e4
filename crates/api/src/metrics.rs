//! Prometheus metrics (`stampede_` prefix). The recorder is process-global (the `metrics`
//! facade); handles on the grab path are registered once so recording is a lock-free atomic
//! update with no allocation.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use stampede_core::GrabOutcome;

use crate::auth::Traffic;
use crate::error::AppError;

/// Latency buckets in seconds: 50 µs to 5 s, dense around the milliseconds a grab should take.
const LATENCY_BUCKETS_SECS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];
/// Records-per-fsync buckets: powers of two up to the writer's batch limit.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once (later calls return the same handle) with every family's
/// description. Must run before any metric handle is created, or that handle records nowhere.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS_SECS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("records_per_fsync".into()),
                        BATCH_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Suffix("batch_commands".into()),
                        BATCH_BUCKETS,
                    )
                })
                .expect("bucket lists are non-empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::with_local_recorder(&recorder, describe);
            // Another recorder is installed (an embedding application): ours stays local.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// What a registry family is, for its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (until the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

/// Every family the registry holds, with its `# HELP` text. The families whose series come
/// and go are rendered by [`crate::exposition`] and described there. A family missing here
/// shows without `# HELP`, which the exposition test in `tests/metrics.rs` refuses.
pub const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        "stampede_http_requests_total",
        Kind::Counter,
        "Requests answered on every route but grab, by matched route and HTTP status.",
    ),
    (
        "stampede_grab_outcomes_total",
        Kind::Counter,
        "Grabs answered, by outcome code (won, already_won, sold_out, rate_limited, ...).",
    ),
    (
        "stampede_grab_latency_seconds",
        Kind::Histogram,
        "Grab latency from handler entry to response.",
    ),
    (
        "stampede_shadow_grab_outcomes_total",
        Kind::Counter,
        "Shadow (rehearsal) grabs answered after their shadow token was read, by outcome code.",
    ),
    (
        "stampede_shadow_grab_latency_seconds",
        Kind::Histogram,
        "Shadow (rehearsal) grab latency from handler entry to response.",
    ),
    (
        "stampede_journal_records_per_fsync",
        Kind::Histogram,
        "Journal records made durable by one fsync (group commit).",
    ),
    (
        "stampede_journal_fsync_seconds",
        Kind::Histogram,
        "Time one journal write and fsync took.",
    ),
    (
        "stampede_writer_batch_commands",
        Kind::Histogram,
        "Commands the engine's writer decided in one batch.",
    ),
    (
        "stampede_breaker_state",
        Kind::Gauge,
        "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
    ),
    (
        "stampede_engine_degraded_total",
        Kind::Counter,
        "Writes refused with 503 degraded, by reason (breaker open, journal reply timeout).",
    ),
    (
        "stampede_connections_refused_total",
        Kind::Counter,
        "Connections closed at accept, by the limit they hit.",
    ),
    (
        "stampede_auto_bans_total",
        Kind::Counter,
        "Automatic bans placed on a user or address.",
    ),
    (
        "stampede_switch_on",
        Kind::Gauge,
        "Degrade switches: 1 on (serving), 0 off.",
    ),
    (
        "stampede_blocklist_entries",
        Kind::Gauge,
        "Block and allow list entries in force (manual and automatic).",
    ),
    (
        "stampede_idempotency_entries",
        Kind::Gauge,
        "Idempotency-Key decisions kept.",
    ),
    (
        "stampede_in_flight_requests",
        Kind::Gauge,
        "Requests being handled now.",
    ),
    (
        "stampede_payment_callbacks_total",
        Kind::Counter,
        "Payments recorded or refused (callbacks and queries), by channel and outcome.",
    ),
    (
        "stampede_payment_amount_mismatch_total",
        Kind::Counter,
        "Payments whose amount differed from their order's, by channel.",
    ),
    (
        "stampede_payment_queries_failed_total",
        Kind::Counter,
        "Payment queries a channel did not answer, by channel.",
    ),
    (
        "stampede_payments_found_by_query_total",
        Kind::Counter,
        "Payments a query found before their callback, by channel.",
    ),
    (
        "stampede_refunds_total",
        Kind::Counter,
        "Refund attempts, by channel and outcome.",
    ),
    (
        "stampede_refunds_stuck",
        Kind::Gauge,
        "Refunds retried at the longest backoff: the channel keeps refusing or failing them.",
    ),
    (
        "stampede_log_lines_dropped_total",
        Kind::Counter,
        "Log lines dropped because the log writer's queue was full (a request never waits for the log).",
    ),
    (
        "stampede_refunds_pending",
        Kind::Gauge,
        "Late or duplicate payments whose refund the channel has not confirmed yet.",
    ),
    (
        "stampede_channel_callbacks_dropped_total",
        Kind::Counter,
        "Callbacks a simulated channel dropped on purpose or could not deliver, by reason.",
    ),
    (
        "stampede_reconciliation_discrepancies",
        Kind::Gauge,
        "Discrepancies the last reconciliation found (0: clean).",
    ),
    (
        "stampede_snapshot_seconds",
        Kind::Histogram,
        "Time the writer took to encode and hand over a snapshot of its state.",
    ),
    (
        "stampede_cluster_follower_lag_messages",
        Kind::Gauge,
        "Cluster node: log messages of a shard known but not applied yet, by shard (0 where this node leads).",
    ),
    (
        "stampede_cluster_forwarded_total",
        Kind::Counter,
        "Cluster node: commands forwarded to a shard's leader, by outcome (answered, no_leader, timeout, ...).",
    ),
    (
        "stampede_cluster_leadership_changes_total",
        Kind::Counter,
        "Cluster node: shards this node took the lead of (acquired) or stopped leading (lost).",
    ),
    (
        "stampede_cluster_fenced_total",
        Kind::Counter,
        "Cluster node: batches the log refused because another writer appended after this one.",
    ),
    (
        "stampede_cluster_shard_rebuilds_total",
        Kind::Counter,
        "Cluster node: shards rebuilt from the log after their writer or follower failed.",
    ),
    (
        "stampede_cluster_snapshots_stored_total",
        Kind::Counter,
        "Cluster node: shard snapshots stored in the object store by this node as leader.",
    ),
    (
        "stampede_cluster_snapshot_restores_total",
        Kind::Counter,
        "Cluster node: shards whose state this node restored from a snapshot.",
    ),
];

/// Gives every family of [`FAMILIES`] its description in the current recorder.
fn describe() {
    for &(name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

/// The code of a grab answered from the idempotency store (its key's first answer, replayed).
pub const IDEMPOTENT_REPLAY: &str = "idempotent_replay";

/// Every code a grab can answer, each once: the engine's outcomes ([`GrabOutcome::CODES`]),
/// the errors the grab path answers ([`AppError::answered_by_grab`]) and
/// [`IDEMPOTENT_REPLAY`]. Each gets a pre-registered counter; being read off the enums, a new
/// outcome or refusal is counted without anyone adding its code here.
pub fn grab_codes() -> Vec<&'static str> {
    let refusals = (AppError::EVERY.iter())
        .filter(|error| error.answered_by_grab())
        .map(AppError::code);
    let mut codes: Vec<&'static str> = Vec::new();
    for code in (GrabOutcome::CODES.into_iter())
        .chain(refusals)
        .chain([IDEMPOTENT_REPLAY])
    {
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// Pre-registered grab metrics. Shadow grabs (a rehearsal's, once their token is read) have
/// families of their own, `stampede_shadow_grab_outcomes_total` and
/// `stampede_shadow_grab_latency_seconds`, rather than a label on the real ones: every query,
/// dashboard and alert over the real families stays about real traffic with no filter added,
/// and a rehearsal does not move them.
#[derive(Clone)]
pub struct GrabMetrics {
    /// [`grab_codes`], and their counters in the same order.
    codes: Vec<&'static str>,
    outcomes: Vec<Counter>,
    /// Grab latency from handler entry to response.
    pub latency: Histogram,
    /// The shadow grabs' counters, in the order of `codes`.
    shadow_outcomes: Vec<Counter>,
    /// Shadow grab latency.
    shadow_latency: Histogram,
}

impl std::fmt::Debug for GrabMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrabMetrics")
    }
}

impl GrabMetrics {
    /// Registers every handle.
    pub fn register() -> Self {
        let codes = grab_codes();
        Self {
            outcomes: (codes.iter())
                .map(|code| metrics::counter!("stampede_grab_outcomes_total", "outcome" => *code))
                .collect(),
            shadow_outcomes: (codes.iter())
                .map(|code| {
                    metrics::counter!("stampede_shadow_grab_outcomes_total", "outcome" => *code)
                })
                .collect(),
            codes,
            latency: metrics::histogram!("stampede_grab_latency_seconds"),
            shadow_latency: metrics::histogram!("stampede_shadow_grab_latency_seconds"),
        }
    }

    /// Counts one answer by its code, in the real or the shadow family.
    ///
    /// # Panics
    /// In debug builds, if `code` is not in [`grab_codes`] (release builds skip it uncounted):
    /// the grab answered an error [`AppError::answered_by_grab`] says it does not.
    pub fn count(&self, traffic: Traffic, code: &str) {
        let position = self.codes.iter().position(|c| *c == code);
        debug_assert!(
            position.is_some(),
            "grab answered {code:?}, which is not in grab_codes: mark its error answered_by_grab"
        );
        let counters = match traffic {
            Traffic::Real => &self.outcomes,
            Traffic::Shadow => &self.shadow_outcomes,
        };
        if let Some(i) = position {
            counters[i].increment(1);
        }
    }

    /// Records one grab's latency, in the real or the shadow family.
    pub fn record_latency(&self, traffic: Traffic, secs: f64) {
        match traffic {
            Traffic::Real => self.latency.record(secs),
            Traffic::Shadow => self.shadow_latency.record(secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every refusal the grab handler can answer, every engine outcome and a replay have a
    /// counter, each code once.
    #[test]
    fn every_code_a_grab_can_answer_is_counted() {
        let codes = grab_codes();
        let refusals = (AppError::EVERY.iter())
            .filter(|error| error.answered_by_grab())
            .map(AppError::code);
        for code in (GrabOutcome::CODES.into_iter())
            .chain(refusals)
            .chain([IDEMPOTENT_REPLAY])
        {
            assert!(codes.contains(&code), "{code} missing from grab_codes");
        }
        for code in [
            "rate_limited",
            "blocked",
            "degraded",
            "won",
            "campaign_not_found",
        ] {
            assert!(codes.contains(&code), "{code} missing from grab_codes");
        }
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "each code once: {codes:?}");
        let metrics = GrabMetrics::register();
        for code in codes {
            metrics.count(Traffic::Real, code);
            metrics.count(Traffic::Shadow, code);
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not in grab_codes")]
    fn an_unknown_code_is_a_bug() {
        GrabMetrics::register().count(Traffic::Real, "no_such_code");
    }
}
