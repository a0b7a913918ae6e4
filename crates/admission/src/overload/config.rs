//! [`AdaptiveConfig`]: window shape, floor and targets of the adaptive limiter.

use std::time::Duration;

/// Most buckets in either window. Each recent bucket holds a latency histogram of
/// [`LATENCY_BINS`](super::histogram::LATENCY_BINS) counters (about 1 KiB), so this caps a
/// limiter near 1 MiB; 1,000 buckets of 100 ms is 100 s, far more history than shedding needs.
pub const MAX_WINDOW_BUCKETS: u32 = 1_000;

/// Narrowest bucket: 1 ms. Narrower buckets count too few completions to measure throughput.
pub const MIN_BUCKET_WIDTH: Duration = Duration::from_millis(1);

/// Widest bucket: 10 s. Wider ones react to a stampede too late to protect anything.
pub const MAX_BUCKET_WIDTH: Duration = Duration::from_secs(10);

/// How the [`AdaptiveLimiter`](super::AdaptiveLimiter) measures and when it sheds.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveConfig {
    /// Width of one measurement bucket. Derived figures are recomputed once per bucket, so
    /// this is also the limiter's reaction time.
    pub bucket_width: Duration,
    /// Buckets in the recent window, over which the max throughput (best bucket), the mean
    /// latency and the p99 are taken. Only completed buckets count.
    pub rate_window_buckets: u32,
    /// Buckets over which the minimum latency is taken. Longer than the recent window (BBR's
    /// 10 s min-RTT filter): under overload every recent call is slow, and Little's law needs
    /// the latency of an uncongested call.
    pub min_latency_window_buckets: u32,
    /// Nothing is shed while fewer than this many requests are in flight, so trivial load is
    /// never refused, whatever the (noisy) estimates say.
    pub in_flight_floor: u32,
    /// Capacity shedding applies only while the last bucket's mean latency is at least this
    /// many times the minimum latency (≥ 1.0). Below the knee latency stays flat, and a
    /// Little's-law estimate taken there is the *current* load, not the capacity: without
    /// this gate a burst under the knee would be shed (Sentinel gates on CPU load instead).
    /// Right after shedding, the limit is this many times the capacity: the headroom that
    /// lets the limit grow when the server gets faster.
    pub congestion_ratio: f64,
    /// Shed while the recent p99 latency exceeds this; `None` disables the rule.
    pub latency_target_p99: Option<Duration>,
}

impl Default for AdaptiveConfig {
    /// 100 ms buckets, 1 s recent window, 10 s min-latency window, floor 32, congestion at
    /// 1.5 × the minimum latency, no p99 target.
    fn default() -> Self {
        Self {
            bucket_width: Duration::from_millis(100),
            rate_window_buckets: 10,
            min_latency_window_buckets: 100,
            in_flight_floor: 32,
            congestion_ratio: 1.5,
            latency_target_p99: None,
        }
    }
}

/// An [`AdaptiveConfig`] field out of range; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adaptive limiter config: `{field}` {problem}")]
pub struct AdaptiveConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl AdaptiveConfig {
    /// Checks every field's range; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), AdaptiveConfigError> {
        let fail = |field, problem| Err(AdaptiveConfigError { field, problem });
        if self.bucket_width < MIN_BUCKET_WIDTH || self.bucket_width > MAX_BUCKET_WIDTH {
            return fail("bucket_width", "must be between 1 ms and 10 s");
        }
        if self.rate_window_buckets == 0 || self.rate_window_buckets > MAX_WINDOW_BUCKETS {
            return fail("rate_window_buckets", "must be in 1..=1000");
        }
        if self.min_latency_window_buckets < self.rate_window_buckets
            || self.min_latency_window_buckets > MAX_WINDOW_BUCKETS
        {
            return fail(
                "min_latency_window_buckets",
                "must be in rate_window_buckets..=1000",
            );
        }
        if !(self.congestion_ratio >= 1.0 && self.congestion_ratio.is_finite()) {
            return fail("congestion_ratio", "must be a finite number ≥ 1.0");
        }
        if self.latency_target_p99 == Some(Duration::ZERO) {
            return fail("latency_target_p99", "must be above zero");
        }
        Ok(())
    }
}
