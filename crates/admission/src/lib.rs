//! Admission control for Stampede: in-flight limit and keyed rate limiting, as tower layers.
//!
//! This is the first admission layer; each idea lives in its own module:
//!
//! - [`in_flight`]: a global concurrency limit that rejects at once instead of queueing
//!   (tower middleware shape: layer, service, future, RAII permit).
//! - [`keyed_rate`]: a per-key GCRA rate limiter with bounded memory, on an injected clock.
//!
//! Later admission pieces (breaker, blocklist, switches) get a sibling module each.

pub mod in_flight;
pub mod keyed_rate;

pub use in_flight::{InFlight, InFlightLimit, InFlightLimitLayer, InFlightPermit};
pub use keyed_rate::{KeyedRateConfig, KeyedRateLimiter, RateDecision, retry_after_secs};
pub mod blocklist;
pub mod client_ip;
pub mod switches;
