//! The clock every admission limiter decides on (STYLE §8): the one [`Clock`] of
//! `stampede-clock`, read through [`Clock::monotonic`] only — limiters subtract two readings
//! or add a wait, so no wall-clock meaning is needed. Production code hands them a
//! [`SystemClock`] (the TSC through quanta); tests move a [`ManualClock`].
//!
//! The governor-based [`keyed_rate`](crate::keyed_rate) keeps governor's own clock trait, and
//! [`queued_in_flight`](crate::queued_in_flight) waits on tokio's clock, which tests pause.

pub use stampede_clock::{Clock, ManualClock, SharedClock, SystemClock, nanos as to_nanos};

/// A [`SharedClock`] as governor's clock (the keyed GCRA limiter runs on governor), reading
/// the same monotonic time as every other limiter, so tests move it with the rest.
#[derive(Clone)]
pub struct GovernorClock(pub SharedClock);

impl std::fmt::Debug for GovernorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GovernorClock")
    }
}

impl governor::clock::Clock for GovernorClock {
    type Instant = governor::nanos::Nanos;

    fn now(&self) -> Self::Instant {
        governor::nanos::Nanos::from(self.0.monotonic())
    }
}

/// A [`SharedClock`] on the machine's clocks (tests and tools that do not move time).
pub fn system_shared() -> SharedClock {
    std::sync::Arc::new(SystemClock::new())
}
