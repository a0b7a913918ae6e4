//! Rehearsals: shadow grabs and the admin's view of the shadow copies.
//!
//! A grab carrying a shadow token (`s1.`, see [`crate::auth::Traffic`]) meets every defence
//! a real grab meets up to its token — the `grab` switch, the blocklist by address, the rules
//! known before the token — and the blocklist by user, then is decided here against the
//! campaign's shadow copy ([`stampede_engine::Shadows`]) and counted in the shadow metric
//! families. It never reaches the engine's writer, journal or read side, the idempotency
//! store, payments or winners. Two things a real grab goes through are skipped on purpose,
//! because their state is shared with real users: the user rules (per-user and
//! user × campaign limiters, and the automatic bans they place on the persisted blocklist —
//! a rehearsal must not rate-limit or ban a real user) and the write path's overload
//! admission (it measures the journal's write path, which a shadow grab does not take).
//! An `Idempotency-Key` is checked for form but not stored: the store is bounded and shared
//! with real grabs; a repeated shadow grab is answered afresh by the copy (`already_won`
//! once the user holds the limit).
//!
//! Admin endpoints:
//! - `GET /v1/admin/shadow/campaigns/{id}`: the copy's stock and winner count;
//! - `GET /v1/admin/shadow/campaigns/{id}/winners?after=&limit=`: its orders, paged like the
//!   real winners list (not behind the `winners` switch: it reads no real state);
//! - `DELETE /v1/admin/shadow/campaigns/{id}`: drops the copy (the next shadow grab starts a
//!   fresh rehearsal); 204 whether or not there was one.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stampede_core::{CampaignId, GrabOutcome, UnixMillis, UserRef};

use crate::auth::Traffic;
use crate::dto::WinnersQuery;
use crate::error::AppError;
use crate::handlers::campaigns::{page_bounds, require_admin, winners_json};
use crate::handlers::grab::{Counted, GrabAnswer};
use crate::handlers::path::PathParams;
use crate::idempotency::validate_key;
use crate::json::respond;
use crate::state::AppState;
use crate::timefmt::format_rfc3339;

/// Decides a shadow grab by `user` (token and blocklist already checked) against the shadow
/// copy of `campaign`.
pub(crate) fn answer_grab(
    state: &AppState,
    campaign: CampaignId,
    user: UserRef<'_>,
    idempotency_key: Option<&[u8]>,
    now: UnixMillis,
) -> (Counted, GrabAnswer) {
    let counted = |code| Counted {
        code,
        traffic: Traffic::Shadow,
    };
    let refused = |error: AppError| (counted(error.code()), GrabAnswer::Refused(error));
    if let Some(Err(message)) = idempotency_key.map(validate_key) {
        return refused(AppError::BadRequest(message));
    }
    let outcome = match state
        .shards
        .for_campaign(campaign)
        .engine
        .campaign(campaign)
    {
        None => GrabOutcome::CampaignNotFound,
        Some(real) => match state.shadows.grab(&real, &user.to_owned(), now) {
            Ok(outcome) => outcome,
            Err(full) => return refused(AppError::ShadowFull(full)),
        },
    };
    (counted(outcome.code()), GrabAnswer::Outcome(outcome))
}

/// `GET /v1/admin/shadow/campaigns/{id}` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ShadowJson {
    /// The real campaign this copy rehearses.
    campaign_id: String,
    /// The copy's status (`scheduled`, `active`, `sold_out`, `ended`).
    status: &'static str,
    /// Its stock (the real campaign's, whole).
    total: u64,
    /// Left in the copy.
    remaining: u64,
    /// Shadow orders in the copy.
    winners: usize,
    /// When the copy was made (the rehearsal's first grab), RFC 3339.
    #[schema(format = DateTime)]
    started_at: String,
}

/// The `{id}` of `/v1/admin/shadow/campaigns/{id}…`.
fn campaign_id(path: Result<PathParams<String>, AppError>) -> Result<CampaignId, AppError> {
    let PathParams(id) = path?;
    CampaignId::parse(&id).ok_or_else(|| {
        AppError::BadRequest("campaign_id: must be \"c_\" followed by 32 hex digits".into())
    })
}

/// No shadow copy of this campaign.
const NO_REHEARSAL: AppError = AppError::NotFound(
    "not_found",
    "no rehearsal of this campaign: no shadow grab since it was reset or the server started",
);

/// The shadow copy's stock and winner count (admin).
#[utoipa::path(
    get,
    path = "/v1/admin/shadow/campaigns/{id}",
    operation_id = "show_shadow",
    tag = "admin",
    security(("admin_key" = [])),
    params(crate::handlers::path::CampaignIdParam),
    responses((status = 200, description = "The shadow copy", body = ShadowJson)),
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    path: Result<PathParams<String>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let id = campaign_id(path)?;
    let status = (state.shadows)
        .status(id, state.now())
        .ok_or(NO_REHEARSAL)?;
    let body = ShadowJson {
        campaign_id: id.to_string(),
        status: status.status.code(),
        total: status.total,
        remaining: status.remaining,
        winners: status.winners,
        started_at: format_rfc3339(status.started_at),
    };
    Ok(respond(StatusCode::OK, &body))
}

/// The shadow copy's orders in win order (admin): what a rehearsal's audit reads.
#[utoipa::path(
    get,
    path = "/v1/admin/shadow/campaigns/{id}/winners",
    operation_id = "shadow_winners",
    tag = "admin",
    security(("admin_key" = [])),
    params(crate::handlers::path::CampaignIdParam, WinnersQuery),
    responses((status = 200, description = "One page of the copy's winners", body = crate::dto::WinnersJson)),
)]
pub async fn winners(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    path: Result<PathParams<String>, AppError>,
    query: Result<Query<WinnersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let id = campaign_id(path)?;
    let (start, limit) = page_bounds(query)?;
    let (page, next) = (state.shadows)
        .winners_page(id, start, limit)
        .ok_or(NO_REHEARSAL)?;
    Ok(winners_json(&page, next))
}

/// Drops the shadow copy (admin): the next shadow grab starts a fresh rehearsal.
#[utoipa::path(
    delete,
    path = "/v1/admin/shadow/campaigns/{id}",
    operation_id = "reset_shadow",
    tag = "admin",
    security(("admin_key" = [])),
    params(crate::handlers::path::CampaignIdParam),
    responses((status = 204, description = "Dropped (or there was none)")),
)]
pub async fn reset(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    path: Result<PathParams<String>, AppError>,
) -> Result<Response, AppError> {
    require_admin(&state, &headers)?;
    let id = campaign_id(path)?;
    state.shadows.reset(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
