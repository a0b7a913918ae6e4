//! The lane: grabs answered straight from a connection's bytes, before hyper and the router.
//!
//! A stampede is hundreds of thousands of identical `POST /v1/campaigns/{id}/grab` requests,
//! 99 % of them answered `sold_out` from memory. Through hyper and axum each pays for a
//! `HeaderMap`, extensions, route matching, boxed futures and a response builder, more CPU
//! than the answer itself. The accept loop (`stampede_server::accept`) reads each
//! connection's heads itself: a grab with no body over HTTP/1.1 ([`head::parse`]) is answered
//! here through the same [`answer_grab`](crate::handlers::grab::answer_grab) as the router's
//! handler — every defence, rule and invariant in the same order — and written as bytes
//! ([`wire`]); the first head that is anything else hands the connection, with the bytes
//! read so far, to hyper and the router for good. The in-flight limit applies as on the
//! router ([`answer`]).

pub mod head;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use stampede_engine::stopwatch;

use crate::error::AppError;
use crate::handlers::grab::{ForwardedFor, GrabAnswer, GrabHeaders, answer_grab, record};
use crate::state::AppState;

pub use head::{GrabHead, Head, parse};
pub use wire::DateCache;

/// Answers `head` into `out` (appended): the in-flight limit, then the grab, counted and
/// logged as on the router. Returns when the answer was ready (the start of the wait for the
/// connection's next head).
pub async fn answer(
    state: &Arc<AppState>,
    head: &GrabHead<'_>,
    peer: SocketAddr,
    close: bool,
    date: &mut DateCache,
    out: &mut Vec<u8>,
) -> Instant {
    let started = stopwatch();
    let now = state.now();
    let (answer, finished) = match state.in_flight.try_acquire() {
        // The router's in-flight layer answers before the handler (and counts no grab): so here.
        None => (GrabAnswer::Refused(AppError::Overloaded), stopwatch()),
        Some(_permit) => {
            let headers = GrabHeaders {
                authorization: head.authorization,
                idempotency_key: head.idempotency_key,
                forwarded_for: ForwardedFor::Lines(head.forwarded_lines()),
            };
            let (counted, answer) =
                answer_grab(state, head.campaign, headers, Some(peer), now).await;
            let finished = stopwatch();
            record(state, counted, answer.status(), finished - started);
            (answer, finished)
        }
    };
    let date = date.at(now);
    if let Some(rest) = wire::try_write(answer, date, close, out) {
        wire::write_rest(rest, date, close, out).await;
    }
    finished
}
