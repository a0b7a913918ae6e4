//! `POST /v1/orders/{id}/pay` (the user starts a payment) and
//! `POST /v1/payments/callbacks/{channel}` (the channel reports one, signed).
//!
//! A callback's `X-Signature` is the lowercase hex HMAC-SHA256 of the raw body under the
//! channel's secret, checked in constant time before the body is parsed. Only the simulated
//! `sim` channel exists so far.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use stampede_core::{Cents, OrderId, OrderOutcome, Payment, PaymentOutcome};

use crate::dto::OrderJson;
use crate::error::AppError;
use crate::handlers::orders::admit;
use crate::handlers::path::{OrderIdPath, Peer};
use crate::json::{JsonBody, parse, respond};
use crate::state::AppState;
use crate::timefmt::parse_rfc3339;

/// The simulated in-process channel, enabled by default.
pub const SIM_CHANNEL: &str = "sim";
/// The header carrying a callback's signature.
pub const SIGNATURE_HEADER: &str = "x-signature";

const NOT_FOUND: AppError = AppError::NotFound("order_not_found", "no such order");
const CHANNEL_NOT_FOUND: AppError =
    AppError::NotFound("channel_not_found", "no such payment channel");

/// `POST /v1/orders/{id}/pay` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    channel: String,
}

/// What the client needs to pay on the channel.
#[derive(Debug, Serialize)]
struct PaymentJson {
    channel: &'static str,
    pay_url: String,
    amount_cents: u64,
}

/// The order and how to pay it.
#[derive(Debug, Serialize)]
struct PayJson {
    #[serde(flatten)]
    order: OrderJson,
    payment: PaymentJson,
}

/// Starts a payment of the caller's order: `pending_payment` → `paying` (durable before the
/// answer), 200 with the order and what the client needs to pay. Asking again while `paying`
/// answers the same. Another user's order 404; an unknown channel 404 `channel_not_found`;
/// an order that cannot be paid (closed, past its deadline, a red packet) 409
/// `invalid_transition`. A `paying` order keeps its item and still expires at its deadline.
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
    if request.channel != SIM_CHANNEL {
        return Err(CHANNEL_NOT_FOUND);
    }
    match state.engine.start_payment(id, user).await? {
        OrderOutcome::Moved(order) => Ok(respond(
            StatusCode::OK,
            &PayJson {
                payment: PaymentJson {
                    channel: SIM_CHANNEL,
                    pay_url: format!(
                        "sim://pay?order_id={id}&amount_cents={}",
                        order.amount_cents.0
                    ),
                    amount_cents: order.amount_cents.0,
                },
                order: OrderJson::from(&order),
            },
        )),
        OrderOutcome::NotFound => Err(NOT_FOUND),
        OrderOutcome::InvalidTransition(invalid) => Err(AppError::InvalidTransition(invalid)),
    }
}

/// A channel's callback body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackRequest {
    order_id: String,
    txn_id: String,
    amount_cents: u64,
    paid_at: String,
}

/// Records a channel's signed payment callback. Unknown channel 404; missing or bad signature
/// 401; malformed body 400 naming the field; an amount different from the order's 409
/// `amount_mismatch` (counted in `stampede_payment_amount_mismatch_total`, logged, nothing
/// changes); unknown order 404; an order that cannot be paid 409 `invalid_transition`.
/// Otherwise 200 with the `paid` order, durable first; the same (channel, txn_id) again
/// answers the same 200 with no second effect.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    if channel != SIM_CHANNEL {
        return Err(CHANNEL_NOT_FOUND);
    }
    verify_signature(&state.sim_channel_secret, &headers, &body)?;
    let request: CallbackRequest = parse(&body)?;
    let order_id = OrderId::parse(&request.order_id).ok_or_else(|| {
        AppError::BadRequest("order_id: must be \"o_\" followed by 32 hex digits".into())
    })?;
    let paid_at = parse_rfc3339("paid_at", &request.paid_at).map_err(AppError::BadRequest)?;
    let payment = Payment {
        channel: SIM_CHANNEL.to_owned(),
        txn_id: request.txn_id,
        amount_cents: Cents(request.amount_cents),
        paid_at,
    };
    payment
        .validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    match state.engine.record_payment(order_id, payment).await? {
        PaymentOutcome::Paid(order) | PaymentOutcome::AlreadyRecorded(order) => {
            Ok(respond(StatusCode::OK, &OrderJson::from(&order)))
        }
        PaymentOutcome::NotFound => Err(NOT_FOUND),
        PaymentOutcome::AmountMismatch { expected } => {
            metrics::counter!("stampede_payment_amount_mismatch_total", "channel" => SIM_CHANNEL)
                .increment(1);
            tracing::warn!(
                %order_id,
                channel = SIM_CHANNEL,
                expected_cents = expected.0,
                got_cents = request.amount_cents,
                "payment callback amount differs from the order; rejected"
            );
            Err(AppError::AmountMismatch {
                expected_cents: expected.0,
                got_cents: request.amount_cents,
            })
        }
        PaymentOutcome::InvalidTransition(invalid) => Err(AppError::InvalidTransition(invalid)),
    }
}

/// Checks `X-Signature` (lowercase hex HMAC-SHA256 of `body` under `secret`) in constant time.
fn verify_signature(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<(), AppError> {
    const BAD: AppError = AppError::Unauthorized("missing or invalid X-Signature");
    let given = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .and_then(|v| hex::decode(v).ok())
        .ok_or(BAD)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| BAD)
}

/// The signature a channel sends for `body` (tests and the simulator sign with it).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
