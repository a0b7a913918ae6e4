//! `POST /v1/campaigns`, `GET /v1/campaigns/{id}`, `GET /v1/campaigns/{id}/winners`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_admission::rules::Route;
use stampede_admission::switches::Switch;
use stampede_engine::EngineError;

use crate::dto::{CampaignJson, CreateCampaign, WinnerJson, WinnersJson, WinnersQuery};
use crate::error::AppError;
use crate::handlers::grab::auth_message;
use crate::handlers::path::{CampaignIdPath, Peer};
use crate::json::{JsonBody, respond};
use crate::state::AppState;

/// Default winners page size.
pub const DEFAULT_WINNERS_PAGE: usize = 100;
/// Largest winners page: bounds the response size (~150 bytes per entry → ~150 KiB).
pub const MAX_WINNERS_PAGE: usize = 1000;

pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    state
        .auth
        .require_admin(authorization)
        .map_err(|e| AppError::Unauthorized(auth_message(e)))
}

/// Creates a campaign (admin).
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<JsonBody<CreateCampaign>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let JsonBody(request) = body?;
    let spec = request.into_spec()?;
    let view = state
        .engine
        .create_campaign(spec)
        .await
        .map_err(|e| match e {
            EngineError::Overloaded => AppError::Overloaded,
            EngineError::Degraded { retry_after } => AppError::Degraded {
                retry_after_secs: stampede_admission::retry_after_secs(retry_after),
            },
            EngineError::Invalid(spec) => AppError::BadRequest(spec.to_string()),
            EngineError::TooManyCampaigns => AppError::BadRequest(
                "campaigns: the engine holds the maximum number already".into(),
            ),
            EngineError::Unavailable(why) => AppError::Unavailable(why),
        })?;
    tracing::info!(campaign = %view.id, kind = view.spec.kind(), total = view.spec.total(), "campaign created");
    Ok(respond(
        StatusCode::CREATED,
        &CampaignJson::new(&view, state.engine.now()),
    ))
}

/// Shows a campaign (public: users refresh this page). While the `campaign_detail` switch is
/// off, the last rendered copy is served (503 `degraded` if there is none yet).
pub async fn show(
    State(state): State<Arc<AppState>>,
    CampaignIdPath(id): CampaignIdPath,
    headers: HeaderMap,
    Peer(peer): Peer,
) -> Result<Response, AppError> {
    let (_keys, _admitted) = state
        .defence
        .front_door(
            Route::CampaignDetail,
            peer,
            &headers,
            Some(id.0),
            state.now_ms(),
        )
        .await?;
    if !state.defence.switches.is_on(Switch::CampaignDetail) {
        return match state.campaign_cache.pin().get(&id) {
            Some(body) => Ok(json_bytes(body.clone())),
            None => Err(AppError::SwitchedOff(Switch::CampaignDetail.name())),
        };
    }
    let view = state
        .engine
        .campaign(id)
        .ok_or(AppError::NotFound("campaign_not_found", "no such campaign"))?;
    let body = serde_json::to_vec(&CampaignJson::new(&view, state.engine.now()))
        .map(Bytes::from)
        .map_err(|e| AppError::Unavailable(format!("response encoding failed: {e}")))?;
    state.campaign_cache.pin().insert(id, body.clone());
    Ok(json_bytes(body))
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
    let (page, next) = state
        .engine
        .winners_page(id, start, limit)
        .await?
        .ok_or(AppError::NotFound("campaign_not_found", "no such campaign"))?;
    let body = WinnersJson {
        winners: page.iter().map(WinnerJson::from).collect(),
        next: next.map(|n| n.to_string()),
    };
    Ok(respond(StatusCode::OK, &body))
}
