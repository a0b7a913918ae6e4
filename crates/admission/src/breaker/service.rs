//! [`BreakerService`]: admits each call through the breaker or answers `reject` at once.

use std::task::{Context, Poll};

use tower::Service;

use super::breaker::{CallOutcome, CircuitBreaker};
use super::future::ResponseFuture;
use super::state::BreakerOpen;
use crate::clock::Clock;

/// A service guarded by a [`CircuitBreaker`].
///
/// The permit is taken in `call`, not `poll_ready`, for the reason given on
/// [`InFlightLimit`](crate::in_flight::InFlightLimit): a readied clone that is never called
/// would hold a half-open probe slot. The [`ResponseFuture`] records the classified result
/// and its latency when the inner future completes; if it is dropped first (cancellation),
/// the permit's drop records a failure.
#[derive(Debug, Clone)]
pub struct BreakerService<S, C, R, K> {
    inner: S,
    breaker: CircuitBreaker,
    clock: C,
    reject: R,
    classify: K,
}

impl<S, C, R, K> BreakerService<S, C, R, K> {
    /// Wraps `inner`; see [`BreakerLayer`](super::BreakerLayer) for the arguments.
    pub fn new(inner: S, breaker: CircuitBreaker, clock: C, reject: R, classify: K) -> Self {
        Self {
            inner,
            breaker,
            clock,
            reject,
            classify,
        }
    }

    /// The shared breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S, C, R, K, Request> Service<Request> for BreakerService<S, C, R, K>
where
    S: Service<Request>,
    C: Clock + Clone,
    R: Fn(BreakerOpen) -> S::Response,
    K: Fn(&Result<S::Response, S::Error>) -> CallOutcome + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Response, C, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.breaker.try_acquire(self.clock.now()) {
            Ok(permit) => ResponseFuture::admitted(
                self.inner.call(request),
                permit,
                self.clock.clone(),
                self.classify.clone(),
            ),
            Err(open) => ResponseFuture::rejected((self.reject)(open)),
        }
    }
}
