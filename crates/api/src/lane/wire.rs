//! Writing a grab's answer as HTTP/1.1 bytes: status line, `content-type`, the answer's own
//! headers, `content-length`, `date`, body — what hyper writes for the same response. The
//! answers a stampede produces by the hundred thousand (sold out, not started, ended, no such
//! campaign, overloaded) are copied from pre-serialised bodies; nothing else on that path
//! allocates once the buffer has grown.

use std::io::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use stampede_core::{GrabOutcome, UnixMillis};

use crate::dto::GrabJson;
use crate::error::AppError;
use crate::handlers::grab::{GrabAnswer, outcome_error};
use crate::json::MAX_BODY_BYTES;

/// Length of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
const DATE_LEN: usize = 29;

/// The `date` header's value, formatted once per second.
#[derive(Clone, Debug, Default)]
pub struct DateCache {
    second: Option<u64>,
    text: [u8; DATE_LEN],
}

impl DateCache {
    /// The value at `now`.
    pub fn at(&mut self, now: UnixMillis) -> &[u8; DATE_LEN] {
        let second = now.0 / 1000;
        if self.second != Some(second) {
            let time = UNIX_EPOCH + Duration::from_secs(second);
            let mut text = &mut self.text[..];
            // An IMF-fixdate is always 29 bytes (years 1970–9999).
            write!(text, "{}", httpdate::HttpDate::from(time)).expect("29 bytes");
            self.second = Some(second);
        }
        &self.text
    }
}

/// Appends what [`try_write`] gave back (an answer whose body is a response to read: a keyed
/// grab's, or a refusal with a message of its own) to `out`.
pub async fn write_rest(rest: GrabAnswer, date: &[u8; DATE_LEN], close: bool, out: &mut Vec<u8>) {
    let response = match rest {
        GrabAnswer::Ready(response) => response,
        other => other.into_response(),
    };
    write_response(response, date, close, out).await;
}

/// Appends `answer` to `out` (`close` adds `connection: close`) when that needs no waiting
/// (outcomes, and refusals with a pre-serialised body: every answer of the sold-out path);
/// else gives it back for [`write_rest`].
pub fn try_write(
    answer: GrabAnswer,
    date: &[u8; DATE_LEN],
    close: bool,
    out: &mut Vec<u8>,
) -> Option<GrabAnswer> {
    let error = match answer {
        GrabAnswer::Outcome(outcome) => match outcome {
            GrabOutcome::Won(ref ticket) | GrabOutcome::AlreadyWon(ref ticket) => {
                let body = serde_json::to_vec(&GrabJson {
                    outcome: outcome.code(),
                    order_id: ticket.order_id.to_string(),
                    amount_cents: ticket.amount_cents.0,
                })
                .expect("a grab's answer serialises");
                write_parts(StatusCode::OK, &HeaderMap::new(), &body, date, close, out);
                return None;
            }
            refusal => outcome_error(&refusal).expect("a refusal outcome is an error"),
        },
        GrabAnswer::Refused(error) => error,
        ready @ GrabAnswer::Ready(_) => return Some(ready),
    };
    match error.static_body() {
        Some(body) => {
            let no_headers = HeaderMap::new();
            write_parts(
                error.status(),
                &no_headers,
                body.as_bytes(),
                date,
                close,
                out,
            );
            None
        }
        None => Some(GrabAnswer::Refused(error)),
    }
}

/// Any response whose body is in memory (every answer of the grab is).
async fn write_response(response: Response, date: &[u8; DATE_LEN], close: bool, out: &mut Vec<u8>) {
    let (parts, body) = response.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        // Our own answers are small in-memory bodies; say so honestly if one ever is not.
        Err(_) => {
            let error = AppError::Unavailable("response body unreadable".into());
            let body = error.serialized_body();
            return write_parts(error.status(), &HeaderMap::new(), &body, date, close, out);
        }
    };
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::DATE);
    let asks_close = headers.remove(header::CONNECTION).is_some();
    let close = close || asks_close;
    write_parts(parts.status, &headers, &body, date, close, out);
}

/// The bytes of one response. `headers` are the answer's own (never `content-type`,
/// `content-length`, `date` or `connection`, which this writes).
fn write_parts(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    date: &[u8; DATE_LEN],
    close: bool,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests;
