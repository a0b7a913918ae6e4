//! One error type for HTTP, mapped once at the edge (STYLE §11). Every error answers
//! `{"error":{"code":"…","message":"…"}}` with a stable code; nothing answers 500.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything a request can be refused for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// 400: the message names the field.
    BadRequest(String),
    /// 401: missing, malformed, expired or forged credential.
    Unauthorized(&'static str),
    /// 404 with a specific code (`campaign_not_found`, `order_not_found`, `not_found`).
    NotFound(&'static str, &'static str),
    /// 405.
    MethodNotAllowed,
    /// 409 `not_started`.
    NotStarted,
    /// 409 `ended`.
    Ended,
    /// 409 `idempotency_key_in_use`: the same key is being processed right now.
    IdempotencyKeyInUse,
    /// 409 `invalid_transition`: the order cannot move to the requested state (e.g. it is
    /// already closed); nothing changed.
    InvalidTransition(stampede_core::InvalidTransition),
    /// 409 `claim_in_progress`: another claim of this red packet is still waiting for its
    /// payout; retry to learn its result.
    ClaimInProgress,
    /// 502 `payout_declined`: the payment provider declined the payout; nothing was paid and
    /// the packet can be claimed again.
    PayoutDeclined(String),
    /// 409 `amount_mismatch`: a payment callback's amount differs from the order's; nothing
    /// changed.
    AmountMismatch {
        /// The order's amount.
        expected_cents: u64,
        /// The callback's amount.
        got_cents: u64,
    },
    /// 409 with a specific code (`txn_conflict`, `too_many_payments`) and message; nothing
    /// changed.
    Conflict(&'static str, &'static str),
    /// 503 `channel_unavailable` with `Retry-After`: the payment channel (or every channel)
    /// is out of rotation or failed; the order is `paying` and may be paid again.
    ChannelUnavailable {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// 410 `sold_out`.
    SoldOut,
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 408 `request_timeout` with `Connection: close`: the request body did not arrive in time.
    RequestTimeout,
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType,
    /// 503 `overloaded`: shed at once.
    Overloaded,
    /// 503 `degraded` with `Retry-After`: the journal's circuit breaker is open or the journal
    /// did not answer in time. The outcome is unknown and a retry is safe.
    Degraded {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// 403 `blocked`: on the blocklist (manually or by an automatic ban).
    Blocked {
        /// Why.
        reason: String,
        /// Until when (Unix ms), if it lapses.
        until_ms: Option<u64>,
    },
    /// 503 `degraded`: a degrade switch turned this feature off (preset message).
    SwitchedOff(&'static str),
    /// 503 `queue_timeout`: waited in a concurrency rule's queue for its maximum wait.
    QueueTimeout {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// 429 (or 503, per the rule's action) `rate_limited` from a configured rule.
    RuleLimited {
        /// Answered 503 (the rule's action asks for it, as nginx's `limit_req_status 503`)
        /// rather than 429.
        unavailable: bool,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// 503 `unavailable`: storage failed or the engine is shutting down.
    Unavailable(String),
    /// 503 `shadow_full`: a shadow grab found the shadow copies at one of their bounds
    /// ([`stampede_engine::ShadowFull`]); nothing changed.
    ShadowFull(stampede_engine::ShadowFull),
}

impl From<stampede_engine::EngineError> for AppError {
    /// Every engine failure (all operating ones: overloaded, degraded, unavailable).
    fn from(e: stampede_engine::EngineError) -> Self {
        use stampede_engine::EngineError;
        match e {
            EngineError::Overloaded => AppError::Overloaded,
            EngineError::Degraded { retry_after } => AppError::Degraded {
                retry_after_secs: stampede_admission::retry_after_secs(retry_after),
            },
            EngineError::Unavailable(why) => AppError::Unavailable(why),
        }
    }
}

/// Every error's body: `{"error":{"code":"…","message":"…"}}` (the `ErrorBody` schema of the
/// API document; each response narrows `code` to the codes it can carry).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub(crate) struct ErrorJson<'a> {
    error: ErrorInner<'a>,
}

/// The error itself.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(crate) struct ErrorInner<'a> {
    /// The stable code (the README's "Error codes").
    code: &'a str,
    /// What went wrong, for a person; not stable.
    message: &'a str,
}

/// Pre-serialised bodies for the answers a stampede produces by the hundred thousand (a test
/// checks each against the serialised message).
const SOLD_OUT_BODY: &str = r#"{"error":{"code":"sold_out","message":"sold out"}}"#;
const OVERLOADED_BODY: &str =
    r#"{"error":{"code":"overloaded","message":"server busy, try again shortly"}}"#;
const NOT_STARTED_BODY: &str =
    r#"{"error":{"code":"not_started","message":"the campaign has not started yet"}}"#;
const ENDED_BODY: &str = r#"{"error":{"code":"ended","message":"the campaign has ended"}}"#;
const CAMPAIGN_NOT_FOUND_BODY: &str =
    r#"{"error":{"code":"campaign_not_found","message":"no such campaign"}}"#;

impl AppError {
    /// 404 `campaign_not_found`.
    pub const CAMPAIGN_NOT_FOUND: AppError =
        AppError::NotFound("campaign_not_found", "no such campaign");

    /// One value of every variant, so what is true of each variant (its code, whether the grab
    /// answers it) can be listed without a hand-kept list of strings. A test checks that no
    /// variant is missing. The variants that carry their code (`NotFound`, `Conflict`) hold a
    /// real one, so every code here is one the API answers (the API document's test holds
    /// each against the document).
    pub const EVERY: &'static [AppError] = &[
        AppError::BadRequest(String::new()),
        AppError::Unauthorized(""),
        AppError::NotFound("not_found", ""),
        AppError::MethodNotAllowed,
        AppError::NotStarted,
        AppError::Ended,
        AppError::IdempotencyKeyInUse,
        AppError::InvalidTransition(stampede_core::InvalidTransition {
            from: stampede_core::OrderState::Paid,
            to: stampede_core::OrderState::Paid,
        }),
        AppError::ClaimInProgress,
        AppError::PayoutDeclined(String::new()),
        AppError::AmountMismatch {
            expected_cents: 0,
            got_cents: 0,
        },
        AppError::Conflict("txn_conflict", ""),
        AppError::ChannelUnavailable {
            retry_after_secs: 1,
        },
        AppError::SoldOut,
        AppError::PayloadTooLarge,
        AppError::RequestTimeout,
        AppError::UnsupportedMediaType,
        AppError::Overloaded,
        AppError::Degraded {
            retry_after_secs: 1,
        },
        AppError::Blocked {
            reason: String::new(),
            until_ms: None,
        },
        AppError::SwitchedOff(""),
        AppError::QueueTimeout {
            retry_after_secs: 1,
        },
        AppError::RuleLimited {
            unavailable: false,
            retry_after_secs: 1,
        },
        AppError::Unavailable(String::new()),
        AppError::ShadowFull(stampede_engine::ShadowFull::Orders),
    ];

    /// Whether `POST /v1/campaigns/{id}/grab` can answer this error (through its switch,
    /// defences, token check, idempotency, fast path or the writer): the grab's metric counts
    /// it by [`AppError::code`]. Every variant is named, so a new one must be decided here.
    /// `NotFound` is answered only as `campaign_not_found`, counted by the grab outcome's code.
    pub fn answered_by_grab(&self) -> bool {
        match self {
            AppError::SwitchedOff(_)
            | AppError::Blocked { .. }
            | AppError::RuleLimited { .. }
            | AppError::QueueTimeout { .. }
            | AppError::Unauthorized(_)
            | AppError::BadRequest(_)
            | AppError::IdempotencyKeyInUse
            | AppError::SoldOut
            | AppError::NotStarted
            | AppError::Ended
            | AppError::Overloaded
            | AppError::Degraded { .. }
            | AppError::Unavailable(_)
            | AppError::ShadowFull(_) => true,
            AppError::NotFound(..)
            | AppError::MethodNotAllowed
            | AppError::InvalidTransition(_)
            | AppError::ClaimInProgress
            | AppError::PayoutDeclined(_)
            | AppError::AmountMismatch { .. }
            | AppError::Conflict(..)
            | AppError::ChannelUnavailable { .. }
            | AppError::PayloadTooLarge
            | AppError::RequestTimeout
            | AppError::UnsupportedMediaType => false,
        }
    }
}

impl AppError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::NotFound(..) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::NotStarted
            | AppError::Ended
            | AppError::IdempotencyKeyInUse
            | AppError::InvalidTransition(_)
            | AppError::ClaimInProgress
            | AppError::AmountMismatch { .. }
            | AppError::Conflict(..) => StatusCode::CONFLICT,
            AppError::PayoutDeclined(_) => StatusCode::BAD_GATEWAY,
            AppError::SoldOut => StatusCode::GONE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Degraded { .. } | AppError::ChannelUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Overloaded
            | AppError::Unavailable(_)
            | AppError::SwitchedOff(_)
            | AppError::QueueTimeout { .. }
            | AppError::ShadowFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Blocked { .. } => StatusCode::FORBIDDEN,
            AppError::RuleLimited {
                unavailable: true, ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RuleLimited {
                unavailable: false, ..
            } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::NotFound(code, _) => code,
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::NotStarted => "not_started",
            AppError::Ended => "ended",
            AppError::IdempotencyKeyInUse => "idempotency_key_in_use",
            AppError::InvalidTransition(_) => "invalid_transition",
            AppError::ClaimInProgress => "claim_in_progress",
            AppError::AmountMismatch { .. } => "amount_mismatch",
            AppError::Conflict(code, _) => code,
            AppError::PayoutDeclined(_) => "payout_declined",
            AppError::SoldOut => "sold_out",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::RequestTimeout => "request_timeout",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::Overloaded => "overloaded",
            AppError::Degraded { .. } => "degraded",
            AppError::ChannelUnavailable { .. } => "channel_unavailable",
            AppError::Blocked { .. } => "blocked",
            AppError::SwitchedOff(_) => "degraded",
            AppError::QueueTimeout { .. } => "queue_timeout",
            AppError::RuleLimited { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
            AppError::ShadowFull(_) => "shadow_full",
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Body {
        match self.static_body() {
            Some(body) => Body::from(body),
            None => Body::from(self.serialized_body()),
        }
    }

    /// The JSON body when it never changes (the refusals of a stampede), without allocating.
    pub fn static_body(&self) -> Option<&'static str> {
        match self {
            AppError::SoldOut => Some(SOLD_OUT_BODY),
            AppError::Overloaded => Some(OVERLOADED_BODY),
            AppError::NotStarted => Some(NOT_STARTED_BODY),
            AppError::Ended => Some(ENDED_BODY),
            e if *e == AppError::CAMPAIGN_NOT_FOUND => Some(CAMPAIGN_NOT_FOUND_BODY),
            _ => None,
        }
    }

    /// The JSON body, serialised from the code and the message.
    pub fn serialized_body(&self) -> Vec<u8> {
        let message = self.message();
        serde_json::to_vec(&ErrorJson {
            error: ErrorInner {
                code: self.code(),
                message: &message,
            },
        })
        .expect("error bodies serialise")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = Response::new(self.body());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            AppError::RuleLimited {
                retry_after_secs, ..
            }
            | AppError::QueueTimeout { retry_after_secs }
            | AppError::Degraded { retry_after_secs }
            | AppError::ChannelUnavailable { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            AppError::SwitchedOff(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(5u64));
            }
            // The rest of the body may still come: the connection cannot carry another request.
            AppError::RequestTimeout => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

mod message;

#[cfg(test)]
mod tests;
