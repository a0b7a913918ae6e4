//! [`InFlightLimitLayer`]: wraps a service in an [`InFlightLimit`].

use tower::Layer;

use super::permit::InFlight;
use super::service::InFlightLimit;

/// Applies a reject-at-once in-flight limit to the services it wraps.
///
/// `reject` builds the response returned when no permit is free, e.g. a closure returning a
/// `503` JSON `overloaded` body. All services made by one layer share its [`InFlight`].
#[derive(Debug, Clone)]
pub struct InFlightLimitLayer<R> {
    in_flight: InFlight,
    reject: R,
}

impl<R> InFlightLimitLayer<R> {
    /// Creates a layer sharing `in_flight`, answering rejected requests with `reject()`.
    pub fn new(in_flight: InFlight, reject: R) -> Self {
        Self { in_flight, reject }
    }
}

impl<S, R: Clone> Layer<S> for InFlightLimitLayer<R> {
    type Service = InFlightLimit<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlightLimit::new(inner, self.in_flight.clone(), self.reject.clone())
    }
}
