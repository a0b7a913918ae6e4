//! [`InFlightLimit`]: the service that admits or rejects each call.

use std::task::{Context, Poll};

use tower::Service;

use super::future::ResponseFuture;
use super::permit::InFlight;

/// Admits a call if an [`InFlight`] permit is free, else answers `reject()` at once.
///
/// Unlike tower's `ConcurrencyLimit`, the permit is taken in `call`, not `poll_ready`:
/// `poll_ready` cannot say "no" without waiting, and a permit reserved there would be held
/// by a clone that is readied but never called (axum readies services it may not call).
/// Taking it in `call` means a rejected request never holds a slot, and an admitted one
/// holds it inside [`ResponseFuture`] until the inner future completes or is dropped.
#[derive(Debug, Clone)]
pub struct InFlightLimit<S, R> {
    inner: S,
    in_flight: InFlight,
    reject: R,
}

impl<S, R> InFlightLimit<S, R> {
    /// Wraps `inner`, sharing `in_flight`, answering rejected calls with `reject()`.
    pub fn new(inner: S, in_flight: InFlight, reject: R) -> Self {
        Self {
            inner,
            in_flight,
            reject,
        }
    }

    /// The shared in-flight counter.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }
}

impl<S, R, Request> Service<Request> for InFlightLimit<S, R>
where
    S: Service<Request>,
    R: Fn() -> S::Response,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // No permit here (see the type docs): readiness is the inner service's alone.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.in_flight.try_acquire() {
            Some(permit) => ResponseFuture::admitted(self.inner.call(request), permit),
            None => ResponseFuture::rejected((self.reject)()),
        }
    }
}
