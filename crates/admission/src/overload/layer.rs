//! [`AdaptiveLayer`]: wraps a service in an [`AdaptiveService`].

use tower::Layer;

use super::limiter::AdaptiveLimiter;
use super::service::AdaptiveService;
use crate::clock::Clock;

/// Sheds load at the door with one shared [`AdaptiveLimiter`].
///
/// `reject` is `Fn(ShedReason) -> Response`, e.g. a `503 overloaded` JSON body.
#[derive(Debug)]
pub struct AdaptiveLayer<C: Clock, R> {
    limiter: AdaptiveLimiter<C>,
    reject: R,
}

impl<C: Clock, R: Clone> Clone for AdaptiveLayer<C, R> {
    fn clone(&self) -> Self {
        Self::new(self.limiter.clone(), self.reject.clone())
    }
}

impl<C: Clock, R> AdaptiveLayer<C, R> {
    /// A layer sharing `limiter`, answering shed requests with `reject(reason)`.
    pub fn new(limiter: AdaptiveLimiter<C>, reject: R) -> Self {
        Self { limiter, reject }
    }
}

impl<S, C: Clock, R: Clone> Layer<S> for AdaptiveLayer<C, R> {
    type Service = AdaptiveService<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveService::new(inner, self.limiter.clone(), self.reject.clone())
    }
}
