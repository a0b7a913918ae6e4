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
use stampede_core::{Cents, Order, OrderId, OrderOutcome, Payment, PaymentKind, PaymentOutcome};

use crate::dto::OrderJson;
use crate::error::AppError;
use crate::handlers::orders::admit;
use crate::handlers::path::{OrderIdPath, PathParams, Peer};
use crate::json::{JsonBody, RawBody, parse, respond};
use crate::payment_desk::DeskError;
use crate::signer::Signer;
use crate::state::AppState;
use crate::timefmt::parse_rfc3339;
use stampede_core::validate_channel;

/// The header carrying a callback's signature.
pub const SIGNATURE_HEADER: &str = "x-signature";

const NOT_FOUND: AppError = AppError::NotFound("order_not_found", "no such order");
const CHANNEL_NOT_FOUND: AppError =
    AppError::NotFound("channel_not_found", "no such payment channel");

/// `POST /v1/orders/{id}/pay` body: a channel by name, or none to let the router choose.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    #[serde(default)]
    channel: Option<String>,
}

/// What the client needs to pay on the channel.
#[derive(Debug, Serialize)]
struct PaymentJson {
    channel: String,
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

/// Starts a payment of the caller's order: `pending_payment` → `paying` on the chosen channel
/// (durable before the channel is called), then the channel's `pay`; 200 with the order and
/// what the client needs to pay. `channel` names one; without it the router picks among the
/// healthy channels by weight. Asking again answers the same (a new channel is added to the
/// order's channels). Another user's order 404; an unknown channel 404 `channel_not_found`;
/// the channel (or every channel) out of rotation, or its `pay` failing, 503
/// `channel_unavailable` with Retry-After; an order that cannot be paid (closed, past its
/// deadline, a red packet) 409 `invalid_transition`. A `paying` order keeps its item and still
/// expires at its deadline; a payment after that is refunded.
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
    if let Some(name) = &request.channel {
        validate_channel(name).map_err(|e| AppError::BadRequest(format!("channel: {e}")))?;
    }
    // An unknown channel answers `channel_not_found` from the router.
    let routed = state
        .payments
        .route(request.channel.as_deref())
        .map_err(desk_error)?;
    let channel = routed.name().to_owned();
    let order = match state.engine.start_payment(id, user, &channel).await {
        Ok(OrderOutcome::Moved(order)) => order,
        other => {
            // The channel was not called: its health learns nothing.
            routed.release();
            return match other? {
                OrderOutcome::NotFound => Err(NOT_FOUND),
                OrderOutcome::InvalidTransition(invalid) => {
                    Err(AppError::InvalidTransition(invalid))
                }
                OrderOutcome::Moved(_) => unreachable!("matched above"),
            };
        }
    };
    let instructions = state
        .payments
        .pay(routed, id, order.amount_cents)
        .await
        .map_err(desk_error)?;
    Ok(respond(
        StatusCode::OK,
        &PayJson {
            payment: PaymentJson {
                channel: instructions.channel,
                pay_url: instructions.pay_url,
                amount_cents: instructions.amount_cents.0,
            },
            order: OrderJson::from(&order),
        },
    ))
}

fn desk_error(e: DeskError) -> AppError {
    match e {
        DeskError::UnknownChannel => CHANNEL_NOT_FOUND,
        DeskError::NoChannel { retry_after } => AppError::ChannelUnavailable {
            retry_after_secs: retry_after.as_secs().max(1),
        },
        DeskError::Channel(error) => {
            tracing::warn!(%error, "payment channel call failed");
            AppError::ChannelUnavailable {
                retry_after_secs: 1,
            }
        }
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
/// changes); unknown order 404; an order that cannot be paid 409 `invalid_transition`; a
/// channel segment that does not decode 400, a body over [`crate::json::MAX_BODY_BYTES`] 413.
/// Otherwise 200 with the `paid` order, durable first; the same (channel, txn_id) again
/// answers the same 200 with no second effect.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    PathParams(channel): PathParams<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    if !state.payments.has_channel(&channel) {
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
    let payment = Payment {
        channel,
        txn_id: request.txn_id,
        amount_cents: Cents(request.amount_cents),
        paid_at,
    };
    payment
        .validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let Recorded { kind, order, .. } = record(&state, order_id, payment).await?;
    let payments = state
        .engine
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
#[derive(Debug, Serialize)]
struct CallbackJson {
    /// `paid`, `late_payment` or `duplicate_payment` (the same on a channel's retry).
    recorded: &'static str,
    #[serde(flatten)]
    order: OrderJson,
}

/// What recording a payment came to.
#[derive(Debug)]
pub struct Recorded {
    /// Settled, late or duplicate.
    pub kind: PaymentKind,
    /// The order after.
    pub order: Order,
    /// Recorded now (`false`: a retry of a recorded transaction).
    pub new: bool,
}

/// Records a verified payment of `order_id` (from an HTTP callback or a channel's in-process
/// delivery or query), counting and logging what it came to. A late or duplicate payment is
/// recorded and its refund opened; the refund job pays it back.
pub async fn record(
    state: &AppState,
    order_id: OrderId,
    payment: Payment,
) -> Result<Recorded, AppError> {
    let channel = payment.channel.clone();
    let got_cents = payment.amount_cents.0;
    let outcome = state.engine.record_payment(order_id, payment).await?;
    state.payments.metrics().callback(&channel, outcome.code());
    match outcome {
        PaymentOutcome::Recorded { order, kind } => {
            if kind != PaymentKind::Settled {
                // The writer wakes the refund job once this record is durable.
                tracing::warn!(%order_id, %channel, kind = kind.code(), "payment did not pay its order; refund opened");
            }
            Ok(Recorded {
                kind,
                order,
                new: true,
            })
        }
        PaymentOutcome::AlreadyRecorded { order, kind } => Ok(Recorded {
            kind,
            order,
            new: false,
        }),
        PaymentOutcome::NotFound => Err(NOT_FOUND),
        PaymentOutcome::AmountMismatch { expected } => {
            state.payments.metrics().amount_mismatch(&channel);
            tracing::warn!(
                %order_id,
                %channel,
                expected_cents = expected.0,
                got_cents,
                "payment amount differs from the order; rejected"
            );
            Err(AppError::AmountMismatch {
                expected_cents: expected.0,
                got_cents,
            })
        }
        PaymentOutcome::InvalidTransition(invalid) => Err(AppError::InvalidTransition(invalid)),
        PaymentOutcome::TxnConflict => Err(AppError::Conflict(
            "txn_conflict",
            "this txn_id was recorded for another order; nothing changed",
        )),
        PaymentOutcome::InvalidPayment(invalid) => {
            tracing::warn!(%order_id, %channel, %invalid, "payment with a bad channel or txn_id; not recorded");
            Err(AppError::BadRequest(invalid.to_string()))
        }
        PaymentOutcome::TooManyPayments => {
            tracing::error!(%order_id, %channel, "too many extra payments for one order; not recorded");
            Err(AppError::Conflict(
                "too_many_payments",
                "this order already has the most late or duplicate payments recorded",
            ))
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
