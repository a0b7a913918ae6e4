//! `POST /v1/campaigns/{id}/grab`: the heart of the system.
//!
//! Order of checks, cheapest and most decisive first:
//! 1. the `grab` degrade switch → 503 `degraded`;
//! 2. the client address (peer, or X-Forwarded-For from a trusted proxy) against the
//!    blocklist → 403 `blocked`, then the rules known before authentication (global, route,
//!    ip, campaign) → 429/503 — a flood is refused before any HMAC is computed;
//! 3. the token (HMAC, no allocation) → 401, then the user against the blocklist → 403;
//!    a shadow token's grab is then decided against the campaign's shadow copy
//!    ([`crate::handlers::shadow`]) and goes no further here;
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
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_admission::rules::{RequestKeys, Route, Stage};
use stampede_admission::switches::Switch;
use stampede_core::{CampaignId, GrabKey, GrabOutcome, UnixMillis, UserRef};
use stampede_engine::{EngineError, GrabReply, LateGrab, stopwatch};

use crate::auth::Traffic;
use crate::dto::GrabJson;
use crate::error::AppError;
use crate::handlers::path::{CampaignIdPath, Peer};
use crate::handlers::{keyed_grab, shadow};
use crate::json::respond;
use crate::state::AppState;

/// The grab's request headers, the only ones it reads: borrowed from axum's `HeaderMap`
/// or from the raw request ([`crate::lane`]), never copied.
#[derive(Clone, Copy, Debug)]
pub struct GrabHeaders<'a> {
    /// `Authorization`.
    pub authorization: Option<&'a [u8]>,
    /// `Idempotency-Key`.
    pub idempotency_key: Option<&'a [u8]>,
    /// Every `X-Forwarded-For` line, in order.
    pub forwarded_for: ForwardedFor<'a>,
}

/// Where the `X-Forwarded-For` lines are.
#[derive(Clone, Copy, Debug)]
pub enum ForwardedFor<'a> {
    /// In a `HeaderMap`.
    Map(&'a HeaderMap),
    /// Already picked out.
    Lines(&'a [&'a [u8]]),
}

impl<'a> GrabHeaders<'a> {
    /// The headers a grab reads, from a `HeaderMap`.
    pub fn from_map(headers: &'a HeaderMap) -> Self {
        Self {
            authorization: headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()),
            idempotency_key: headers.get("idempotency-key").map(|v| v.as_bytes()),
            forwarded_for: ForwardedFor::Map(headers),
        }
    }

    fn client_ip(&self, state: &AppState, peer: Option<SocketAddr>) -> Option<std::net::IpAddr> {
        match self.forwarded_for {
            ForwardedFor::Map(headers) => state.defence.client_ip(peer, headers),
            ForwardedFor::Lines(lines) => state
                .defence
                .client_ip_from(peer, lines.iter().map(|line| &line[..])),
        }
    }
}

/// A grab's answer before it is put on the wire: the outcomes and refusals a stampede
/// produces by the hundred thousand stay values (the raw path writes their pre-serialised
/// bytes), the rest is an axum response already.
#[derive(Debug)]
pub enum GrabAnswer {
    /// The engine's outcome.
    Outcome(GrabOutcome),
    /// Refused before or by the engine.
    Refused(AppError),
    /// A keyed grab's answer (stored or replayed).
    Ready(Response),
}

impl GrabAnswer {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            GrabAnswer::Outcome(outcome) => {
                outcome_error(outcome).map_or(StatusCode::OK, |e| e.status())
            }
            GrabAnswer::Refused(e) => e.status(),
            GrabAnswer::Ready(response) => response.status(),
        }
    }
}

impl IntoResponse for GrabAnswer {
    fn into_response(self) -> Response {
        match self {
            GrabAnswer::Outcome(outcome) => outcome_response(outcome).1,
            GrabAnswer::Refused(e) => e.into_response(),
            GrabAnswer::Ready(response) => response,
        }
    }
}

/// The handler. It takes the whole request (the body, empty for a grab, is never read) rather
/// than the `HeaderMap` extractor, which clones every header on every request. Grabs that
/// come over a plain connection are answered by [`crate::lane`] instead, before the router,
/// through the same [`answer_grab`].
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
    let headers = GrabHeaders::from_map(request.headers());
    let now = state.now();
    let (code, answer) = answer_grab(&state, campaign, headers, peer, now).await;
    record(&state, code, answer.status(), started.elapsed());
    answer.into_response()
}

/// What an answered grab is counted as: its code, in the real or the shadow family. A grab
/// refused before its token is read (switch, blocklist, rules, a bad token) counts as real:
/// nothing told it apart yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// The answer's code (an outcome or an error code).
    pub code: &'static str,
    /// Whose traffic it was.
    pub traffic: Traffic,
}

impl Counted {
    /// A real grab's answer.
    pub const fn real(code: &'static str) -> Self {
        Self {
            code,
            traffic: Traffic::Real,
        }
    }
}

/// Counts an answered grab (by code, latency) and samples it into the access log.
pub fn record(state: &AppState, counted: Counted, status: StatusCode, took: Duration) {
    state.grab_metrics.count(counted.traffic, counted.code);
    (state.grab_metrics).record_latency(counted.traffic, took.as_secs_f64());
    state
        .access_log
        .record("POST", "/v1/campaigns/{id}/grab", status.as_u16(), took);
}

