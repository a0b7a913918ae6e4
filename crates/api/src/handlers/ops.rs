//! `GET /healthz`, `GET /metrics`, and the JSON fallbacks for unknown paths and methods.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// The body of `GET /healthz`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only its schema is used: the two bodies are static strings.
pub(crate) struct Health {
    /// `ok`, or `journal_failed` after a disk failure.
    #[schema(pattern = "^(ok|journal_failed)$")]
    status: String,
    /// On a cluster node: its id.
    node_id: Option<String>,
    /// On a cluster node: whether it has applied every shard's log as far as it knows it
    /// goes (a node that has not may answer campaign details a little behind).
    caught_up: Option<bool>,
}

/// Health: 200 while the engine accepts writes, 503 after a journal failure (fail-stop).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"status\":\"ok\"}`: the engine accepts writes", body = Health),
        (status = 503, description = "`{\"status\":\"journal_failed\"}` after a disk failure (fail-stop)", body = Health),
    ),
)]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if (state.shards.all().iter()).any(|s| s.engine.is_writer() && s.engine.is_poisoned()) {
        let body = r#"{"status":"journal_failed"}"#;
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    } else if let Some(cluster) = state.cluster.get() {
        let body = serde_json::json!({
            "status": "ok",
            "node_id": cluster.node_id(),
            "caught_up": cluster.caught_up(),
        });
        crate::json::respond(StatusCode::OK, &body)
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok"}"#,
        )
            .into_response()
    }
}

/// Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition, `stampede_` prefix", body = String, content_type = "text/plain; version=0.0.4")),
)]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    for switch in state.defence.switches.list() {
        metrics::gauge!("stampede_switch_on", "switch" => switch.name)
            .set(f64::from(u8::from(switch.on)));
    }
    metrics::gauge!("stampede_blocklist_entries").set(state.defence.blocklist.len() as f64);
    metrics::gauge!("stampede_idempotency_entries").set(state.idempotency.len() as f64);
    metrics::gauge!("stampede_in_flight_requests").set(state.in_flight.current() as f64);
    let mut text = state.prometheus.render();
    crate::exposition::render_live(&state, &mut text);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Unknown path.
pub async fn not_found() -> AppError {
    AppError::NotFound("not_found", "no such route")
}

/// Known path, wrong method.
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
