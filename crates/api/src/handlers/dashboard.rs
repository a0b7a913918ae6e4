//! The live dashboard: `GET /dashboard` (a page served from the binary, with its script and
//! style) and `GET /v1/admin/stats` (the snapshot it polls once a second with the admin key
//! typed into it). The page fetches nothing but those: no CDN, no font, no image.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::handlers::campaigns::require_admin;
use crate::json::respond;
use crate::state::AppState;

const PAGE: &str = include_str!("../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard/app.js");
const STYLE: &str = include_str!("../../assets/dashboard/style.css");

/// The page may run only its own script and style, and talk only to this server: an
/// injected `<script>` or inline handler does not run, and nothing leaves for another origin
/// (the admin key included). It may not be framed, and its form posts nowhere (the script
/// handles it).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The snapshot (admin): see [`crate::stats`].
#[utoipa::path(
    get,
    path = "/v1/admin/stats",
    operation_id = "admin_stats",
    tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "One snapshot for the live dashboard", body = crate::stats::Stats)),
)]
pub async fn stats(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let cluster = match state.cluster.get() {
        Some(cluster) => Some(cluster.report().await),
        None => None,
    };
    let mut response = respond(StatusCode::OK, &crate::stats::snapshot(&state, cluster));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The dashboard page (anyone: it shows nothing until the admin key is typed in).
#[utoipa::path(
    get,
    path = "/dashboard",
    operation_id = "dashboard_page",
    tag = "operations",
    responses((status = 200, description = "The live dashboard page", body = String, content_type = "text/html; charset=utf-8")),
)]
pub async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// The page's script.
#[utoipa::path(
    get,
    path = "/dashboard/app.js",
    operation_id = "dashboard_script",
    tag = "operations",
    responses((status = 200, description = "The dashboard's script", body = String, content_type = "text/javascript; charset=utf-8")),
)]
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The page's style sheet.
#[utoipa::path(
    get,
    path = "/dashboard/style.css",
    operation_id = "dashboard_style",
    tag = "operations",
    responses((status = 200, description = "The dashboard's style sheet", body = String, content_type = "text/css; charset=utf-8")),
)]
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                HeaderName::from_static("referrer-policy"),
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
