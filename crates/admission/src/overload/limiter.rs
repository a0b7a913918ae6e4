//! [`AdaptiveLimiter`]: admit or shed by Little's law and a p99 target; RAII
//! [`AdaptivePermit`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::config::AdaptiveConfig;
use super::window::{AdaptiveEstimate, Measurements};
use crate::clock::{Clock, to_nanos};

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// In flight ≥ max throughput × min latency (the measured capacity) while congested.
    Capacity,
    /// The recent p99 latency is above the configured target.
    LatencyTarget,
}

impl ShedReason {
    /// A stable name for metrics and logs: `capacity` or `latency_target`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Capacity => "capacity",
            Self::LatencyTarget => "latency_target",
        }
    }
}

/// The decision, as a value.
#[derive(Debug)]
#[must_use = "an admitted request holds its slot until the permit is dropped"]
pub enum Admission<C: Clock> {
    /// Go ahead; drop (or [`finish`](AdaptivePermit::finish)) the permit when done.
    Admit(AdaptivePermit<C>),
    /// Refuse now (503 `overloaded`).
    Shed {
        /// Which rule shed it.
        reason: ShedReason,
    },
}

/// Adaptive overload protection (Sentinel's system rule, the BBR idea).
///
/// Tracks requests in flight, and per bucket of `bucket_width` the completions, latencies
/// and their minimum. Once per bucket it derives an [`AdaptiveEstimate`]; a new request is
/// shed when at least `in_flight_floor` are in flight and either
/// - **capacity**: in flight ≥ `max_throughput_per_sec × min_latency` while congested (the
///   last bucket's mean latency ≥ `congestion_ratio ×` min latency, or nothing completing
///   at all); in the bucket after a shed, in flight ≥ `congestion_ratio ×` that capacity
///   (headroom to find out whether capacity grew); otherwise never; or
/// - **latency target**: the recent p99 is above `latency_target_p99` and in flight ≥
///   `max_throughput_per_sec × latency_target_p99` (by Little's law, the load at which the
///   measured throughput gives the target latency: shed the excess, not everything).
///
/// # Cost and exactness
/// `try_admit` reads the clock and three atomics and takes no lock (the once-per-bucket
/// recompute uses `try_lock`, so an admit never waits). Finishing takes the window mutex for
/// a few additions. The in-flight check and increment are two steps, so concurrent admits may
/// pass the limit by at most the number of threads admitting at that instant.
#[derive(Debug)]
pub struct AdaptiveLimiter<C: Clock> {
    shared: Arc<Shared<C>>,
}

impl<C: Clock> Clone for AdaptiveLimiter<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Debug)]
struct Shared<C> {
    clock: C,
    bucket_nanos: u64,
    in_flight_floor: u64,
    in_flight: AtomicU64,
    /// Mirror of `estimate.shed_at_in_flight`, read by every admit.
    shed_at_in_flight: AtomicU64,
    /// Mirror of `estimate.latency_shed_at_in_flight`.
    latency_shed_at_in_flight: AtomicU64,
    /// The bucket the estimate was made at the start of.
    estimated_bucket: AtomicU64,
    /// The last bucket in which a request was shed (`u64::MAX`: never).
    last_shed_bucket: AtomicU64,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    measurements: Measurements,
    estimate: AdaptiveEstimate,
}

