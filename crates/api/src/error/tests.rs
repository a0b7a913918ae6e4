//! Unit tests of the error mapping: statuses, headers, and that every variant is listed.

use super::*;

#[test]
fn degraded_is_503_with_retry_after() {
    let response = AppError::Degraded {
        retry_after_secs: 2,
    }
    .into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    assert_eq!(
        AppError::Degraded {
            retry_after_secs: 2
        }
        .code(),
        "degraded"
    );
}

/// [`AppError::EVERY`] holds each variant once: the match names every variant, so a new
/// one fails to compile here until it is given a number, and then this fails until it is
/// in `EVERY`.
#[test]
fn every_lists_each_variant() {
    fn number(error: &AppError) -> usize {
        match error {
            AppError::BadRequest(_) => 0,
            AppError::Unauthorized(_) => 1,
            AppError::NotFound(..) => 2,
            AppError::MethodNotAllowed => 3,
            AppError::NotStarted => 4,
            AppError::Ended => 5,
            AppError::IdempotencyKeyInUse => 6,
            AppError::InvalidTransition(_) => 7,
            AppError::ClaimInProgress => 8,
            AppError::PayoutDeclined(_) => 9,
            AppError::AmountMismatch { .. } => 10,
            AppError::Conflict(..) => 11,
            AppError::ChannelUnavailable { .. } => 12,
            AppError::SoldOut => 13,
            AppError::PayloadTooLarge => 14,
            AppError::RequestTimeout => 15,
            AppError::UnsupportedMediaType => 16,
            AppError::Overloaded => 17,
            AppError::Degraded { .. } => 18,
            AppError::Blocked { .. } => 19,
            AppError::SwitchedOff(_) => 20,
            AppError::QueueTimeout { .. } => 21,
            AppError::RuleLimited { .. } => 22,
            AppError::Unavailable(_) => 23,
            AppError::ShadowFull(_) => 24,
        }
    }
    let numbers: Vec<usize> = AppError::EVERY.iter().map(number).collect();
    assert_eq!(numbers, (0..25).collect::<Vec<_>>());
}

#[test]
fn every_static_body_is_the_serialised_message() {
    let mut with_static = 0;
    for error in AppError::EVERY
        .iter()
        .chain([&AppError::CAMPAIGN_NOT_FOUND])
    {
        if let Some(body) = error.static_body() {
            with_static += 1;
            assert_eq!(body.as_bytes(), error.serialized_body(), "{}", error.code());
        }
    }
    // sold_out, overloaded, not_started, ended and campaign_not_found.
    assert_eq!(with_static, 5);
}
