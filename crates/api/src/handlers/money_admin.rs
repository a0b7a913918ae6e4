//! Admin views of the money: `GET /v1/admin/channels` (each payment channel's weight, the
//! weight the router uses now and its breaker state, plus refunds still owed), and
//! `GET` / `POST /v1/admin/reconciliation` (the last reconciliation report; run one now).

use std::sync::Arc;

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
    let channels = ChannelJson::list(&state.shards.home().payments);
    let pending_refunds = (state.shards.all().iter())
        .map(|s| s.engine.inspect(|l| l.pending_refund_count()) as u64)
        .sum();
    Ok(respond(
        StatusCode::OK,
        &ChannelsJson {
            channels,
            pending_refunds,
        },
    ))
}

/// The last reconciliation: 200 `{took_ms, records, clean, report}`, or 404 `not_found`
/// before the first one ran.
#[utoipa::path(
    get,
    path = "/v1/admin/reconciliation",
    operation_id = "last_reconciliation",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The last reconciliation", body = stampede_money::ReconciliationRun)),
)]
pub async fn last_reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let run = state
        .shards
        .home()
        .reconciler
        .last()
        .get()
        .ok_or(AppError::NotFound(
            "not_found",
            "no reconciliation has run yet (POST /v1/admin/reconciliation runs one)",
        ))?;
    Ok(respond(StatusCode::OK, &*run))
}

/// Runs a reconciliation now and answers it like the GET. One runs at a time: a request that
/// comes while one is running waits for it, then runs its own (see
/// [`stampede_money::reconciliation`]).
#[utoipa::path(
    post,
    path = "/v1/admin/reconciliation",
    operation_id = "run_reconciliation",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The reconciliation just run", body = stampede_money::ReconciliationRun)),
)]
pub async fn run_reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let run = (state.shards.home().reconciler)
        .run_once()
        .await
        .map_err(|e| AppError::Unavailable(format!("reconciliation did not run: {e:#}")))?;
    Ok(respond(StatusCode::OK, &*run))
}
