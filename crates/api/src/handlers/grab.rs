//! `POST /v1/campaigns/{id}/grab`: the heart of the system.
//!
//! Order of checks, cheapest and most decisive first:
//! 1. the `grab` degrade switch → 503 `degraded`;
//! 2. the client address (peer, or X-Forwarded-For from a trusted proxy) against the
//!    blocklist → 403 `blocked`, then the rules known before authentication (global, route,
//!    ip, campaign) → 429/503 — a flood is refused before any HMAC is computed;
//! 3. the token (HMAC, no allocation) → 401, then the user against the blocklist → 403;
//! 4. `Idempotency-Key`, when the header is present: a replay of the key's first answer, or
//!    else steps 5 to 8 on a task that outlives the client ([`keyed_grab`]);
//! 5. the engine's fast path from the published read side: unknown campaign, not started,
//!    `already_won` for a user holding the limit, ended, sold out — no lock, no I/O, a
//!    static body for the refusals;
//! 6. the user rules (per-user, user × campaign) → 429 with `Retry-After`; after the fast
//!    path on purpose: a sold-out answer is as cheap as a 429 and creates no limiter state
//!    for the losing 99 %; their rejections count toward automatic bans;
//! 7. adaptive overload protection for the write path → 503 `overloaded`;
//! 8. the writer, which answers `won` only once the win is fsynced.
//!
//! With the default config (no blocklist entries, only the per-user rule) steps 1, 2 and the
//! empty rule stages cost an atomic load each.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_admission::rules::{RequestKeys, Route, Stage};
use stampede_admission::switches::Switch;
use stampede_core::{CampaignId, GrabOutcome, UnixMillis, UserRef};
use stampede_engine::{EngineError, GrabReply, LateGrab, stopwatch};

use crate::dto::GrabJson;
use crate::error::AppError;
use crate::handlers::keyed_grab;
use crate::handlers::path::{CampaignIdPath, Peer};
use crate::idempotency::validate_key;
use crate::json::respond;
use crate::state::AppState;

/// The handler. It takes the whole request (the body, empty for a grab, is never read) rather
/// than the `HeaderMap` extractor, which clones every header on every request.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{id}/grab",
    operation_id = "grab",
    tag = "campaigns",
    security(("user_token" = [])),
    params(
        crate::handlers::path::CampaignIdParam,
        ("Idempotency-Key" = Option<String>, Header, description = "1–128 printable ASCII characters, no spaces: a retry with the same key replays the first decided answer", pattern = "^[!-~]{1,128}$"),
    ),
    responses((status = 200, description = "Won, or already won (the user's latest order)", body = GrabJson)),
)]
pub async fn grab(
    State(state): State<Arc<AppState>>,
    CampaignIdPath(campaign): CampaignIdPath,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    let started = stopwatch();
    let (code, response) = decide(&state, campaign, request.headers(), peer).await;
    state.grab_metrics.count(code);
    let took = started.elapsed();
    state.grab_metrics.latency.record(took.as_secs_f64());
    state.access_log.record(
        "POST",
        "/v1/campaigns/{id}/grab",
        response.status().as_u16(),
        took,
    );
    response
}

