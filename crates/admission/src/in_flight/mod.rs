//! A global in-flight (concurrency) limit that **rejects at once** instead of queueing.
//!
//! tower's `ConcurrencyLimit` waits for a permit, so under a flash-sale stampede requests pile
//! up in memory and time out late. This middleware answers immediately with a caller-built
//! rejection response (the API passes a closure returning `503 overloaded`), so the wrapped
//! service keeps its own error type (axum requires `Infallible`).
//!
//! Shape (as tower's `limit/concurrency`):
//! - [`permit`]: the shared counter [`InFlight`] and the RAII [`InFlightPermit`].
//! - [`layer`]: [`InFlightLimitLayer`], which wraps a service.
//! - [`service`]: [`InFlightLimit`], which takes a permit in `call`.
//! - [`future`]: [`ResponseFuture`], which holds the permit until the inner future completes.
//!
//! ```
//! use stampede_admission::in_flight::{InFlight, InFlightLimitLayer};
//! use tower::{Layer, service_fn};
//!
//! let in_flight = InFlight::new(2);
//! let layer = InFlightLimitLayer::new(in_flight.clone(), || "overloaded");
//! let _service = layer.layer(service_fn(|_: ()| async { Ok::<_, std::convert::Infallible>("ok") }));
//! assert_eq!(in_flight.current(), 0);
//! ```

pub mod future;
pub mod layer;
pub mod permit;
pub mod service;

pub use future::ResponseFuture;
pub use layer::InFlightLimitLayer;
pub use permit::{InFlight, InFlightPermit};
pub use service::InFlightLimit;

#[cfg(test)]
mod tests;
