//! Time for Stampede, injected everywhere (a pure core, testable limiters and timers).
//!
//! One abstraction, [`Clock`], gives both readings the code needs:
//! - [`Clock::now`], the **wall clock** in [`UnixMillis`]: campaign windows, order and payment
//!   times, deadlines, token expiry. It may jump (NTP), so nothing measures intervals on it.
//! - [`Clock::monotonic`], a **monotonic** [`Duration`] since the clock's origin: rate
//!   limiters, breakers, backoffs, throttles. It never goes backwards.
//!
//! [`SystemClock`] is the real one and [`ManualClock`] the one tests move by hand (both
//! readings advance together, so a test that moves it drives expiry and rate limits alike);
//! [`TokioClock`] follows tokio's clock, for tests on paused time.
//! This crate is the only place allowed to read the machine's clocks: `clippy.toml` bans
//! `Instant::now` and `SystemTime::now` everywhere else. [`stopwatch`] is the one exception
//! outside a [`Clock`]: it times latencies for metrics and decides nothing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time as milliseconds since the Unix epoch. The core never reads a clock: every
/// operation is handed `now` by its caller.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// `self + secs` seconds, saturating.
    pub fn plus_secs(self, secs: u64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// `self + duration`, saturating (whole milliseconds).
    pub fn plus(self, duration: Duration) -> UnixMillis {
        UnixMillis(self.0.saturating_add(millis(duration)))
    }
}

impl fmt::Debug for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// A source of time: the wall clock and a monotonic clock, read together from one object so
/// a test can move both at once.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (wall clock).
    fn now(&self) -> UnixMillis;

    /// Time since this clock's origin; never goes backwards.
    fn monotonic(&self) -> Duration;

    /// [`Clock::monotonic`] in whole nanoseconds (saturating after 584 years).
    fn monotonic_nanos(&self) -> u64 {
        nanos(self.monotonic())
    }
}

/// A clock shared by everything one server builds (its engine, limiters, breakers, jobs).
pub type SharedClock = Arc<dyn Clock>;

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> UnixMillis {
        (**self).now()
    }

    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
}

/// The machine's clocks: `SystemTime` for the wall clock, the TSC (through quanta, a few
/// nanoseconds a reading instead of `Instant::now`'s ~44 ns on the dev VM) for the monotonic
/// one. Cheap to clone; clones share one origin.
#[derive(Clone, Debug)]
pub struct SystemClock {
    tsc: quanta::Clock,
    origin: quanta::Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is the moment of this call.
    #[allow(clippy::disallowed_methods)] // the one place the monotonic clock is read
    pub fn new() -> Self {
        let tsc = quanta::Clock::new();
        let origin = tsc.now();
        Self { tsc, origin }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the wall clock is read
    fn now(&self) -> UnixMillis {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        UnixMillis(millis(since_epoch))
    }

    #[allow(clippy::disallowed_methods)] // the one place the monotonic clock is read
    fn monotonic(&self) -> Duration {
        self.tsc.now().saturating_duration_since(self.origin)
    }
}

/// A clock tests move by hand. Clones share one reading. Both readings start where the
/// constructor says and move forward together ([`ManualClock::advance`]); the wall clock may
/// also be set anywhere on its own ([`ManualClock::set`], like an NTP step), the monotonic one
/// only forward.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    wall_millis: Arc<AtomicU64>,
    monotonic_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock showing `start` on the wall, its monotonic reading at zero.
    pub fn new(start: UnixMillis) -> Self {
        let clock = Self::default();
        clock.wall_millis.store(start.0, Ordering::SeqCst);
        clock
    }

    /// A clock whose monotonic reading starts at `start` (the wall clock at the epoch): for
    /// components that only read the monotonic clock.
    pub fn at_monotonic(start: Duration) -> Self {
        let clock = Self::default();
        clock.monotonic_nanos.store(nanos(start), Ordering::SeqCst);
        clock
    }

    /// Moves both readings forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.wall_millis.fetch_add(millis(by), Ordering::SeqCst);
        self.monotonic_nanos.fetch_add(nanos(by), Ordering::SeqCst);
    }

    /// Sets the wall clock to `to` (forward or back); the monotonic reading moves forward by
    /// as much as the wall clock did, or stays if it went back.
    pub fn set(&self, to: UnixMillis) {
        let before = self.wall_millis.swap(to.0, Ordering::SeqCst);
        let forward = Duration::from_millis(to.0.saturating_sub(before));
        self.monotonic_nanos
            .fetch_add(nanos(forward), Ordering::SeqCst);
    }

    /// Sets the monotonic reading to `to` (the wall clock moves forward as much).
    ///
    /// # Panics
    /// If `to` is before the current reading: a monotonic clock never goes backwards.
    pub fn set_monotonic(&self, to: Duration) {
        let before = self.monotonic_nanos.swap(nanos(to), Ordering::SeqCst);
        assert!(
            before <= nanos(to),
            "ManualClock::set_monotonic: a monotonic clock cannot go back"
        );
        let forward = Duration::from_nanos(nanos(to) - before);
        self.wall_millis
            .fetch_add(millis(forward), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.wall_millis.load(Ordering::SeqCst))
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.monotonic_nanos.load(Ordering::SeqCst))
    }
}

/// tokio's clock as a [`Clock`]: the monotonic reading is tokio's `Instant` (which a test
/// with paused time advances as timers fire), the wall clock follows it from `start`. For
/// tests whose timers and decisions must move together.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
    start: UnixMillis,
}

impl TokioClock {
    /// A clock showing `start` on the wall now, its monotonic reading at zero.
    pub fn new(start: UnixMillis) -> Self {
        Self {
            origin: tokio::time::Instant::now(),
            start,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> UnixMillis {
        self.start.plus(self.monotonic())
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A monotonic instant for measuring latency (metrics and logs only; never for a decision:
/// decisions read a [`Clock`]).
#[allow(clippy::disallowed_methods)] // latency measurement is not a decision
pub fn stopwatch() -> Instant {
    Instant::now()
}

/// Whole nanoseconds in `duration`, saturating (u64 nanoseconds last 584 years).
pub fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Whole milliseconds in `duration`, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_both_readings_and_clones_share_them() {
        let clock = ManualClock::new(UnixMillis(1_000));
        let clone = clock.clone();
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clone.now(), UnixMillis(2_500));
        assert_eq!(clone.monotonic(), Duration::from_millis(1_500));
        assert_eq!(clone.monotonic_nanos(), 1_500_000_000);
        // The wall clock steps back (NTP); the monotonic reading does not.
        clock.set(UnixMillis(500));
        assert_eq!(clock.now(), UnixMillis(500));
        assert_eq!(clock.monotonic(), Duration::from_millis(1_500));
        clock.set(UnixMillis(700));
        assert_eq!(clock.monotonic(), Duration::from_millis(1_700));
        clock.set_monotonic(Duration::from_secs(2));
        assert_eq!(clock.now(), UnixMillis(1_000));
    }

    #[test]
    #[should_panic(expected = "cannot go back")]
    fn a_manual_monotonic_clock_refuses_to_go_back() {
        ManualClock::at_monotonic(Duration::from_secs(2)).set_monotonic(Duration::from_secs(1));
    }

    #[test]
    fn the_system_clock_is_monotonic_and_near_the_wall() {
        let clock = SystemClock::new();
        let first = clock.monotonic();
        let wall = clock.now();
        assert!(wall.0 > 1_700_000_000_000, "after 2023: {wall:?}");
        let started = stopwatch();
        while started.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        assert!(clock.monotonic() >= first + Duration::from_millis(1));
    }
}
