//! `GET /v1/orders/{id}`, `POST /v1/orders/{id}/cancel` and `POST /v1/orders/{id}/claim`: an
//! order, for its user or the admin.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use stampede_admission::rules::{Admitted, RequestKeys, Route, Stage};
use stampede_core::{OrderOutcome, UserRef};
use stampede_money::ClaimOutcome;

use crate::auth::Caller;
use crate::dto::OrderJson;
use crate::error::AppError;
use crate::handlers::grab::auth_message;
use crate::handlers::path::{OrderIdPath, Peer};
use crate::json::respond;
use crate::state::AppState;

const NOT_FOUND: AppError = AppError::NotFound("order_not_found", "no such order");

/// Shows an order with its payments. Another user's order answers 404, not 403: ids are not
/// confirmed to strangers. A `pending_payment` order past its deadline is expired on the spot
/// (through the writer, durably) and shown `expired`. A `paying` order's channels are asked
/// about it first (at most once per [`stampede_money::desk::READ_QUERY_INTERVAL`] per order),
/// so a payment whose callback was lost shows `paid`.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    operation_id = "show_order",
    tag = "orders",
    security(("user_token" = []), ("admin_key" = [])),
    params(crate::handlers::path::OrderIdParam),
    responses((status = 200, description = "The order with its payments", body = OrderJson)),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    OrderIdPath(id): OrderIdPath,
    headers: HeaderMap,
    Peer(peer): Peer,
) -> Result<Response, AppError> {
    let (caller, _permits) = admit(&state, &headers, peer).await?;
    let services = state.shards.for_order_caught_up(id).await?;
    let order = services.engine.order(id).ok_or(NOT_FOUND)?;
    if caller
        .user()
        .is_some_and(|user| user != order.user_id.as_ref())
    {
        return Err(NOT_FOUND);
    }
    services.payments.refresh_if_paying(&order).await;
    let (order, payments) = services.engine.order_now(id).await?.ok_or(NOT_FOUND)?;
    Ok(respond(
        StatusCode::OK,
        &OrderJson::from(&order).with_payments(&payments),
    ))
}

/// Cancels a `pending_payment` order for its user (or the admin) and returns its item to
/// stock: 200 with the cancelled order once durable; another user's order 404; an order that
/// cannot be cancelled (already closed) 409 `invalid_transition`, changing nothing.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/cancel",
    operation_id = "cancel_order",
    tag = "orders",
    security(("user_token" = []), ("admin_key" = [])),
    params(crate::handlers::path::OrderIdParam),
    responses((status = 200, description = "The order, now `cancelled`", body = OrderJson)),
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    OrderIdPath(id): OrderIdPath,
    headers: HeaderMap,
    Peer(peer): Peer,
) -> Result<Response, AppError> {
    let (caller, _permits) = admit(&state, &headers, peer).await?;
    let by = caller.user().map(UserRef::to_owned);
    let services = state.shards.for_order_caught_up(id).await?;
    match services.engine.cancel(id, by.as_ref()).await? {
        OrderOutcome::Moved(order) => Ok(respond(StatusCode::OK, &OrderJson::from(&order))),
        OrderOutcome::NotFound => Err(NOT_FOUND),
        OrderOutcome::InvalidTransition(invalid) => Err(AppError::InvalidTransition(invalid)),
    }
}

/// Claims a red packet for its winner (or the admin) and pays it out: 200 with the `claimed`
/// order and its `payout_id`. Idempotent: a repeated claim answers the same payout; a
/// concurrent one waits for the first (up to [`stampede_money::CLAIM_WAIT`], then 409
/// `claim_in_progress`). Another user's order 404; not a red packet, or its claim expired,
/// 409 `invalid_transition`; a declined payout 502 `payout_declined` (the packet stays `won`).
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/claim",
    operation_id = "claim_order",
    tag = "orders",
    security(("user_token" = []), ("admin_key" = [])),
    params(crate::handlers::path::OrderIdParam),
    responses((status = 200, description = "The red packet, now `claimed`, with its `payout_id`", body = OrderJson)),
)]
pub async fn claim(
    State(state): State<Arc<AppState>>,
    OrderIdPath(id): OrderIdPath,
    headers: HeaderMap,
    Peer(peer): Peer,
) -> Result<Response, AppError> {
    let (caller, _permits) = admit(&state, &headers, peer).await?;
    let by = caller.user().map(UserRef::to_owned);
    let services = state.shards.for_order_caught_up(id).await?;
    match services.claims.claim(id, by).await? {
        ClaimOutcome::Claimed(order, payout_id) => Ok(respond(
            StatusCode::OK,
            &OrderJson::from(&order).with_payout(&payout_id),
        )),
        ClaimOutcome::NotFound => Err(NOT_FOUND),
        ClaimOutcome::InvalidTransition(invalid) => Err(AppError::InvalidTransition(invalid)),
        ClaimOutcome::InProgress => Err(AppError::ClaimInProgress),
        ClaimOutcome::Declined(_, why) => Err(AppError::PayoutDeclined(why)),
    }
}

/// The order routes' admission: front door, authentication, per-user checks. The permits it
/// returns must be held until the answer is ready (concurrency rules count them).
pub(crate) async fn admit<'a>(
    state: &'a AppState,
    headers: &'a HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> Result<(Caller<'a>, [Admitted; 2]), AppError> {
    let now_ms = state.now_ms();
    let (keys, before) = state
        .defence
        .front_door(Route::Order, peer, headers, None, now_ms)
        .await?;
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let caller = state
        .auth
        .caller(authorization, now_ms / 1000)
        .map_err(|e| AppError::Unauthorized(auth_message(e)))?;
    if let Some(user) = caller.user() {
        state.defence.check_user(user.as_str(), now_ms)?;
    }
    let keys = RequestKeys {
        user: caller.user().map(UserRef::as_str),
        ..keys
    };
    let after = state.defence.admit(Stage::AfterAuth, &keys, now_ms).await?;
    Ok((caller, [before, after]))
}
