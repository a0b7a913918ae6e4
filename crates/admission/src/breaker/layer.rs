//! [`BreakerLayer`]: wraps a service in a [`BreakerService`].

use tower::Layer;

use super::breaker::CircuitBreaker;
use super::service::BreakerService;

/// Guards the services it wraps with one shared [`CircuitBreaker`].
///
/// - `clock`: times calls and feeds `try_acquire` (a [`Clock`](crate::clock::Clock)).
/// - `reject`: `Fn(BreakerOpen) -> Response`, the answer while the breaker is open (e.g. a
///   `503 degraded` JSON body with `Retry-After` from `retry_after`).
/// - `classify`: `Fn(&Result<Response, Error>) -> CallOutcome`, e.g. "`Err` or a 5xx is a
///   failure".
#[derive(Debug, Clone)]
pub struct BreakerLayer<C, R, K> {
    breaker: CircuitBreaker,
    clock: C,
    reject: R,
    classify: K,
}

impl<C, R, K> BreakerLayer<C, R, K> {
    /// A layer sharing `breaker`; see the type docs for the other arguments.
    pub fn new(breaker: CircuitBreaker, clock: C, reject: R, classify: K) -> Self {
        Self {
            breaker,
            clock,
            reject,
            classify,
        }
    }
}

impl<S, C: Clone, R: Clone, K: Clone> Layer<S> for BreakerLayer<C, R, K> {
    type Service = BreakerService<S, C, R, K>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService::new(
            inner,
            self.breaker.clone(),
            self.clock.clone(),
            self.reject.clone(),
            self.classify.clone(),
        )
    }
}
