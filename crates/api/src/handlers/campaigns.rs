//! `POST /v1/campaigns`, `GET /v1/campaigns/{id}`, `GET /v1/campaigns/{id}/winners`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_admission::rules::Route;
use stampede_admission::switches::Switch;
use stampede_core::UnixMillis;
use stampede_engine::Creation;

use crate::dto::{CampaignJson, CreateCampaign, WinnerJson, WinnersJson, WinnersQuery};
use crate::error::AppError;
use crate::handlers::grab::auth_message;
use crate::handlers::path::{CampaignIdPath, Peer};
use crate::json::{JsonBody, respond};
use crate::state::{AppState, CachedCampaign};

/// Default winners page size.
pub const DEFAULT_WINNERS_PAGE: usize = 100;
/// Largest winners page: bounds the response size (~150 bytes per entry → ~150 KiB).
pub const MAX_WINNERS_PAGE: usize = 1000;
/// How old a campaign's cached copy may grow before a `show` replaces it. The copy is served
/// only while `campaign_detail` is switched off, so it need not follow every grab: refreshing
/// it at most once a second spares the refreshed page a map insert per request, and the copy
/// served when the switch goes off is at most this much older than the last live answer.
pub const CAMPAIGN_CACHE_REFRESH_MS: u64 = 1_000;

pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    state
        .auth
        .require_admin(authorization)
        .map_err(|e| AppError::Unauthorized(auth_message(e)))
}

/// Creates a campaign (admin).
#[utoipa::path(
    post,
    path = "/v1/campaigns",
    operation_id = "create_campaign",
    tag = "campaigns",
    security(("admin_key" = [])),
    request_body = CreateCampaign,
    responses((status = 201, description = "The campaign, created", body = CampaignJson)),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<JsonBody<CreateCampaign>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let JsonBody(request) = body?;
    let spec = request.into_spec()?;
    let view = match state
        .shards
        .for_new_campaign()
        .engine
        .create_campaign(spec)
        .await?
    {
        Creation::Created(view) => view,
        Creation::Invalid(invalid) => return Err(AppError::BadRequest(invalid.to_string())),
        Creation::TooManyCampaigns => {
            return Err(AppError::BadRequest(
                "campaigns: the engine holds the maximum number already".into(),
            ));
        }
    };
    tracing::info!(campaign = %view.id, kind = view.spec.kind(), total = view.spec.total(), "campaign created");
    Ok(respond(
        StatusCode::CREATED,
        &CampaignJson::new(&view, state.now()).in_shard_of(state.shards.count()),
    ))
}

/// Shows a campaign (public: users refresh this page). While the `campaign_detail` switch is
/// off, the last rendered copy (at most [`CAMPAIGN_CACHE_REFRESH_MS`] older than the last live
/// answer) is served (503 `degraded` if there is none yet).
///
/// It takes the whole request (the body, empty for a GET, is never read) rather than the
/// `HeaderMap` extractor, which clones every header on every request.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{id}",
    operation_id = "show_campaign",
    tag = "campaigns",
    params(crate::handlers::path::CampaignIdParam),
    responses((status = 200, description = "The campaign", body = CampaignJson)),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    CampaignIdPath(id): CampaignIdPath,
    Peer(peer): Peer,
    request: Request,
) -> Result<Response, AppError> {
    let now = state.now();
    let (_keys, _admitted) = state
        .defence
        .front_door(
            Route::CampaignDetail,
            peer,
            request.headers(),
            Some(id.0),
            now.0,
        )
        .await?;
    let cache = state.campaign_cache.pin();
    if !state.defence.switches.is_on(Switch::CampaignDetail) {
        return match cache.get(&id) {
            Some(cached) => Ok(json_bytes(cached.body.clone())),
            None => Err(AppError::SwitchedOff(Switch::CampaignDetail.name())),
        };
    }
    let view = (state.shards.for_campaign(id).engine)
        .campaign(id)
        .ok_or(AppError::CAMPAIGN_NOT_FOUND)?;
    let body = serde_json::to_vec(&CampaignJson::new(&view, now).in_shard_of(state.shards.count()))
        .map(Bytes::from)
        .map_err(|e| AppError::Unavailable(format!("response encoding failed: {e}")))?;
    if needs_refresh(cache.get(&id), now) {
        cache.insert(
            id,
            CachedCampaign {
                rendered_at: now,
                body: body.clone(),
            },
        );
    }
    Ok(json_bytes(body))
}

/// Whether a campaign's cached copy is missing or older than [`CAMPAIGN_CACHE_REFRESH_MS`].
fn needs_refresh(cached: Option<&CachedCampaign>, now: UnixMillis) -> bool {
    cached.is_none_or(|cached| {
        now.0.saturating_sub(cached.rendered_at.0) >= CAMPAIGN_CACHE_REFRESH_MS
    })
}

fn json_bytes(body: Bytes) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Lists a campaign's winners in win order (admin): the audit trail.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{id}/winners",
    operation_id = "campaign_winners",
    tag = "campaigns",
    security(("admin_key" = [])),
    params(crate::handlers::path::CampaignIdParam, WinnersQuery),
    responses((status = 200, description = "One page of winners", body = WinnersJson)),
)]
pub async fn winners(
    State(state): State<Arc<AppState>>,
    CampaignIdPath(id): CampaignIdPath,
    headers: HeaderMap,
    query: Result<Query<WinnersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    if !state.defence.switches.is_on(Switch::Winners) {
        return Err(AppError::SwitchedOff(Switch::Winners.name()));
    }
    let (start, limit) = page_bounds(query)?;
    let (page, next) = (state.shards.for_campaign(id).engine)
        .winners_page(id, start, limit)
        .await?
        .ok_or(AppError::CAMPAIGN_NOT_FOUND)?;
    Ok(winners_json(&page, next))
}

/// A winners page as answered.
pub(crate) fn winners_json(page: &[stampede_core::Order], next: Option<usize>) -> Response {
    let body = WinnersJson {
        winners: page.iter().map(WinnerJson::from).collect(),
        next: next.map(|n| n.to_string()),
    };
    respond(StatusCode::OK, &body)
}

/// A winners query's first entry and page size (`after`, `limit`), checked.
pub(crate) fn page_bounds(
    query: Result<Query<WinnersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(usize, usize), AppError> {
    let Query(query) =
        query.map_err(|e| AppError::BadRequest(format!("query: {}", e.body_text())))?;
    let start = match query.after.as_deref() {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| {
            AppError::BadRequest("after: must be a cursor from a previous page".into())
        })?,
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_WINNERS_PAGE,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_WINNERS_PAGE).contains(&n) => n,
            _ => {
                return Err(AppError::BadRequest(format!(
                    "limit: must be between 1 and {MAX_WINNERS_PAGE}"
                )));
            }
        },
    };
    Ok((start, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_copy_is_refreshed_when_missing_or_a_second_old() {
        let cached = CachedCampaign {
            rendered_at: UnixMillis(10_000),
            body: Bytes::from_static(b"{}"),
        };
        assert!(needs_refresh(None, UnixMillis(0)));
        assert!(!needs_refresh(Some(&cached), UnixMillis(10_000)));
        assert!(!needs_refresh(
            Some(&cached),
            UnixMillis(10_000 + CAMPAIGN_CACHE_REFRESH_MS - 1)
        ));
        assert!(needs_refresh(
            Some(&cached),
            UnixMillis(10_000 + CAMPAIGN_CACHE_REFRESH_MS)
        ));
        // A clock that stepped back keeps the copy rather than underflowing.
        assert!(!needs_refresh(Some(&cached), UnixMillis(9_000)));
    }
}
