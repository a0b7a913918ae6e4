//! What one grab attempt ended as, with a stable string code per variant.

use crate::connection::TransportError;
use serde::Deserialize;
use std::time::Duration;

/// The result of one grab request as the client saw it.
///
/// Server answers map one-to-one onto the contract's codes; the last four are client-side
/// (the response was unusable, or no response arrived at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 200 `won`.
    Won,
    /// 200 `already_won`.
    AlreadyWon,
    /// 410 `sold_out`.
    SoldOut,
    /// 409 `not_started`.
    NotStarted,
    /// 409 `ended`.
    Ended,
    /// 429 `rate_limited`.
    RateLimited,
    /// 503 `overloaded`.
    Overloaded,
    /// 403 `blocked`: on the server's blocklist (manually or by an automatic ban).
    Blocked,
    /// 503 `degraded`: a degrade switch is off or the journal is unavailable.
    Degraded,
    /// 503 `queue_timeout`: waited too long in a concurrency rule's queue.
    QueueTimeout,
    /// 404 `campaign_not_found`.
    CampaignNotFound,
    /// 401 `unauthorized`.
    Unauthorized,
    /// 400 `bad_request`.
    BadRequest,
    /// A status or error code outside the contract.
    UnexpectedResponse,
    /// The request reached no server: the TCP connect or HTTP handshake failed, or a kept-alive
    /// connection closed before the request was written.
    ConnectError,
    /// No complete response within the request timeout.
    Timeout,
    /// The connection failed mid-request (reset, closed, malformed HTTP).
    TransportError,
}

impl Outcome {
    /// Every variant, in report order; `index()` is a position in this array.
    pub const ALL: [Outcome; 17] = [
        Outcome::Won,
        Outcome::AlreadyWon,
        Outcome::SoldOut,
        Outcome::NotStarted,
        Outcome::Ended,
        Outcome::RateLimited,
        Outcome::Overloaded,
        Outcome::Blocked,
        Outcome::Degraded,
        Outcome::QueueTimeout,
        Outcome::CampaignNotFound,
        Outcome::Unauthorized,
        Outcome::BadRequest,
        Outcome::UnexpectedResponse,
        Outcome::ConnectError,
        Outcome::Timeout,
        Outcome::TransportError,
    ];

    /// Number of variants (size of per-outcome count arrays).
    pub const COUNT: usize = Self::ALL.len();

    /// Position in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|candidate| *candidate == self)
            .expect("ALL lists every variant")
    }

    /// Stable code used in reports and JSON (matches the server's error codes where one exists).
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Won => "won",
            Outcome::AlreadyWon => "already_won",
            Outcome::SoldOut => "sold_out",
            Outcome::NotStarted => "not_started",
            Outcome::Ended => "ended",
            Outcome::RateLimited => "rate_limited",
            Outcome::Overloaded => "overloaded",
            Outcome::Blocked => "blocked",
            Outcome::Degraded => "degraded",
            Outcome::QueueTimeout => "queue_timeout",
            Outcome::CampaignNotFound => "campaign_not_found",
            Outcome::Unauthorized => "unauthorized",
            Outcome::BadRequest => "bad_request",
            Outcome::UnexpectedResponse => "unexpected_response",
            Outcome::ConnectError => "connect_error",
            Outcome::Timeout => "timeout",
            Outcome::TransportError => "transport_error",
        }
    }

    /// The client-side outcome of a request that got no response.
    pub fn from_transport(error: &TransportError) -> Self {
        match error {
            TransportError::Connect { .. } | TransportError::NotSent(_) => Outcome::ConnectError,
            TransportError::Timeout(_) => Outcome::Timeout,
            TransportError::Http(_) => Outcome::TransportError,
        }
    }

    /// True when the answer does not say whether the server acted: no HTTP response arrived,
    /// or 503 `degraded`, which is also what a grab answers when its journal write outlives
    /// `journal_reply_timeout` (the write may still commit: the engine's `Degraded` means
    /// "outcome unknown, a retry is safe").
    pub fn is_unresolved(self) -> bool {
        matches!(
            self,
            Outcome::Timeout | Outcome::TransportError | Outcome::Degraded
        )
    }

    /// True when the server decided this user's grab against the stock (won, already won, or
    /// sold out). The audit counts such users as having "reached the stock".
    pub fn reached_stock(self) -> bool {
        matches!(self, Outcome::Won | Outcome::AlreadyWon | Outcome::SoldOut)
    }
}

/// A classified grab response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GrabResult {
    /// The classification.
    pub outcome: Outcome,
    /// `order_id` for won / already_won.
    pub order_id: Option<String>,
    /// `amount_cents` for won / already_won.
    pub amount_cents: Option<u64>,
    /// `Retry-After` in whole seconds when the server sent one.
    pub retry_after: Option<Duration>,
}

impl GrabResult {
    /// A result with no response data (transport failures).
    pub(crate) fn bare(outcome: Outcome) -> Self {
        Self {
            outcome,
            order_id: None,
            amount_cents: None,
            retry_after: None,
        }
    }
}

#[derive(Deserialize)]
struct WonBody {
    outcome: String,
    order_id: String,
    amount_cents: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
}

/// The contract's error code in an error body (`{"error":{"code":...}}`), if it is one.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .map(|parsed| parsed.error.code)
        .ok()
}

