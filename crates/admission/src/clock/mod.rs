//! The monotonic clock every admission limiter decides on (STYLE §8).
//!
//! Time is a [`Duration`] since an arbitrary origin: limiters only subtract two readings or add
//! a wait, so no wall-clock meaning is needed. [`SystemClock`] is the only place in the crate's
//! limiters that reads the real clock; tests drive a [`FakeClock`] by hand.
//!
//! The breaker and the adaptive limiter use it too.
//! The governor-based [`keyed_rate`](crate::keyed_rate) keeps governor's own clock trait, and
//! [`queued_in_flight`](crate::queued_in_flight) waits on tokio's clock, which tests pause.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source.
pub trait Clock: Send + Sync + 'static {
    /// Time since this clock's origin; never goes backwards.
    fn now(&self) -> Duration;

    /// [`now`](Self::now) in whole nanoseconds (saturating after 584 years).
    fn now_nanos(&self) -> u64 {
        to_nanos(self.now())
    }
}

/// The real monotonic clock. Cheap to copy; all copies share one origin.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is the moment of this call.
    #[allow(clippy::disallowed_methods)] // the one place the limiters read the real clock
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the limiters read the real clock
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }
}

/// The production fast clock: governor's TSC-based quanta clock (the one
/// [`keyed_rate`](crate::keyed_rate) runs on), behind this crate's [`Clock`].
///
/// `Instant::now` costs about 44 ns on the dev VM (`resilience/clock_now_for_reference` in
/// `benches/decision.rs`), more than a whole GCRA decision; quanta reads the TSC in a few.
/// Monotonic like [`SystemClock`]; prefer it on the request path.
#[derive(Debug, Clone)]
pub struct QuantaClock {
    clock: governor::clock::QuantaClock,
    origin: governor::clock::QuantaInstant,
}

impl QuantaClock {
    /// A clock whose origin is the moment of this call.
    pub fn new() -> Self {
        use governor::clock::Clock as _;
        let clock = governor::clock::QuantaClock::default();
        let origin = clock.now();
        Self { clock, origin }
    }
}

impl Default for QuantaClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for QuantaClock {
    fn now(&self) -> Duration {
        use governor::clock::{Clock as _, Reference as _};
        self.clock.now().duration_since(self.origin).into()
    }
}

/// A clock tests move by hand. Clones share one reading.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock reading `start`.
    pub fn new(start: Duration) -> Self {
        let clock = Self::default();
        clock.set(start);
        clock
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(to_nanos(by), Ordering::SeqCst);
    }

    /// Sets the reading to `to`.
    ///
    /// # Panics
    /// If `to` is before the current reading: a monotonic clock never goes backwards.
    pub fn set(&self, to: Duration) {
        let previous = self.nanos.swap(to_nanos(to), Ordering::SeqCst);
        assert!(
            previous <= to_nanos(to),
            "FakeClock::set: a monotonic clock cannot go back"
        );
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// Nanoseconds in `duration`, saturating (u64 nanoseconds last 584 years).
pub fn to_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_advances_and_clones_share_it() {
        let clock = FakeClock::new(Duration::from_secs(5));
        let clone = clock.clone();
        clock.advance(Duration::from_millis(1));
        assert_eq!(clone.now(), Duration::from_millis(5_001));
        assert_eq!(clone.now_nanos(), 5_001_000_000);
    }

    #[test]
    #[should_panic(expected = "cannot go back")]
    fn fake_clock_refuses_to_go_back() {
        FakeClock::new(Duration::from_secs(2)).set(Duration::from_secs(1));
    }

    #[test]
    fn real_clocks_are_monotonic() {
        let system = SystemClock::new();
        let quanta = QuantaClock::new();
        let (first_system, first_quanta) = (system.now(), quanta.now());
        std::thread::sleep(Duration::from_millis(2));
        assert!(system.now() >= first_system + Duration::from_millis(2));
        assert!(quanta.now() >= first_quanta + Duration::from_millis(1));
    }
}
