//! The human message of each error (the `message` of its JSON body).

use super::AppError;

impl AppError {
    /// The message: what went wrong, for a person reading the answer.
    pub(super) fn message(&self) -> String {
        match self {
            AppError::BadRequest(m) | AppError::Unavailable(m) => m.clone(),
            AppError::Unauthorized(m) => (*m).to_owned(),
            AppError::NotFound(_, m) | AppError::Conflict(_, m) => (*m).to_owned(),
            AppError::MethodNotAllowed => "method not allowed on this path".into(),
            AppError::NotStarted => "the campaign has not started yet".into(),
            AppError::Ended => "the campaign has ended".into(),
            AppError::IdempotencyKeyInUse => {
                "a request with this Idempotency-Key is still being processed".into()
            }
            AppError::InvalidTransition(t) => format!(
                "an order in state {} cannot move to {}",
                t.from.code(),
                t.to.code()
            ),
            AppError::ClaimInProgress => {
                "another claim of this red packet is waiting for its payout; retry shortly".into()
            }
            AppError::PayoutDeclined(why) => format!("the payout was declined: {why}"),
            AppError::AmountMismatch {
                expected_cents,
                got_cents,
            } => format!(
                "amount_cents {got_cents} differs from the order's {expected_cents}; nothing changed"
            ),
            AppError::SoldOut => "sold out".into(),
            AppError::PayloadTooLarge => "request body too large".into(),
            AppError::RequestTimeout => "the request body did not arrive in time".into(),
            AppError::UnsupportedMediaType => "expected Content-Type: application/json".into(),
            AppError::Overloaded => "server busy, try again shortly".into(),
            AppError::ChannelUnavailable { retry_after_secs } => {
                format!("the payment channel is unavailable; retry in {retry_after_secs} s")
            }
            AppError::Degraded { retry_after_secs } => format!(
                "storage is degraded; the outcome is unknown, retry in {retry_after_secs} s"
            ),
            AppError::Blocked { reason, until_ms } => match until_ms {
                Some(until) => format!(
                    "blocked until {}: {reason}",
                    crate::timefmt::format_rfc3339(stampede_core::UnixMillis(*until))
                ),
                None => format!("blocked: {reason}"),
            },
            AppError::SwitchedOff(feature) => {
                format!("{feature} is switched off for now; please try again later")
            }
            AppError::QueueTimeout { .. } => "waited too long in the queue; try again".into(),
            AppError::RuleLimited {
                retry_after_secs, ..
            } => {
                format!("too many requests, retry in {retry_after_secs} s")
            }
            AppError::ShadowFull(full) => {
                format!("{full}: end a rehearsal with DELETE /v1/admin/shadow/campaigns/{{id}}")
            }
        }
    }
}
