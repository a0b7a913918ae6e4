//! A grab under an `Idempotency-Key`: its first decision is kept whether or not its client is
//! still connected.
//!
//! The key's first request is decided on a task of its own, not in the request's future: a
//! client that resets its connection drops the request future, and with it anything the
//! future owns. Were the key's placeholder and the writer's reply receiver owned there, the
//! key would be forgotten while the writer goes on to decide (or has decided) the grab, and
//! the client's retry with the same key would make a second order. The task owns both: the
//! request future only waits for the task's first answer.
//!
//! What the task stores for the key:
//! - a decided answer (won, already won, sold out, not started, ended, no such campaign, a
//!   4xx refusal): stored and answered;
//! - a transient refusal (429, 503) made before the writer decided anything: answered, not
//!   stored, the key freed (a retry is decided afresh);
//! - a writer slower than the journal reply timeout: `degraded` is answered at once, as for
//!   any grab, but the task keeps waiting for the writer (which therefore decides the grab
//!   rather than skipping it) and stores what it came to; a retry meanwhile waits up to
//!   [`crate::idempotency::KEY_IN_USE_WAIT`], then gets 409 `idempotency_key_in_use` until
//!   the answer is stored. If the writer fails instead (journal failure, shutdown), nothing
//!   was acknowledged and the key is freed.

use std::sync::Arc;

use axum::response::Response;
use stampede_admission::rules::RequestKeys;
use stampede_core::{CampaignId, GrabKey, UnixMillis, UserRef};
use tokio::sync::oneshot;

use crate::error::AppError;
use crate::handlers::grab::{Decided, decide_grab, outcome_response, refuse};
use crate::idempotency::{Begin, Pending, Scope, Stored};
use crate::metrics::IDEMPOTENT_REPLAY;
use crate::state::AppState;

/// A keyed grab forwarded by another node of the cluster to this one, the leader of the
/// campaign's shard: decided (or replayed) against this node's key store as if its client
/// had sent it here; the other node already ran the defences in front of the writer.
pub async fn as_leader(
    state: &Arc<AppState>,
    campaign: CampaignId,
    user: &stampede_core::UserId,
    key: &str,
    now: UnixMillis,
) -> crate::cluster::KeyedAnswer {
    let keys = RequestKeys {
        route: stampede_admission::rules::Route::Grab,
        ip: None,
        user: Some(user.as_str()),
        campaign: Some(campaign.0),
    };
    let (code, response) = match GrabKey::parse(key) {
        // Checked by the node that read it; again here, as it is journaled with a win.
        Ok(key) => first_decision(state, campaign, user.as_ref(), key, &keys, now).await,
        Err(e) => refuse(AppError::BadRequest(e.to_string())),
    };
    let (parts, body) = response.into_parts();
    // Our responses are small in-memory bodies: reading one cannot fail or exceed the limit.
    let body = axum::body::to_bytes(body, crate::json::MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    crate::cluster::KeyedAnswer {
        code: code.to_owned(),
        status: parts.status.as_u16(),
        body: body.to_vec(),
    }
}

/// A keyed grab on a node that does not write the campaign's shard: the shard's leader
/// decides it ([`as_leader`] there), so a retry through any node finds the key's first
/// decision in the same place.
pub(crate) async fn forwarded(
    cluster: &dyn crate::cluster::ClusterStatus,
    shard: u32,
    campaign: CampaignId,
    user: UserRef<'_>,
    key: GrabKey,
) -> (&'static str, Response) {
    let answer = cluster
        .forward_keyed_grab(shard, campaign, user.to_owned(), key.into())
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(why) => return refuse(AppError::Unavailable(why)),
    };
    let code = crate::metrics::grab_codes()
        .into_iter()
        .find(|known| *known == answer.code)
        .unwrap_or(AppError::Unavailable(String::new()).code());
    let status = axum::http::StatusCode::from_u16(answer.status)
        .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
    let response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        answer.body,
    );
    (code, axum::response::IntoResponse::into_response(response))
}

/// Answers a keyed grab by `keys.user`: the key's stored answer, or the first decision, made
/// on a task that runs to its end even if this future is dropped.
pub(crate) async fn first_decision(
    state: &Arc<AppState>,
    campaign: CampaignId,
    user: UserRef<'_>,
    key: GrabKey,
    keys: &RequestKeys<'_>,
    now: UnixMillis,
) -> (&'static str, Response) {
    let Some(running) = state.idempotency.try_start() else {
        return refuse(AppError::Overloaded);
    };
    let scope: Scope = (user.to_owned(), campaign, key);
    let (route, ip, campaign_bits) = (keys.route, keys.ip, keys.campaign);
    let (first_answer, answered) = oneshot::channel();
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let _running = running;
        let keys = RequestKeys {
            route,
            ip,
            user: Some(scope.0.as_str()),
            campaign: campaign_bits,
        };
        decide_once(&state, &scope, &keys, now, first_answer).await;
    });
    answered.await.unwrap_or_else(|_| {
        refuse(AppError::Unavailable(
            "the grab stopped before it was answered".into(),
        ))
    })
}

/// The task's body: replay, 409, or decide and store (see the module's notes).
async fn decide_once(
    state: &AppState,
    scope: &Scope,
    keys: &RequestKeys<'_>,
    now: UnixMillis,
    first_answer: oneshot::Sender<(&'static str, Response)>,
) {
    // A send fails only when the client is gone; the decision is stored for its retry anyway.
    let pending = match state.idempotency.begin(scope, now).await {
        Begin::Replay(stored) => {
            let _ = first_answer.send((IDEMPOTENT_REPLAY, stored.response()));
            return;
        }
        Begin::InUse => {
            let _ = first_answer.send(refuse(AppError::IdempotencyKeyInUse));
            return;
        }
        Begin::Fresh(pending) => pending,
    };
    let (code, response) =
        match decide_grab(state, scope.1, scope.0.as_ref(), keys, now, Some(&scope.2)).await {
            Decided::Outcome(outcome) => outcome_response(outcome),
            Decided::Refused(error) => refuse(error),
            Decided::Late { answer, outcome } => {
                let _ = first_answer.send(refuse(AppError::from(answer)));
                // The writer's answer, however late: a win is answered only once durable.
                if let Ok(outcome) = outcome.outcome().await {
                    let (_, response) = outcome_response(outcome);
                    store(pending, response, now).await;
                }
                return;
            }
        };
    // Transient refusals (429/503) are not the key's first decision: nothing was decided,
    // and a retry should be decided afresh. Dropping `pending` frees the key.
    if matches!(response.status().as_u16(), 429 | 503) {
        let _ = first_answer.send((code, response));
        return;
    }
    let response = store(pending, response, now).await;
    let _ = first_answer.send((code, response));
}

/// Stores `response` as the key's answer; returns it rebuilt from the stored bytes.
async fn store(pending: Pending<'_>, response: Response, now: UnixMillis) -> Response {
    let (parts, body) = response.into_parts();
    // Our responses are small in-memory bodies: reading one cannot fail or exceed the limit.
    let bytes = axum::body::to_bytes(body, crate::json::MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    pending.finish(Stored {
        status: parts.status,
        body: bytes.clone(),
        stored_at: now,
    });
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
