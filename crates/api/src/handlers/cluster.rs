//! `GET /v1/admin/cluster`: the nodes, every shard's leader and how far this node has
//! applied each shard's log.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::cluster::ClusterJson;
use crate::error::AppError;
use crate::handlers::campaigns::require_admin;
use crate::json::respond;
use crate::state::AppState;

/// The cluster as this node sees it; 404 `not_found` on a single node (`journal = "file"`).
#[utoipa::path(
    get,
    path = "/v1/admin/cluster",
    operation_id = "cluster",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "The live nodes and every shard's leader and log sequences", body = ClusterJson)),
)]
pub async fn cluster(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let cluster = state.cluster.get().ok_or(AppError::NotFound(
        "not_found",
        "this node is not part of a cluster (journal = \"file\")",
    ))?;
    Ok(respond(StatusCode::OK, &cluster.report().await))
}
