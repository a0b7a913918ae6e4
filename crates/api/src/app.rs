//! `app(state) -> Router`: every route, so tests can drive it without a socket.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use stampede_admission::InFlightLimitLayer;

use crate::body_read::ReadBodyLayer;
use crate::error::AppError;
use crate::handlers::{
    admin, campaigns, cluster, dashboard, grab, money_admin, ops, orders, payments, shadow,
};
use crate::json::MAX_BODY_BYTES;
use crate::state::AppState;

/// The router. The grab route records its own metrics with pre-registered handles (no
/// per-request allocation); the other routes go through a counting middleware.
pub fn app(state: Arc<AppState>) -> Router {
    let counted = Router::new()
        .route("/v1/campaigns", post(campaigns::create))
        .route("/v1/campaigns/{id}", get(campaigns::show))
        .route("/v1/campaigns/{id}/winners", get(campaigns::winners))
        .route("/v1/orders/{id}", get(orders::show))
        .route("/v1/orders/{id}/cancel", post(orders::cancel))
        .route("/v1/orders/{id}/claim", post(orders::claim))
        .route("/v1/orders/{id}/pay", post(payments::pay))
        .route("/v1/payments/callbacks/{channel}", post(payments::callback))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .route(
            "/v1/admin/rules",
            get(admin::get_rules).put(admin::put_rules),
        )
        .route(
            "/v1/admin/blocklist",
            get(admin::list_entries).post(admin::add_entry),
        )
        .route(
            "/v1/admin/blocklist/{kind}/{*value}",
            delete(admin::remove_entry),
        )
        .route("/v1/admin/channels", get(money_admin::channels))
        .route("/v1/admin/cluster", get(cluster::cluster))
        .route(
            "/v1/admin/reconciliation",
            get(money_admin::last_reconciliation).post(money_admin::run_reconciliation),
        )
        .route("/v1/admin/switches", get(admin::list_switches))
        .route("/v1/admin/switches/{name}", put(admin::set_switch))
        .route("/v1/admin/stats", get(dashboard::stats))
        .route(
            "/v1/admin/shadow/campaigns/{id}",
            get(shadow::show).delete(shadow::reset),
        )
        .route(
            "/v1/admin/shadow/campaigns/{id}/winners",
            get(shadow::winners),
        )
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/app.js", get(dashboard::script))
        .route("/dashboard/style.css", get(dashboard::style))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            count_requests,
        ));
    let in_flight = state.in_flight.clone();
    let body_reads = state.body_reads.clone();
    Router::new()
        .route("/v1/campaigns/{id}/grab", post(grab::grab))
        .merge(counted)
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(InFlightLimitLayer::new(in_flight, || {
            AppError::Overloaded.into_response()
        }))
        // Outside the in-flight limit on purpose: a request waits for its body holding no
        // permit, so clients that send bodies slowly (or never) cannot starve the rest.
        .layer(ReadBodyLayer::new(body_reads))
        .with_state(state)
}

/// Counts requests by route and status for the non-grab routes, and logs the sampled ones.
async fn count_requests(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = stampede_clock::stopwatch();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state
        .access_log
        .record(method.as_str(), &route, status, started.elapsed());
    metrics::counter!("stampede_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
    response
}
