//! `POST /v1/orders/{id}/pay` (the user starts a payment) and
//! `POST /v1/payments/callbacks/{channel}` (the channel reports one, signed).
//!
//! A callback's `X-Signature` is the lowercase hex HMAC-SHA256 of the raw body under the
//! channel's own secret ([`crate::channel_secrets`]), checked in constant time before the body
//! is parsed: a body signed for one channel is 401 on another. The configured channels are
//! simulated ones (see [`crate::payment_desk`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use stampede_core::{Cents, ChannelName, OrderId, Payment, PaymentOutcome};
use stampede_money::PayOutcome;
use utoipa::ToSchema;

use crate::dto::OrderJson;
use crate::error::AppError;
use crate::handlers::orders::admit;
use crate::handlers::path::{OrderIdPath, PathParams, Peer};
use crate::json::{JsonBody, RawBody, parse, respond};
use crate::signer::Signer;
use crate::state::AppState;
use crate::timefmt::parse_rfc3339;

/// The header carrying a callback's signature.
pub const SIGNATURE_HEADER: &str = "x-signature";

const NOT_FOUND: AppError = AppError::NotFound("order_not_found", "no such order");
const CHANNEL_NOT_FOUND: AppError =
    AppError::NotFound("channel_not_found", "no such payment channel");

/// `POST /v1/orders/{id}/pay` body: a channel by name, or none to let the router choose.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// A channel by name; absent or null: the router picks a healthy one by weight.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    channel: Option<String>,
}

/// What the client needs to pay on the channel.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PaymentJson {
    #[schema(value_type = String)]
    channel: ChannelName,
    pay_url: String,
    amount_cents: u64,
}

/// The order and how to pay it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PayJson {
    #[serde(flatten)]
    order: OrderJson,
    payment: PaymentJson,
}

/// Starts a payment of the caller's order: `pending_payment` → `paying` on the chosen channel
/// (durable before the channel is called), then the channel's `pay`; 200 with the order and
/// what the client needs to pay. `channel` names one; without it the router picks among the
/// healthy channels by weight. Asking again answers the same (a new channel is added to the
/// order's channels). Another user's order 404; an unknown channel 404 `channel_not_found`;
/// the channel (or every channel) out of rotation, or its `pay` failing, 503
/// `channel_unavailable` with Retry-After; an order that cannot be paid (closed, past its
/// deadline, a red packet) 409 `invalid_transition`. A `paying` order keeps its item and still
/// expires at its deadline; a payment after that is refunded.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/pay",
    operation_id = "pay_order",
    tag = "orders",
    security(("user_token" = [])),
    params(crate::handlers::path::OrderIdParam),
    request_body = PayRequest,
    responses((status = 200, description = "The order, now `paying`, and how to pay it", body = PayJson)),
)]
pub async fn pay(
    State(state): State<Arc<AppState>>,
    OrderIdPath(id): OrderIdPath,
    headers: HeaderMap,
    Peer(peer): Peer,
    JsonBody(request): JsonBody<PayRequest>,
) -> Result<Response, AppError> {
    let (caller, _permits) = admit(&state, &headers, peer).await?;
    let Some(user) = caller.user() else {
        return Err(AppError::Unauthorized("only the order's user can pay it"));
    };
    let channel = (request.channel.as_deref())
        .map(ChannelName::parse)
        .transpose()
        .map_err(|e| AppError::BadRequest(format!("channel: {e}")))?;
    let user = user.to_owned();
    let services = state.shards.for_order_caught_up(id).await?;
    match services.payments.pay(id, &user, channel.as_ref()).await? {
        PayOutcome::Started {
            order,
            instructions,
        } => Ok(respond(
            StatusCode::OK,
            &PayJson {
                payment: PaymentJson {
                    channel: instructions.channel,
                    pay_url: instructions.pay_url,
                    amount_cents: instructions.amount_cents.0,
                },
                order: OrderJson::from(&order),
            },
        )),
        PayOutcome::NotFound => Err(NOT_FOUND),
        PayOutcome::InvalidTransition(invalid) => Err(AppError::InvalidTransition(invalid)),
        PayOutcome::UnknownChannel => Err(CHANNEL_NOT_FOUND),
        PayOutcome::ChannelUnavailable { retry_after } => Err(AppError::ChannelUnavailable {
            retry_after_secs: retry_after.as_secs().max(1),
        }),
    }
}

/// A channel's callback body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallbackRequest {
    /// The order paid: `o_` and 32 lowercase hex digits.
    #[schema(pattern = "^o_[0-9a-f]{32}$")]
    order_id: String,
    /// The channel's transaction id: 1 to 128 bytes, no control characters.
    #[schema(min_length = 1, max_length = 128)]
    txn_id: String,
    /// What was paid; must equal the order's amount.
    amount_cents: u64,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    paid_at: String,
}