/// Classifies a grab response from its status, `Retry-After` header value and body.
pub(crate) fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> GrabResult {
    let retry_after_secs = retry_after.and_then(|value| value.trim().parse::<u64>().ok());
    classify_parsed(status, retry_after_secs, body)
}

/// [`classify`] with `Retry-After` already read as seconds.
pub(crate) fn classify_parsed(
    status: u16,
    retry_after_secs: Option<u64>,
    body: &[u8],
) -> GrabResult {
    let retry_after = retry_after_secs.map(Duration::from_secs);
    if status == 200 {
        return match serde_json::from_slice::<WonBody>(body) {
            Ok(won) => {
                let outcome = match won.outcome.as_str() {
                    "won" => Outcome::Won,
                    "already_won" => Outcome::AlreadyWon,
                    _ => Outcome::UnexpectedResponse,
                };
                GrabResult {
                    outcome,
                    order_id: Some(won.order_id),
                    amount_cents: Some(won.amount_cents),
                    retry_after,
                }
            }
            Err(_) => GrabResult::bare(Outcome::UnexpectedResponse),
        };
    }
    let code = error_code(body).unwrap_or_default();
    let outcome = match (status, code.as_str()) {
        (410, "sold_out") => Outcome::SoldOut,
        (409, "not_started") => Outcome::NotStarted,
        (409, "ended") => Outcome::Ended,
        // A rule may answer its rejections with 503 (nginx style).
        (429 | 503, "rate_limited") => Outcome::RateLimited,
        (503, "overloaded") => Outcome::Overloaded,
        (403, "blocked") => Outcome::Blocked,
        (503, "degraded") => Outcome::Degraded,
        (503, "queue_timeout") => Outcome::QueueTimeout,
        (404, "campaign_not_found") => Outcome::CampaignNotFound,
        (401, "unauthorized") => Outcome::Unauthorized,
        (400, "bad_request") => Outcome::BadRequest,
        _ => Outcome::UnexpectedResponse,
    };
    GrabResult {
        outcome,
        order_id: None,
        amount_cents: None,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_codes_are_consistent() {
        for (position, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(outcome.index(), position);
        }
        let mut codes: Vec<_> = Outcome::ALL.iter().map(|o| o.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Outcome::COUNT);
    }

    #[test]
    fn transport_errors_are_client_side_outcomes() {
        let refused = TransportError::Connect {
            address: "127.0.0.1:1".parse().expect("address"),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let cases = [
            (refused, Outcome::ConnectError, false),
            (
                TransportError::NotSent("closed".into()),
                Outcome::ConnectError,
                false,
            ),
            (
                TransportError::Timeout(Duration::from_secs(10)),
                Outcome::Timeout,
                true,
            ),
            (
                TransportError::Http("reset".into()),
                Outcome::TransportError,
                true,
            ),
        ];
        for (error, outcome, unresolved) in cases {
            assert_eq!(Outcome::from_transport(&error), outcome);
            assert_eq!(
                outcome.is_unresolved(),
                unresolved,
                "{outcome:?}: a refused connect sent nothing"
            );
            assert_eq!(
                error.never_sent(),
                !unresolved,
                "{error}: only a request never written may be sent again"
            );
        }
    }

    #[test]
    fn error_codes_come_from_the_contracts_error_body() {
        assert_eq!(
            error_code(br#"{"error":{"code":"sold_out","message":"x"}}"#).as_deref(),
            Some("sold_out")
        );
        assert_eq!(error_code(b"<html>bad gateway</html>"), None);
        assert_eq!(error_code(br#"{"outcome":"won"}"#), None);
    }

    #[test]
    fn classifies_won_and_errors() {
        let won = classify(
            200,
            None,
            br#"{"outcome":"won","order_id":"o1","amount_cents":7}"#,
        );
        assert_eq!(won.outcome, Outcome::Won);
        assert_eq!(won.order_id.as_deref(), Some("o1"));
        assert_eq!(won.amount_cents, Some(7));

        let limited = classify(
            429,
            Some("2"),
            br#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
        );
        assert_eq!(limited.outcome, Outcome::RateLimited);
        assert_eq!(limited.retry_after, Some(Duration::from_secs(2)));

        for (status, code, outcome) in [
            (403, "blocked", Outcome::Blocked),
            (503, "degraded", Outcome::Degraded),
            (503, "queue_timeout", Outcome::QueueTimeout),
            (503, "rate_limited", Outcome::RateLimited),
        ] {
            let body = format!(r#"{{"error":{{"code":"{code}","message":""}}}}"#);
            assert_eq!(classify(status, None, body.as_bytes()).outcome, outcome);
        }

        // A grab whose journal write outlived the reply timeout answers `degraded`, and may
        // have won all the same: the audit must not count its user as one who never won.
        assert!(Outcome::Degraded.is_unresolved());
        assert!(!Outcome::QueueTimeout.is_unresolved());
        assert!(!Outcome::RateLimited.is_unresolved());

        let sold = classify(410, None, br#"{"error":{"code":"sold_out","message":""}}"#);
        assert_eq!(sold.outcome, Outcome::SoldOut);

        assert_eq!(
            classify(500, None, b"oops").outcome,
            Outcome::UnexpectedResponse
        );
        assert_eq!(
            classify(200, None, b"{}").outcome,
            Outcome::UnexpectedResponse
        );
    }
}
