//! [`ChannelRouter`]: picks a payment channel by weight among those in rotation, and keeps
//! each channel's health.
//!
//! # Health
//! Each channel has a [`CircuitBreaker`] (count window of failure and slow-call ratios):
//!
//! - **Closed**: in rotation, its configured weight scaled by its success ratio over the
//!   breaker's own sliding window (its last `window_calls` calls, 100 with
//!   [`BreakerConfig::default`]; a slow call counts as a failure), never below 1, so a
//!   struggling channel gets less traffic before its breaker trips;
//! - **Open**: out of rotation until the open period ends;
//! - **HalfOpen**: back at its configured weight, but the breaker admits only its bounded
//!   probes; a pick that lands on it with every probe slot taken falls through to the other
//!   channels. Enough good probes close the breaker, whose window then starts afresh, so a
//!   recovered channel is fully back.
//!
//! The weight reads the breaker's window ([`CircuitBreaker::success_ratio`]) rather than a
//! copy of it: one lock per pick and per report, and one definition of a good call.
//!
//! Time is an argument (`now`, a `Duration` since the clock's epoch, as for the breaker): the
//! router reads no clock. Randomness is a seeded `ChaCha8Rng`.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stampede_admission::breaker::{
    BreakerConfig, BreakerConfigError, BreakerOpen, BreakerState, CallOutcome, CallPermit,
    CircuitBreaker, SuccessRatio,
};
use stampede_admission::clock::Clock as MonotonicClock;
use stampede_core::ChannelName;

use super::{ChannelError, PaymentChannel, health_outcome};

/// Most channels one router holds: real deployments route over two to four providers; eight
/// keeps a pick (a scan of every channel) trivially cheap.
pub const MAX_CHANNELS: usize = 8;
/// No down-weighting before this many calls are in the breaker's window, so one early failure
/// does not cut a channel to weight 1.
pub const HEALTH_MIN_CALLS: u32 = 10;

/// Why a router could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouterError {
    /// No channel at all.
    #[error("router: no channels")]
    NoChannels,
    /// More than [`MAX_CHANNELS`].
    #[error("router: {0} channels, at most {MAX_CHANNELS}")]
    TooManyChannels(usize),
    /// Two channels share this name.
    #[error("router: channel `{0}` named twice")]
    DuplicateName(ChannelName),
    /// This channel's weight is 0 (leave it out instead).
    #[error("router: channel `{0}` has weight 0")]
    ZeroWeight(ChannelName),
    /// The breaker config is invalid.
    #[error(transparent)]
    Breaker(#[from] BreakerConfigError),
}

/// Why [`ChannelRouter::admit`] let no call through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// No channel has this name.
    #[error("no channel named `{0}`")]
    UnknownChannel(ChannelName),
    /// The channel's breaker is open (or every probe slot is taken).
    #[error("channel `{channel}` out of rotation; retry after {retry_after:?}")]
    OutOfRotation {
        /// The channel.
        channel: ChannelName,
        /// How long until it may admit again.
        retry_after: Duration,
    },
}

/// One channel's state, for metrics and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelHealth {
    /// The channel's name.
    pub name: ChannelName,
    /// Its configured weight.
    pub weight: u32,
    /// The weight a pick uses now (0: out of rotation).
    pub effective_weight: u32,
    /// Its breaker's state.
    pub state: BreakerState,
}

/// Several channels with weights and health. See the [module docs](self).
#[derive(Debug)]
pub struct ChannelRouter {
    routes: Vec<Arc<Route>>,
    rng: Mutex<ChaCha8Rng>,
}

#[derive(Debug)]
struct Route {
    channel: Arc<dyn PaymentChannel>,
    weight: u32,
    breaker: CircuitBreaker,
}

impl ChannelRouter {
    /// A router over `channels` (each with its weight), every one guarded by a breaker built
    /// from `breaker`, picking with a `ChaCha8Rng` seeded by `seed`.
    pub fn new(
        channels: Vec<(Arc<dyn PaymentChannel>, u32)>,
        breaker: BreakerConfig,
        seed: u64,
    ) -> Result<Self, RouterError> {
        if channels.is_empty() {
            return Err(RouterError::NoChannels);
        }
        if channels.len() > MAX_CHANNELS {
            return Err(RouterError::TooManyChannels(channels.len()));
        }
        breaker.validate()?;
        let mut routes: Vec<Arc<Route>> = Vec::with_capacity(channels.len());
        for (channel, weight) in channels {
            let name = channel.name().clone();
            if routes.iter().any(|route| route.channel.name() == &name) {
                return Err(RouterError::DuplicateName(name));
            }
            if weight == 0 {
                return Err(RouterError::ZeroWeight(name));
            }
            routes.push(Arc::new(Route {
                channel,
                weight,
                breaker: CircuitBreaker::new(breaker.clone()),
            }));
        }
        Ok(Self {
            routes,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        })
    }