/// Decides one grab. The clock is read once, on entry: every check (blocklist, token expiry,
/// ban windows, the idempotency entry's age and its TTL) uses that `now`. A wait in a
/// concurrency rule's queue is bounded by its maximum wait, so `now` stays close enough.
async fn decide(
    state: &Arc<AppState>,
    campaign: CampaignId,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> (&'static str, Response) {
    let defence = &state.defence;
    let now = state.engine.now();
    let now_ms = now.0;
    if let Err(e) = defence.require_on(Switch::Grab) {
        return refuse(e);
    }
    // `_admitted` is held to the end of the request: concurrency rules count it until then.
    let (keys, _admitted) = match defence
        .front_door(Route::Grab, peer, headers, Some(campaign.0), now_ms)
        .await
    {
        Ok(admitted) => admitted,
        Err(e) => return refuse(e),
    };
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let user = match crate::auth::Auth::bearer(authorization)
        .and_then(|token| state.auth.verify_user(token, now_ms / 1000))
    {
        Ok(user) => user,
        Err(e) => return refuse(AppError::Unauthorized(auth_message(e))),
    };
    if let Err(e) = defence.check_user(user.as_str(), now_ms) {
        return refuse(e);
    }
    let keys = RequestKeys {
        user: Some(user.as_str()),
        ..keys
    };
    let Some(key) = headers.get("idempotency-key") else {
        return answer(state, campaign, user, &keys, now).await;
    };
    let key = match validate_key(key.as_bytes()) {
        Ok(key) => key,
        Err(message) => return refuse(AppError::BadRequest(message)),
    };
    keyed_grab::first_decision(state, campaign, user, key, &keys, now).await
}

/// What deciding a grab came to, before it is put in a response.
pub(crate) enum Decided {
    /// The engine's outcome.
    Outcome(GrabOutcome),
    /// Refused before or by the engine (rules, overload, the journal).
    Refused(AppError),
    /// The writer did not answer in time (only when asked to keep the late outcome).
    Late {
        /// `degraded`, the answer to give now.
        answer: EngineError,
        /// What the grab comes to once the writer answers.
        outcome: LateGrab,
    },
}

/// Steps 5 to 8: the fast path, the user rules, overload admission, the writer. With
/// `keep_late`, a writer reply slower than the journal reply timeout is [`Decided::Late`]
/// (the grab stays wanted and is decided); without it, that grab is given up (`degraded`).
pub(crate) async fn decide_grab(
    state: &AppState,
    campaign: CampaignId,
    user: UserRef<'_>,
    keys: &RequestKeys<'_>,
    now: UnixMillis,
    keep_late: bool,
) -> Decided {
    if let Some(outcome) = state.engine.grab_fast_path(campaign, user.as_str()) {
        return Decided::Outcome(outcome);
    }
    let _admitted = match state.defence.admit(Stage::AfterAuth, keys, now.0).await {
        Ok(admitted) => admitted,
        Err(e) => return Decided::Refused(e),
    };
    let _write_permit = match state.defence.admit_write() {
        Ok(permit) => permit,
        Err(e) => return Decided::Refused(e),
    };
    // The one allocation of the write path's user id: the engine journals an owned one.
    let user = user.to_owned();
    if !keep_late {
        return match state.engine.grab(campaign, &user).await {
            Ok(outcome) => Decided::Outcome(outcome),
            Err(e) => Decided::Refused(AppError::from(e)),
        };
    }
    match state
        .engine
        .grab_keeping_late_outcome(campaign, &user)
        .await
    {
        GrabReply::Answered(Ok(outcome)) => Decided::Outcome(outcome),
        GrabReply::Answered(Err(e)) => Decided::Refused(AppError::from(e)),
        GrabReply::Late { answer, outcome } => Decided::Late { answer, outcome },
    }
}

async fn answer(
    state: &AppState,
    campaign: CampaignId,
    user: UserRef<'_>,
    keys: &RequestKeys<'_>,
    now: UnixMillis,
) -> (&'static str, Response) {
    match decide_grab(state, campaign, user, keys, now, false).await {
        Decided::Outcome(outcome) => outcome_response(outcome),
        Decided::Refused(e) => refuse(e),
        // Not asked for; answered as the plain grab would be, the late outcome given up.
        Decided::Late { answer, .. } => refuse(AppError::from(answer)),
    }
}

/// The response to an engine outcome, with its metric code.
pub(crate) fn outcome_response(outcome: GrabOutcome) -> (&'static str, Response) {
    let code = outcome.code();
    let response = match outcome {
        GrabOutcome::Won(ticket) | GrabOutcome::AlreadyWon(ticket) => respond(
            StatusCode::OK,
            &GrabJson {
                outcome: code,
                order_id: ticket.order_id.to_string(),
                amount_cents: ticket.amount_cents.0,
            },
        ),
        GrabOutcome::SoldOut => AppError::SoldOut.into_response(),
        GrabOutcome::NotStarted => AppError::NotStarted.into_response(),
        GrabOutcome::Ended => AppError::Ended.into_response(),
        GrabOutcome::CampaignNotFound => {
            AppError::NotFound("campaign_not_found", "no such campaign").into_response()
        }
    };
    (code, response)
}

pub(crate) fn refuse(error: AppError) -> (&'static str, Response) {
    (error.code(), error.into_response())
}

/// The 401 message for each token problem.
pub fn auth_message(e: crate::auth::AuthError) -> &'static str {
    use crate::auth::AuthError::*;
    match e {
        Missing => "missing bearer token",
        Malformed => "malformed token",
        BadUserId => "token user id is invalid",
        Expired => "token expired",
        ExpiryTooFar => "token expiry too far ahead (longer than max_token_ttl_secs)",
        Forged => "token signature invalid",
        NotAdmin => "admin key required",
    }
}
