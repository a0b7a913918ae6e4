//! Admin views of the money: `GET /v1/admin/channels` (each payment channel's weight, the
//! weight the router uses now and its breaker state, plus refunds still owed), and
//! `GET` / `POST /v1/admin/reconciliation` (the last reconciliation report; run one now).
//!
//! A cluster node runs a payment desk per shard: the channels view shows each channel over
//! all of them, and each shard's own; reconciliation runs per shard where this node leads
//! the shard, so the reconciliation endpoints answer for the shards this node leads now.

use std::sync::Arc;

use serde::Serializer;
use stampede_money::ReconciliationRun;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::dto::ChannelJson;
use crate::error::AppError;
use crate::handlers::campaigns::require_admin;
use crate::json::respond;
use crate::state::AppState;

/// `GET /v1/admin/channels` answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelsJson {
    /// Each payment channel, as the router sees it.
    channels: Vec<ChannelJson>,
    /// Refunds still owed (late and duplicate payments not yet refunded).
    pending_refunds: u64,
    /// On a cluster node, each shard's desk (its own router and breakers); the `channels`
    /// above are then each channel over every shard: its lowest effective weight and worst
    /// state. Absent on a single node.
    #[serde(skip_serializing_if = "Option::is_none")]
    shards: Option<Vec<ShardChannelsJson>>,
}

/// One shard's payment desk on a cluster node.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ShardChannelsJson {
    /// The shard.
    shard: u32,
    /// Its desk's channels, as its router sees them.
    channels: Vec<ChannelJson>,
}

/// Lists the payment channels and their health.
#[utoipa::path(
    get,
    path = "/v1/admin/channels",
    operation_id = "list_channels",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The payment channels and the refunds still owed", body = ChannelsJson)),
)]
pub async fn channels(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let shards = state.shards.all();
    let desks: Vec<_> = shards.iter().map(|s| &*s.payments).collect();
    let channels = ChannelJson::across(&desks);
    let pending_refunds = (shards.iter())
        .map(|s| s.engine.inspect(|l| l.pending_refund_count()) as u64)
        .sum();
    let per_shard = state.cluster.get().is_some().then(|| {
        (0..)
            .zip(&desks)
            .map(|(shard, desk)| ShardChannelsJson {
                shard,
                channels: ChannelJson::list(desk),
            })
            .collect()
    });
    Ok(respond(
        StatusCode::OK,
        &ChannelsJson {
            channels,
            pending_refunds,
            shards: per_shard,
        },
    ))
}

/// `GET` / `POST /v1/admin/reconciliation` answer: a single node's run, or a cluster node's
/// runs (one per shard it leads).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum ReconciliationJson {
    /// A single node: its run (of its whole journal).
    Single(RunJson),
    /// A cluster node: the shards it leads, and a run of each.
    Cluster(ClusterReconciliationJson),
}

/// A run, shared with the reconciler that stored it.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = ReconciliationRun)]
pub(crate) struct RunJson(Arc<ReconciliationRun>);

impl serde::Serialize for RunJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A cluster node's reconciliation: each shard is reconciled by its leader.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ClusterReconciliationJson {
    /// The node that answered.
    node_id: String,
    /// The shards this node leads now: the ones it reconciles.
    led_shards: Vec<u32>,
    /// Whether every run listed found nothing wrong.
    clean: bool,
    /// The run of each led shard (each names its `shard`; a GET lists those that have run).
    runs: Vec<RunJson>,
}

/// The shards this node writes (a single node: its one), with their services.
fn led(state: &AppState) -> Vec<(u32, crate::shards::ShardRef<'_>)> {
    (0..)
        .zip(state.shards.all())
        .filter(|(_, services)| services.engine.is_writer())
        .collect()
}

/// `runs` as the answer: the single node's one, or a cluster node's list.
fn answer(
    state: &AppState,
    led_shards: Vec<u32>,
    mut runs: Vec<Arc<ReconciliationRun>>,
) -> Response {
    let json = match state.cluster.get() {
        None => {
            let run = runs.pop().expect("a single node answers one run");
            ReconciliationJson::Single(RunJson(run))
        }
        Some(cluster) => ReconciliationJson::Cluster(ClusterReconciliationJson {
            node_id: cluster.node_id().to_owned(),
            led_shards,
            clean: runs.iter().all(|run| run.clean),
            runs: runs.into_iter().map(RunJson).collect(),
        }),
    };
    respond(StatusCode::OK, &json)
}

/// Refused when this cluster node leads no shard now: it has nothing to reconcile.
const LEADS_NO_SHARD: AppError = AppError::NotFound(
    "not_found",
    "this node leads no shard now, and each shard is reconciled by its leader (GET /v1/admin/cluster names them)",
);

/// The last reconciliation: 200 `{took_ms, records, clean, report}`, or 404 `not_found`
/// before the first one ran. On a cluster node, 200 `{node_id, led_shards, clean, runs}`:
/// the last run of each shard it leads that has run; 404 when none has (or it leads none).
#[utoipa::path(
    get,
    path = "/v1/admin/reconciliation",
    operation_id = "last_reconciliation",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The last reconciliation (a cluster node: of each shard it leads)", body = ReconciliationJson)),
)]
pub async fn last_reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let led = led(&state);
    let runs: Vec<_> = (led.iter())
        .filter_map(|(_, services)| services.reconciler.last().get())
        .collect();
    if runs.is_empty() {
        return Err(AppError::NotFound(
            "not_found",
            "no reconciliation has run yet (POST /v1/admin/reconciliation runs one)",
        ));
    }
    let led_shards = led.iter().map(|(shard, _)| *shard).collect();
    Ok(answer(&state, led_shards, runs))
}

/// Runs a reconciliation now and answers it like the GET. One runs at a time: a request that
/// comes while one is running waits for it, then runs its own (see
/// [`stampede_money::reconciliation`]). On a cluster node, one run of each shard it leads, in
/// turn; 404 when it leads none.
#[utoipa::path(
    post,
    path = "/v1/admin/reconciliation",
    operation_id = "run_reconciliation",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The reconciliation just run (a cluster node: of each shard it leads)", body = ReconciliationJson)),
)]
pub async fn run_reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let led = led(&state);
    if led.is_empty() {
        return Err(LEADS_NO_SHARD);
    }
    let mut runs = Vec::with_capacity(led.len());
    for (shard, services) in &led {
        let run = (services.reconciler.run_once()).await.map_err(|e| {
            AppError::Unavailable(format!(
                "reconciliation of shard {shard} did not run: {e:#}"
            ))
        })?;
        runs.push(run);
    }
    let led_shards = led.iter().map(|(shard, _)| *shard).collect();
    Ok(answer(&state, led_shards, runs))
}
