//! [`AdaptiveService`]: admits each call through the adaptive limiter or answers `reject`.

use std::task::{Context, Poll};

use tower::Service;

use super::future::ResponseFuture;
use super::limiter::{AdaptiveLimiter, Admission, ShedReason};
use crate::clock::Clock;

/// A service guarded by an [`AdaptiveLimiter`].
///
/// As with [`InFlightLimit`](crate::in_flight::InFlightLimit), the decision is taken in
/// `call` (a readied clone must not hold a slot), and the permit lives in the
/// [`ResponseFuture`] until the inner future completes or is dropped; either way its latency
/// is recorded.
#[derive(Debug)]
pub struct AdaptiveService<S, C: Clock, R> {
    inner: S,
    limiter: AdaptiveLimiter<C>,
    reject: R,
}

impl<S: Clone, C: Clock, R: Clone> Clone for AdaptiveService<S, C, R> {
    fn clone(&self) -> Self {
        Self::new(
            self.inner.clone(),
            self.limiter.clone(),
            self.reject.clone(),
        )
    }
}

impl<S, C: Clock, R> AdaptiveService<S, C, R> {
    /// Wraps `inner`, sharing `limiter`, answering shed calls with `reject(reason)`.
    pub fn new(inner: S, limiter: AdaptiveLimiter<C>, reject: R) -> Self {
        Self {
            inner,
            limiter,
            reject,
        }
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &AdaptiveLimiter<C> {
        &self.limiter
    }
}

impl<S, C, R, Request> Service<Request> for AdaptiveService<S, C, R>
where
    S: Service<Request>,
    C: Clock,
    R: Fn(ShedReason) -> S::Response,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Response, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.limiter.try_admit() {
            Admission::Admit(permit) => ResponseFuture::admitted(self.inner.call(request), permit),
            Admission::Shed { reason } => ResponseFuture::rejected((self.reject)(reason)),
        }
    }
}
