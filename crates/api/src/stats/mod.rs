//! One snapshot of what an operator watches during a sale, for `GET /v1/admin/stats` and the
//! dashboard that polls it: campaigns and their stock, grabs by outcome and their latency,
//! admission rejections by rule, the journal's commits, the payment channels' health.
//!
//! Every figure is read from where `/metrics` reads it (the metrics registry's exposition,
//! the writer's counters, the rules' decision counts, the router's health): taking a snapshot
//! costs the grab path nothing. Counts are cumulative since the process started; a reader
//! computes rates from two snapshots (`at_ms` says when each was taken), as the dashboard does.

pub mod registry;

use serde::Serialize;
use stampede_core::{CampaignStatus, UnixMillis};
use stampede_engine::WriterCounts;

use crate::dto::{CampaignJson, ChannelJson};
use crate::state::AppState;
use registry::Histogram;

/// Most campaigns one snapshot lists. A dashboard shows a handful of sales; 100 keeps the
/// snapshot (about 400 bytes a campaign) under 64 KiB at one poll a second however many
/// campaigns the journal holds. Campaigns that have not ended come first, the most recently
/// created first, then ended ones the same way; past 100 the rest are left out (counted in
/// `campaigns_total`; each still answers `GET /v1/campaigns/{id}`).
pub const MAX_CAMPAIGNS: usize = 100;

/// The snapshot.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// When it was taken (the engine's clock), Unix milliseconds.
    pub at_ms: u64,
    /// Which node answered.
    pub node: NodeJson,
    /// Campaigns the engine holds.
    pub campaigns_total: usize,
    /// At most [`MAX_CAMPAIGNS`] of them (see there for which).
    pub campaigns: Vec<CampaignJson>,
    /// Grabs answered, by outcome code.
    pub grabs: GrabsJson,
    /// Admission decisions that refused (or, in a dry run, would have refused) a request.
    pub rejections: Vec<RejectionJson>,
    /// The journal's group commits.
    pub journal: JournalJson,
    /// The payment channels.
    pub payments: PaymentsJson,
    /// Requests being handled now.
    pub in_flight: usize,
}

/// The node that answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsNode)]
pub struct NodeJson {
    /// The node's id in its cluster, or `single node` (`journal = "file"`).
    pub id: String,
    /// On a cluster node: the live nodes, every shard's leader and how far this node has
    /// applied its log (what `GET /v1/admin/cluster` answers); `null` on a single node.
    pub cluster: Option<crate::cluster::ClusterJson>,
}

/// Grabs by outcome and how long they took.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsGrabs)]
pub struct GrabsJson {
    /// Every answer, by outcome code (`won`, `sold_out`, `rate_limited`, …), in the
    /// registry's order; codes never answered read 0.
    pub outcomes: Vec<OutcomeJson>,
    /// Sum of `outcomes`.
    pub total: u64,
    /// `won` answers over all answers (`null` before the first grab).
    pub win_rate: Option<f64>,
    /// From handler entry to response.
    pub latency: LatencyJson,
}

/// One outcome's count.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsOutcome)]
pub struct OutcomeJson {
    /// The outcome code.
    pub outcome: String,
    /// Grabs answered with it.
    pub count: u64,
}

/// A latency histogram in milliseconds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsLatency)]
pub struct LatencyJson {
    /// Observations.
    pub count: u64,
    /// Median, estimated from the buckets (`null` with no observation).
    pub p50_ms: Option<f64>,
    /// 99th percentile, estimated from the buckets.
    pub p99_ms: Option<f64>,
    /// `[upper bound ms, cumulative count]` of each finite bucket: two snapshots' difference
    /// gives the quantiles of the time between them.
    #[schema(value_type = Vec<Vec<f64>>)]
    pub buckets_ms: Vec<(f64, u64)>,
}

impl LatencyJson {
    fn from_seconds(histogram: &Histogram) -> Self {
        let ms = |seconds: f64| seconds * 1_000.0;
        Self {
            count: histogram.count,
            p50_ms: histogram.quantile(0.5).map(ms),
            p99_ms: histogram.quantile(0.99).map(ms),
            buckets_ms: (histogram.buckets.iter())
                .map(|&(bound, count)| (ms(bound), count))
                .collect(),
        }
    }
}

/// One admission layer's or rule's refusals of one kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsRejection)]
pub struct RejectionJson {
    /// `blocklist`, `switch`, `overload` or `rule`.
    pub layer: &'static str,
    /// The rule's name (empty for the fixed layers).
    pub rule: String,
    /// `blocked_ip`, `blocked_user`, `off`, `shed_capacity`, `shed_latency`, `rejected`
    /// or `dry_run_rejected`.
    pub outcome: &'static str,
    /// Requests refused so far.
    pub count: u64,
}

