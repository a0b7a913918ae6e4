//! `GET /v1/orders/{id}`: the order, for its user or the admin.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use stampede_admission::rules::{RequestKeys, Route, Stage};

use crate::auth::Caller;
use crate::dto::OrderJson;
use crate::error::AppError;
use crate::handlers::grab::auth_message;
use crate::handlers::path::{OrderIdPath, Peer};
use crate::json::respond;
use crate::state::AppState;

const NOT_FOUND: AppError = AppError::NotFound("order_not_found", "no such order");

/// Shows an order. Another user's order answers 404, not 403: ids are not confirmed to
/// strangers.
pub async fn show(
    State(state): State<Arc<AppState>>,
    OrderIdPath(id): OrderIdPath,
    headers: HeaderMap,
    Peer(peer): Peer,
) -> Result<Response, AppError> {
    let now_ms = state.now_ms();
    let (keys, _before) = state
        .defence
        .front_door(Route::Order, peer, &headers, None, now_ms)
        .await?;
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let caller = state
        .auth
        .caller(authorization, state.now_unix_secs())
        .map_err(|e| AppError::Unauthorized(auth_message(e)))?;
    if let Caller::User(user) = caller {
        state.defence.check_user(user, now_ms)?;
    }
    let user = match caller {
        Caller::User(user) => Some(user),
        Caller::Admin => None,
    };
    let keys = RequestKeys { user, ..keys };
    let _after = state.defence.admit(Stage::AfterAuth, &keys, now_ms).await?;
    let order = state.engine.order(id).ok_or(NOT_FOUND)?;
    match caller {
        Caller::Admin => {}
        Caller::User(user) if user == order.user_id.as_str() => {}
        Caller::User(_) => return Err(NOT_FOUND),
    }
    Ok(respond(StatusCode::OK, &OrderJson::from(&order)))
}
