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

/// Lists the payment channels and their health.
pub async fn channels(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let channels = ChannelJson::list(&state.payments);
    let pending_refunds = state.engine.inspect(|l| l.pending_refund_count());
    Ok(respond(
        StatusCode::OK,
        &serde_json::json!({ "channels": channels, "pending_refunds": pending_refunds }),
    ))
}

/// The last reconciliation: 200 `{took_ms, records, clean, report}`, or 404 `not_found`
/// before the first one ran.
pub async fn last_reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let run = state.reconciler.last().get().ok_or(AppError::NotFound(
        "not_found",
        "no reconciliation has run yet (POST /v1/admin/reconciliation runs one)",
    ))?;
    Ok(respond(StatusCode::OK, &*run))
}

/// Runs a reconciliation now and answers it like the GET. One runs at a time: a request that
/// comes while one is running waits for it, then runs its own (see
/// [`stampede_money::reconciliation`]).
pub async fn run_reconciliation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let run = state
        .reconciler
        .run_once()
        .await
        .map_err(|e| AppError::Unavailable(format!("reconciliation did not run: {e:#}")))?;
    Ok(respond(StatusCode::OK, &*run))
}