    /// Picks a channel weighted-randomly among those in rotation at `now`, and admits one
    /// call to it. `None`: every channel is out of rotation (answer 503).
    pub fn pick(&self, now: Duration) -> Option<Routed> {
        let mut candidates: Vec<(usize, u64)> = (self.routes.iter().enumerate())
            .map(|(index, route)| (index, u64::from(route.effective_weight(now))))
            .filter(|&(_, weight)| weight > 0)
            .collect();
        while !candidates.is_empty() {
            let total: u64 = candidates.iter().map(|&(_, weight)| weight).sum();
            let mut ticket = self.rng.lock().random_range(0..total);
            let position = candidates
                .iter()
                .position(|&(_, weight)| {
                    let hit = ticket < weight;
                    ticket = ticket.saturating_sub(weight);
                    hit
                })
                .expect("router: a ticket below the total weight lands on a candidate");
            let route = &self.routes[candidates[position].0];
            if let Ok(routed) = route.admit(now) {
                return Some(routed);
            }
            candidates.remove(position); // every probe slot taken, or it just tripped
        }
        None
    }

    /// Admits one call to the channel named `name` at `now` (a query or refund of a payment
    /// made there), if its breaker lets it through.
    pub fn admit(&self, name: &ChannelName, now: Duration) -> Result<Routed, AdmitError> {
        let route = self
            .route(name)
            .ok_or_else(|| AdmitError::UnknownChannel(name.clone()))?;
        route.admit(now).map_err(|open| AdmitError::OutOfRotation {
            channel: name.clone(),
            retry_after: open.retry_after,
        })
    }

    /// The channel named `name`, whatever its health (for calls that must be tried anyway).
    pub fn get(&self, name: &ChannelName) -> Option<Arc<dyn PaymentChannel>> {
        self.route(name).map(|route| Arc::clone(&route.channel))
    }

    /// Every channel's weight and state at `now`, in configuration order.
    pub fn snapshot(&self, now: Duration) -> Vec<ChannelHealth> {
        (self.routes.iter())
            .map(|route| ChannelHealth {
                name: route.channel.name().clone(),
                weight: route.weight,
                effective_weight: route.effective_weight(now),
                state: route.breaker.state(),
            })
            .collect()
    }

    fn route(&self, name: &ChannelName) -> Option<&Arc<Route>> {
        self.routes
            .iter()
            .find(|route| route.channel.name() == name)
    }
}

impl Route {
    /// The weight a pick uses at `now`: 0 while open, the configured weight while probing,
    /// else scaled by the breaker's success ratio (at least 1).
    fn effective_weight(&self, now: Duration) -> u32 {
        if self.breaker.is_open(now) {
            return 0;
        }
        match self.breaker.success_ratio() {
            Some(ratio) => scale(self.weight, ratio),
            // Open past its period (the next acquire makes it half-open), or half-open: the
            // breaker bounds the probes, so the weight need not.
            None => self.weight,
        }
    }

    fn admit(self: &Arc<Self>, now: Duration) -> Result<Routed, BreakerOpen> {
        let permit = self.breaker.try_acquire(now)?;
        Ok(Routed {
            route: Arc::clone(self),
            permit,
        })
    }
}

/// `weight × good / calls`, at least 1; `weight` itself below [`HEALTH_MIN_CALLS`]. Integer
/// arithmetic, so the weight a ratio gives does not depend on float rounding.
fn scale(weight: u32, ratio: SuccessRatio) -> u32 {
    if ratio.calls < HEALTH_MIN_CALLS {
        return weight;
    }
    let scaled = u64::from(weight) * u64::from(ratio.good_calls) / u64::from(ratio.calls);
    u32::try_from(scaled).unwrap_or(weight).max(1)
}

/// One admitted call to a channel: make it on [`channel`](Self::channel), then
/// [`report`](Self::report) how it went (or let [`call_with_health`] do both).
///
/// Dropped unreported (cancelled, panicked, forgotten), it counts as a failure: its
/// breaker's [`CallPermit`] is dropped with it, and an unknown outcome must not keep a failing
/// channel in rotation.
#[derive(Debug)]
#[must_use = "report the call's outcome; a dropped Routed counts as a failure"]
pub struct Routed {
    route: Arc<Route>,
    permit: CallPermit,
}

impl Routed {
    /// The channel to call.
    pub fn channel(&self) -> Arc<dyn PaymentChannel> {
        Arc::clone(&self.route.channel)
    }

    /// The channel's name.
    pub fn name(&self) -> &ChannelName {
        self.route.channel.name()
    }

    /// The channel was not called after all (the order refused the payment first): nothing
    /// is recorded against or for the channel, and a half-open probe slot comes free.
    pub fn release(self) {
        self.permit.release();
    }

    /// Reports how the call went and how long it took (a call of at least the breaker's
    /// `slow_call_threshold` is slow, and counts against the channel's weight).
    pub fn report(self, outcome: CallOutcome, elapsed: Duration) {
        // The breaker's window is the router's health window: one record teaches both.
        self.permit.record(outcome, elapsed);
    }
}

/// Awaits `call` (made on `routed.channel()`) for at most `timeout`, reports its outcome
/// and duration (measured on `clock`) on `routed`, and answers its result. A timeout answers
/// `Unavailable`: the outcome is unknown. Only `Unavailable` counts as a failure
/// ([`health_outcome`]).
pub async fn call_with_health<T>(
    routed: Routed,
    clock: &impl MonotonicClock,
    timeout: Duration,
    call: impl Future<Output = Result<T, ChannelError>>,
) -> Result<T, ChannelError> {
    let started = clock.monotonic();
    let result = match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(ChannelError::Unavailable(format!(
            "channel `{}` timed out after {timeout:?}",
            routed.name()
        ))),
    };
    routed.report(
        health_outcome(&result),
        clock.monotonic().saturating_sub(started),
    );
    result
}