/// Decides one grab at `now`, the engine clock's reading on arrival: every check (blocklist,
/// token expiry, ban windows, the idempotency entry's age and its TTL) uses it. A wait in a
/// concurrency rule's queue is bounded by its maximum wait, so `now` stays close enough.
pub async fn answer_grab(
    state: &Arc<AppState>,
    campaign: CampaignId,
    headers: GrabHeaders<'_>,
    peer: Option<SocketAddr>,
    now: UnixMillis,
) -> (Counted, GrabAnswer) {
    let defence = &state.defence;
    let now_ms = now.0;
    if let Err(e) = defence.require_on(Switch::Grab) {
        return refused(e);
    }
    // `_admitted` is held to the end of the request: concurrency rules count it until then.
    let ip = headers.client_ip(state, peer);
    let (keys, _admitted) = match defence
        .front_door_at(Route::Grab, ip, Some(campaign.0), now_ms)
        .await
    {
        Ok(admitted) => admitted,
        Err(e) => return refused(e),
    };
    let (user, traffic) = match crate::auth::Auth::bearer(headers.authorization)
        .and_then(|token| state.auth.verify_token(token, now_ms / 1000))
    {
        Ok(checked) => checked,
        Err(e) => return refused(AppError::Unauthorized(auth_message(e))),
    };
    if let Err(e) = defence.check_user(user.as_str(), now_ms) {
        let (code, answer) = refused(e);
        return (Counted { traffic, ..code }, answer);
    }
    if traffic == Traffic::Shadow {
        return shadow::answer_grab(state, campaign, user, headers.idempotency_key, now);
    }
    let keys = RequestKeys {
        user: Some(user.as_str()),
        ..keys
    };
    let Some(key) = headers.idempotency_key else {
        return answer(state, campaign, user, &keys, now).await;
    };
    let key = match GrabKey::from_bytes(key) {
        Ok(key) => key,
        Err(e) => return refused(AppError::BadRequest(e.to_string())),
    };
    let shards = &state.shards;
    let (code, response) = match state.cluster.get() {
        Some(cluster) if !shards.for_campaign(campaign).engine.is_writer() => {
            let shard = stampede_core::shard_index(campaign, shards.count());
            keyed_grab::forwarded(cluster.as_ref(), shard, campaign, user, key).await
        }
        _ => keyed_grab::first_decision(state, campaign, user, key, &keys, now).await,
    };
    (Counted::real(code), GrabAnswer::Ready(response))
}

fn refused(error: AppError) -> (Counted, GrabAnswer) {
    (Counted::real(error.code()), GrabAnswer::Refused(error))
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

/// Steps 5 to 8: the fast path, the user rules, overload admission, the writer. With a
/// `key` (a keyed grab's first decision), the fast path does not hide the key's own earlier
/// win ([`stampede_engine::Engine::keyed_grab_fast_path`]), the writer journals a win with
/// the key, and a writer reply slower than the journal reply timeout is [`Decided::Late`]
/// (the grab stays wanted and is decided); without one, that grab is given up (`degraded`).
pub(crate) async fn decide_grab(
    state: &AppState,
    campaign: CampaignId,
    user: UserRef<'_>,
    keys: &RequestKeys<'_>,
    now: UnixMillis,
    key: Option<&GrabKey>,
) -> Decided {
    let services = state.shards.for_campaign(campaign);
    let engine = &services.engine;
    let fast = match key {
        None => engine.grab_fast_path(campaign, user.as_str()).map(Ok),
        Some(key) => {
            engine
                .keyed_grab_fast_path(campaign, user.as_str(), key.as_str())
                .await
        }
    };
    match fast {
        Some(Ok(outcome)) => return Decided::Outcome(outcome),
        Some(Err(e)) => return Decided::Refused(AppError::from(e)),
        None => {}
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
    let Some(key) = key else {
        return match engine.grab(campaign, &user).await {
            Ok(outcome) => Decided::Outcome(outcome),
            Err(e) => Decided::Refused(AppError::from(e)),
        };
    };
    match engine.grab_keeping_late_outcome(campaign, &user, key).await {
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
) -> (Counted, GrabAnswer) {
    match decide_grab(state, campaign, user, keys, now, None).await {
        Decided::Outcome(outcome) => (Counted::real(outcome.code()), GrabAnswer::Outcome(outcome)),
        Decided::Refused(e) => refused(e),
        // Not asked for; answered as the plain grab would be, the late outcome given up.
        Decided::Late { answer, .. } => refused(AppError::from(answer)),
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
        GrabOutcome::SoldOut
        | GrabOutcome::NotStarted
        | GrabOutcome::Ended
        | GrabOutcome::CampaignNotFound => outcome_error(&outcome)
            .expect("a refusal outcome is an error")
            .into_response(),
    };
    (code, response)
}

/// The error an outcome is answered with (`None` for a win).
pub fn outcome_error(outcome: &GrabOutcome) -> Option<AppError> {
    match outcome {
        GrabOutcome::Won(_) | GrabOutcome::AlreadyWon(_) => None,
        GrabOutcome::SoldOut => Some(AppError::SoldOut),
        GrabOutcome::NotStarted => Some(AppError::NotStarted),
        GrabOutcome::Ended => Some(AppError::Ended),
        GrabOutcome::CampaignNotFound => Some(AppError::CAMPAIGN_NOT_FOUND),
    }
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
        ShadowOnly => "a shadow token is accepted on grabs only (a rehearsal never touches orders)",
    }
}
