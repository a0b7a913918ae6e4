//! What each operation can refuse with: lists of [`AppError`] values, whose status and code
//! come from `AppError` itself, so the document follows a change of either. Every operation of
//! the document must have an entry ([`super::document`] panics otherwise).

use crate::error::AppError;

/// 503 answered by the accept loop to a connection over `max_connections_per_ip`, before any
/// route (the server crate's `refusal` module writes it; its test checks the same code).
pub const CONNECTION_REFUSAL_CODE: &str = "too_many_connections";

/// Every request: the in-flight limit's `overloaded`, and the accept loop's refusal.
fn anywhere() -> Vec<AppError> {
    vec![AppError::Overloaded]
}

/// An empty path segment (`/v1/orders//cancel`) matches no route: 404 `not_found`.
fn path_segments() -> Vec<AppError> {
    vec![AppError::NotFound("not_found", "")]
}

/// Admin routes: the admin key.
fn admin() -> Vec<AppError> {
    vec![AppError::Unauthorized("")]
}

/// A JSON body (read by the body layer, then parsed).
fn json_body() -> Vec<AppError> {
    let mut errors = raw_body();
    errors.push(AppError::UnsupportedMediaType);
    errors
}

/// A body read whole before the handler runs, parsed by the handler.
fn raw_body() -> Vec<AppError> {
    vec![
        AppError::BadRequest(String::new()),
        AppError::PayloadTooLarge,
        AppError::RequestTimeout,
    ]
}

/// A write or a durable read through the engine.
fn engine() -> Vec<AppError> {
    vec![
        AppError::Overloaded,
        AppError::Degraded {
            retry_after_secs: 1,
        },
        AppError::Unavailable(String::new()),
    ]
}

/// The front door of the defended routes: blocklist by address, rules before authentication.
fn front_door() -> Vec<AppError> {
    vec![
        AppError::Blocked {
            reason: String::new(),
            until_ms: None,
        },
        AppError::RuleLimited {
            unavailable: false,
            retry_after_secs: 1,
        },
        AppError::RuleLimited {
            unavailable: true,
            retry_after_secs: 1,
        },
        AppError::QueueTimeout {
            retry_after_secs: 1,
        },
        AppError::Overloaded,
    ]
}

/// The order routes: front door, the caller (user or admin), the user's blocklist entry and
/// rules, a malformed order id, an unknown (or another user's) order.
fn order_admission() -> Vec<AppError> {
    let mut errors = front_door();
    errors.extend([
        AppError::Unauthorized(""),
        AppError::BadRequest(String::new()),
        AppError::NotFound("order_not_found", ""),
    ]);
    errors.extend(path_segments());
    errors.extend(engine());
    errors
}

const CAMPAIGN_NOT_FOUND: AppError = AppError::NotFound("campaign_not_found", "");
const CHANNEL_NOT_FOUND: AppError = AppError::NotFound("channel_not_found", "");

fn invalid_transition() -> AppError {
    AppError::InvalidTransition(stampede_core::InvalidTransition {
        from: stampede_core::OrderState::Paid,
        to: stampede_core::OrderState::Paid,
    })
}

/// The errors of one operation, by its `operation_id`; `None` for an unknown one.
fn errors_of(operation_id: &str) -> Option<Vec<AppError>> {
    let mut errors = match operation_id {
        "create_campaign" => [admin(), json_body(), engine()].concat(),
        "show_campaign" => [
            front_door(),
            path_segments(),
            vec![
                AppError::SwitchedOff(""),
                AppError::BadRequest(String::new()),
                CAMPAIGN_NOT_FOUND,
                AppError::Unavailable(String::new()),
            ],
        ]
        .concat(),
        "campaign_winners" => [
            admin(),
            path_segments(),
            engine(),
            vec![
                AppError::SwitchedOff(""),
                AppError::BadRequest(String::new()),
                CAMPAIGN_NOT_FOUND,
            ],
        ]
        .concat(),
        // Exactly what the grab counts in its metric (`AppError::answered_by_grab`).
        "grab" => AppError::EVERY
            .iter()
            .filter(|e| e.answered_by_grab())
            .cloned()
            .chain([CAMPAIGN_NOT_FOUND])
            .chain(path_segments())
            .collect(),
        "show_order" => order_admission(),
        "cancel_order" => [order_admission(), vec![invalid_transition()]].concat(),
        "claim_order" => [
            order_admission(),
            vec![
                invalid_transition(),
                AppError::ClaimInProgress,
                AppError::PayoutDeclined(String::new()),
            ],
        ]
        .concat(),
        "pay_order" => [
            order_admission(),
            json_body(),
            vec![
                CHANNEL_NOT_FOUND,
                invalid_transition(),
                AppError::ChannelUnavailable {
                    retry_after_secs: 1,
                },
            ],
        ]
        .concat(),
        "payment_callback" => [
            raw_body(),
            path_segments(),
            engine(),
            vec![
                CHANNEL_NOT_FOUND,
                AppError::Unauthorized(""),
                AppError::NotFound("order_not_found", ""),
                AppError::AmountMismatch {
                    expected_cents: 0,
                    got_cents: 0,
                },
                invalid_transition(),
                AppError::Conflict("txn_conflict", ""),
                AppError::Conflict("too_many_payments", ""),
            ],
        ]
        .concat(),
        "healthz" | "metrics" | "openapi_document" | "dashboard_page" | "dashboard_script"
        | "dashboard_style" => Vec::new(),
        "get_rules" | "list_blocklist" | "list_switches" | "list_channels" | "admin_stats" => {
            admin()
        }
        "put_rules" => [admin(), json_body()].concat(),
        "add_blocklist_entry" => [
            admin(),
            json_body(),
            vec![AppError::Unavailable(String::new())],
        ]
        .concat(),
        "remove_blocklist_entry" => [
            admin(),
            path_segments(),
            vec![
                AppError::BadRequest(String::new()),
                AppError::NotFound("not_listed", ""),
                AppError::Unavailable(String::new()),
            ],
        ]
        .concat(),
        "set_switch" => [
            admin(),
            path_segments(),
            json_body(),
            vec![AppError::NotFound("switch_not_found", "")],
        ]
        .concat(),
        "show_shadow" | "shadow_winners" => [
            admin(),
            path_segments(),
            vec![
                AppError::BadRequest(String::new()),
                AppError::NotFound("not_found", ""),
            ],
        ]
        .concat(),
        // 204 whether or not there was a copy.
        "reset_shadow" => [
            admin(),
            path_segments(),
            vec![AppError::BadRequest(String::new())],
        ]
        .concat(),
        "last_reconciliation" | "cluster" => {
            [admin(), vec![AppError::NotFound("not_found", "")]].concat()
        }
        // 404: a cluster node that leads no shard now.
        "run_reconciliation" => [
            admin(),
            vec![
                AppError::NotFound("not_found", ""),
                AppError::Unavailable(String::new()),
            ],
        ]
        .concat(),
        _ => return None,
    };
    errors.extend(anywhere());
    Some(errors)
}

/// `(status, code)` of every refusal of one operation, the connection refusal included;
/// `None` for an operation this table does not know.
pub fn refusals_of(operation_id: &str) -> Option<Vec<(u16, &'static str)>> {
    let errors = errors_of(operation_id)?;
    let mut refusals: Vec<(u16, &'static str)> = errors
        .iter()
        .map(|e| (e.status().as_u16(), e.code()))
        .collect();
    refusals.push((503, CONNECTION_REFUSAL_CODE));
    Some(refusals)
}