/// The journal's group commits.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsJournal)]
pub struct JournalJson {
    /// Batches written (each one write, fsynced under `durability = fsync`).
    pub commits: u64,
    /// Records they carried.
    pub records: u64,
    /// fsync calls.
    pub fsyncs: u64,
    /// One write and its fsync (the process-wide `stampede_journal_fsync_seconds`).
    pub commit_latency: LatencyJson,
    /// `records` over `commits` (`null` before the first commit); two snapshots' differences
    /// give the batch size between them.
    pub records_per_commit: Option<f64>,
    /// The journal's circuit breaker: `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// Whether a journal failure stopped writes (until a restart).
    pub failed: bool,
}

/// The payment channels.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StatsPayments)]
pub struct PaymentsJson {
    /// Each channel's health.
    pub channels: Vec<ChannelJson>,
    /// Late or duplicate payments whose refund is not confirmed yet.
    pub pending_refunds: usize,
}

/// Takes a snapshot of `state`; `cluster` is the cluster's report on a cluster node.
pub fn snapshot(state: &AppState, cluster: Option<crate::cluster::ClusterJson>) -> Stats {
    let now = state.now();
    let exposition = state.prometheus.render();
    let (campaigns_total, campaigns) = campaigns(state, now);
    let shards = state.shards.all();
    let writing = || shards.iter().filter(|s| s.engine.is_writer());
    let writer =
        writing()
            .map(|s| s.engine.writer_counts())
            .fold(WriterCounts::default(), |sum, counts| WriterCounts {
                journal_batches: sum.journal_batches + counts.journal_batches,
                journal_records: sum.journal_records + counts.journal_records,
                fsyncs: sum.fsyncs + counts.fsyncs,
                commands: sum.commands + counts.commands,
                abandoned_commands: sum.abandoned_commands + counts.abandoned_commands,
            });
    let home = state.shards.home();
    Stats {
        at_ms: now.0,
        node: NodeJson {
            id: cluster
                .as_ref()
                .map_or_else(|| "single node".to_owned(), |c| c.node_id.clone()),
            cluster,
        },
        campaigns_total,
        campaigns,
        grabs: grabs(&exposition),
        rejections: rejections(state),
        journal: JournalJson {
            commits: writer.journal_batches,
            records: writer.journal_records,
            fsyncs: writer.fsyncs,
            commit_latency: LatencyJson::from_seconds(&Histogram::read(
                &exposition,
                "stampede_journal_fsync_seconds",
            )),
            records_per_commit: (writer.journal_batches > 0)
                .then(|| writer.journal_records as f64 / writer.journal_batches as f64),
            breaker: home.engine.journal_breaker_state().code(),
            failed: state.shards.journal_failed(),
        },
        payments: PaymentsJson {
            channels: ChannelJson::across(&shards.iter().map(|s| &*s.payments).collect::<Vec<_>>()),
            pending_refunds: shards
                .iter()
                .map(|s| s.engine.inspect(|l| l.pending_refund_count()))
                .sum(),
        },
        in_flight: state.in_flight.current(),
    }
}

/// Every campaign's count, and the [`MAX_CAMPAIGNS`] shown.
fn campaigns(state: &AppState, now: UnixMillis) -> (usize, Vec<CampaignJson>) {
    let mut views = state.campaign_views();
    let total = views.len();
    views.sort_unstable_by_key(|view| {
        let ended = view.status(now) == CampaignStatus::Ended;
        (
            ended,
            std::cmp::Reverse((view.created_at, view.slot, view.id)),
        )
    });
    views.truncate(MAX_CAMPAIGNS);
    let shards = state.shards.count();
    let shown = (views.iter())
        .map(|v| CampaignJson::new(v, now).in_shard_of(shards))
        .collect();
    (total, shown)
}

fn grabs(exposition: &str) -> GrabsJson {
    let outcomes: Vec<OutcomeJson> =
        registry::counter_by_label(exposition, "stampede_grab_outcomes_total", "outcome")
            .into_iter()
            .map(|(outcome, count)| OutcomeJson { outcome, count })
            .collect();
    let total = outcomes.iter().map(|o| o.count).sum::<u64>();
    let won = (outcomes.iter())
        .filter(|o| o.outcome == "won")
        .map(|o| o.count)
        .sum::<u64>();
    GrabsJson {
        outcomes,
        total,
        win_rate: (total > 0).then(|| won as f64 / total as f64),
        latency: LatencyJson::from_seconds(&Histogram::read(
            exposition,
            "stampede_grab_latency_seconds",
        )),
    }
}

/// The fixed layers' refusals, then each rule's.
fn rejections(state: &AppState) -> Vec<RejectionJson> {
    let mut rejections: Vec<RejectionJson> = (state.defence.layer_decision_counts().into_iter())
        .map(|(layer, outcome, count)| RejectionJson {
            layer,
            rule: String::new(),
            outcome,
            count,
        })
        .collect();
    let rules = state.defence.rule_set();
    for (rule, counts) in rules.decision_counts() {
        for (decision, count) in counts {
            use stampede_admission::rules::RuleDecision;
            if matches!(
                decision,
                RuleDecision::Rejected | RuleDecision::DryRunRejected
            ) {
                rejections.push(RejectionJson {
                    layer: "rule",
                    rule: rule.to_owned(),
                    outcome: decision.code(),
                    count,
                });
            }
        }
    }
    rejections
}