impl<C: Clock> AdaptiveLimiter<C> {
    /// A limiter that admits everything until it has measured something.
    ///
    /// # Panics
    /// If `config` fails [`AdaptiveConfig::validate`].
    pub fn new(config: AdaptiveConfig, clock: C) -> Self {
        if let Err(error) = config.validate() {
            panic!("AdaptiveLimiter::new: {error}");
        }
        let bucket_nanos = to_nanos(config.bucket_width);
        let estimated_bucket = clock.monotonic_nanos() / bucket_nanos;
        let shared = Shared {
            clock,
            bucket_nanos,
            in_flight_floor: u64::from(config.in_flight_floor),
            in_flight: AtomicU64::new(0),
            shed_at_in_flight: AtomicU64::new(u64::MAX),
            latency_shed_at_in_flight: AtomicU64::new(u64::MAX),
            estimated_bucket: AtomicU64::new(estimated_bucket),
            last_shed_bucket: AtomicU64::new(u64::MAX),
            window: Mutex::new(Window {
                measurements: Measurements::new(config),
                estimate: AdaptiveEstimate::UNKNOWN,
            }),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Admits or sheds one request now.
    pub fn try_admit(&self) -> Admission<C> {
        let shared = &*self.shared;
        let now = shared.clock.monotonic();
        let bucket = to_nanos(now) / shared.bucket_nanos;
        if shared.estimated_bucket.load(Ordering::Acquire) < bucket
            && let Some(mut window) = shared.window.try_lock()
        {
            shared.refresh(&mut window, bucket);
        }
        let in_flight = shared.in_flight.load(Ordering::Acquire);
        if in_flight >= shared.in_flight_floor {
            let reason = if in_flight >= shared.shed_at_in_flight.load(Ordering::Acquire) {
                Some(ShedReason::Capacity)
            } else if in_flight >= shared.latency_shed_at_in_flight.load(Ordering::Acquire) {
                Some(ShedReason::LatencyTarget)
            } else {
                None
            };
            if let Some(reason) = reason {
                shared.last_shed_bucket.store(bucket, Ordering::Relaxed);
                return Admission::Shed { reason };
            }
        }
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        Admission::Admit(AdaptivePermit {
            shared: Some(Arc::clone(&self.shared)),
            started: now,
        })
    }

    /// Requests admitted and not finished.
    pub fn in_flight(&self) -> u64 {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// The figures the current decisions are based on (for metrics and tests).
    pub fn estimate(&self) -> AdaptiveEstimate {
        self.shared.window.lock().estimate
    }
}

impl<C: Clock> Shared<C> {
    /// Recomputes the estimate at the start of `bucket` (lock held).
    fn refresh(&self, window: &mut Window, bucket: u64) {
        if self.estimated_bucket.load(Ordering::Acquire) >= bucket {
            return; // another thread got here first
        }
        let in_flight = self.in_flight.load(Ordering::Acquire);
        let last_shed = self.last_shed_bucket.load(Ordering::Relaxed);
        let shed_recently = last_shed != u64::MAX && last_shed + 1 >= bucket;
        window.estimate = window
            .measurements
            .estimate(bucket, in_flight, shed_recently);
        self.shed_at_in_flight
            .store(window.estimate.shed_at_in_flight, Ordering::Release);
        self.latency_shed_at_in_flight
            .store(window.estimate.latency_shed_at_in_flight, Ordering::Release);
        self.estimated_bucket.store(bucket, Ordering::Release);
    }

    fn finish(&self, started: Duration) {
        let now = self.clock.monotonic();
        let bucket = to_nanos(now) / self.bucket_nanos;
        let previous = self.in_flight.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(previous > 0, "AdaptivePermit finished with none in flight");
        let mut window = self.window.lock();
        // Estimate first, so the estimate for a new bucket sees only completed buckets.
        self.refresh(&mut window, bucket);
        window
            .measurements
            .record(bucket, now.saturating_sub(started));
    }
}

/// One admitted request. Dropping it (or calling [`finish`](Self::finish)) frees its
/// in-flight slot and records its latency, so a cancelled request is measured too.
#[derive(Debug)]
#[must_use = "the request is counted finished as soon as the permit is dropped"]
pub struct AdaptivePermit<C: Clock> {
    /// `None` once finished.
    shared: Option<Arc<Shared<C>>>,
    started: Duration,
}

impl<C: Clock> AdaptivePermit<C> {
    /// Marks the request finished now (the same as dropping the permit, but explicit).
    pub fn finish(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.finish(self.started);
        }
    }
}

impl<C: Clock> Drop for AdaptivePermit<C> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.finish(self.started);
        }
    }
}