/// Records a channel's signed payment callback. Unknown channel 404; missing or bad signature
/// 401; malformed body 400 naming the field; an amount different from the order's 409
/// `amount_mismatch` (counted in `stampede_payment_amount_mismatch_total`, logged, nothing
/// changes); unknown order 404; an order that cannot be paid 409 `invalid_transition`; a
/// channel segment that does not decode 400, a body over [`crate::json::MAX_BODY_BYTES`] 413.
/// Otherwise 200 with the `paid` order, durable first; the same (channel, txn_id) again
/// answers the same 200 with no second effect.
#[utoipa::path(
    post,
    path = "/v1/payments/callbacks/{channel}",
    operation_id = "payment_callback",
    tag = "payments",
    params(
        ("channel" = String, Path, description = "The channel's name"),
        ("X-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256 of the raw body under the channel's own secret"),
    ),
    request_body = CallbackRequest,
    responses((status = 200, description = "The payment, recorded (durable), and the order with its payments", body = CallbackJson)),
)]
pub async fn callback(
    State(state): State<Arc<AppState>>,
    PathParams(channel): PathParams<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    // A name that breaks the rule names no configured channel.
    let channel = ChannelName::parse(&channel).map_err(|_| CHANNEL_NOT_FOUND)?;
    if !state.shards.home().payments.desk().has_channel(&channel) {
        return Err(CHANNEL_NOT_FOUND);
    }
    let signer = state
        .callback_signers
        .get(&channel)
        .ok_or(CHANNEL_NOT_FOUND)?;
    verify_signature(signer, &headers, &body)?;
    let request: CallbackRequest = parse(&body)?;
    let order_id = OrderId::parse(&request.order_id).ok_or_else(|| {
        AppError::BadRequest("order_id: must be \"o_\" followed by 32 hex digits".into())
    })?;
    let paid_at = parse_rfc3339("paid_at", &request.paid_at).map_err(AppError::BadRequest)?;
    let got_cents = request.amount_cents;
    let payment = Payment {
        channel,
        txn_id: request.txn_id,
        amount_cents: Cents(request.amount_cents),
        paid_at,
    };
    payment
        .validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let services = state.shards.for_order_caught_up(order_id).await?;
    let (kind, order) = match services.payments.record(order_id, payment).await? {
        PaymentOutcome::Recorded { order, kind }
        | PaymentOutcome::AlreadyRecorded { order, kind } => (kind, order),
        refused => return Err(refusal(refused, got_cents)),
    };
    let payments = (services.engine)
        .read_durable(|l| l.payments_of(order_id))
        .await?;
    Ok(respond(
        StatusCode::OK,
        &CallbackJson {
            recorded: kind.code(),
            order: OrderJson::from(&order).with_payments(&payments),
        },
    ))
}

/// A callback's answer: what the payment came to, and the order with its payments.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallbackJson {
    /// `paid`, `late_payment` or `duplicate_payment` (the same on a channel's retry).
    recorded: &'static str,
    #[serde(flatten)]
    order: OrderJson,
}

/// The response to a payment the ledger did not record.
fn refusal(outcome: PaymentOutcome, got_cents: u64) -> AppError {
    match outcome {
        PaymentOutcome::NotFound => NOT_FOUND,
        PaymentOutcome::AmountMismatch { expected } => AppError::AmountMismatch {
            expected_cents: expected.0,
            got_cents,
        },
        PaymentOutcome::InvalidTransition(invalid) => AppError::InvalidTransition(invalid),
        PaymentOutcome::TxnConflict => AppError::Conflict(
            "txn_conflict",
            "this txn_id was recorded for another order; nothing changed",
        ),
        PaymentOutcome::InvalidPayment(invalid) => AppError::BadRequest(invalid.to_string()),
        PaymentOutcome::TooManyPayments => AppError::Conflict(
            "too_many_payments",
            "this order already has the most late or duplicate payments recorded",
        ),
        PaymentOutcome::Recorded { .. } | PaymentOutcome::AlreadyRecorded { .. } => {
            unreachable!("recorded payments are answered 200")
        }
    }
}

/// Checks `X-Signature` (lowercase hex HMAC-SHA256 of `body` under the channel's secret) in
/// constant time, allocating nothing.
fn verify_signature(signer: &Signer, headers: &HeaderMap, body: &[u8]) -> Result<(), AppError> {
    const BAD: AppError = AppError::Unauthorized("missing or invalid X-Signature");
    let given = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(BAD)?;
    if signer.verify_hex(given, body) {
        Ok(())
    } else {
        Err(BAD)
    }
}

/// The signature a channel sends for `body` (tests and the simulator sign with it).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    Signer::new(secret).sign_hex(body)
}
