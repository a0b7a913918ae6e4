//! Admission control for Stampede: the layered defences at the door, each a reusable component
//! deciding on an injected clock, most with a tower layer in tower's folder shape.
//!
//! Limiters (decisions are values):
//! - [`token_bucket`] (GCRA with optional [`warm_up`]) and [`keyed_rate`] (keyed GCRA on
//!   governor with a bounded key table);
//! - [`leaky_bucket`]: nginx `limit_req` (`burst`, `nodelay`, two-stage `delay=N`);
//! - [`sliding_window`]: "N per window" counters;
//! - [`in_flight`] (reject at once) and [`queued_in_flight`] (bounded queue, maximum wait);
//! - [`policy`]: the global and keyed wrappers with bounded memory all keyed limiters share.
//!
//! Who may come in: [`blocklist`] (users, IPs, CIDRs, allow lists, automatic bans),
//! [`client_ip`] (X-Forwarded-For only from trusted proxies), [`switches`] (degrade switches),
//! [`rules`] (configured `(dimension, limiter, action)` triples).
//!
//! Protecting the engine: [`breaker`] (closed / open / half-open), [`overload`] (adaptive
//! shedding on Little's law and a p99 target).

pub mod blocklist;
pub mod breaker;
pub mod client_ip;
pub mod clock;
pub mod in_flight;
pub mod keyed_rate;
pub mod leaky_bucket;
pub mod overload;
pub mod policy;
pub mod queued_in_flight;
pub mod rules;
pub mod sliding_window;
pub mod switches;
pub mod token_bucket;
pub mod warm_up;

pub use breaker::{BreakerConfig, BreakerOpen, BreakerState, CallOutcome, CircuitBreaker};
pub use clock::{Clock, ManualClock, SystemClock};
pub use in_flight::{InFlight, InFlightLimit, InFlightLimitLayer, InFlightPermit};
pub use keyed_rate::{KeyedRateConfig, KeyedRateLimiter, RateDecision, retry_after_secs};
pub use leaky_bucket::{KeyedLeakyBucket, LeakyBucket, LeakyBucketConfig, LeakyDecision};
pub use overload::{AdaptiveConfig, AdaptiveLimiter, Admission, ShedReason};
pub use queued_in_flight::{QueueDecision, QueuedInFlight, QueuedInFlightConfig, QueuedPermit};
pub use sliding_window::{KeyedSlidingWindow, SlidingWindow, SlidingWindowConfig};
pub use token_bucket::{TokenBucket, TokenBucketConfig};
pub use warm_up::WarmUp;
