//! Prometheus metrics (`stampede_` prefix). The recorder is process-global (the `metrics`
//! facade); handles on the grab path are registered once so recording is a lock-free atomic
//! update with no allocation.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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

/// Installs the global recorder once (later calls return the same handle). Must run before
/// any metric handle is created, or that handle records nowhere.
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
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (an embedding application): keep ours local.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Every outcome code a grab can answer; each gets a pre-registered counter.
pub const GRAB_CODES: &[&str] = &[
    "won",
    "already_won",
    "sold_out",
    "not_started",
    "ended",
    "campaign_not_found",
    "rate_limited",
    "overloaded",
    "degraded",
    "unauthorized",
    "bad_request",
    "unavailable",
    "idempotency_key_in_use",
    "idempotent_replay",
];

/// Pre-registered grab metrics.
#[derive(Clone)]
pub struct GrabMetrics {
    outcomes: Vec<Counter>,
    /// Grab latency from handler entry to response.
    pub latency: Histogram,
}

impl std::fmt::Debug for GrabMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrabMetrics")
    }
}

impl GrabMetrics {
    /// Registers every handle.
    pub fn register() -> Self {
        Self {
            outcomes: GRAB_CODES
                .iter()
                .map(|code| {
                    metrics::counter!("stampede_http_requests_total", "route" => "grab", "outcome" => *code)
                })
                .collect(),
            latency: metrics::histogram!("stampede_grab_latency_seconds"),
        }
    }

    /// Counts one answer by its code.
    pub fn count(&self, code: &str) {
        if let Some(i) = GRAB_CODES.iter().position(|c| *c == code) {
            self.outcomes[i].increment(1);
        }
    }
}
