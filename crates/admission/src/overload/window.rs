//! [`Measurements`]: the bucketed windows and the figures derived from them once per bucket.

use std::time::Duration;

use super::config::AdaptiveConfig;
use super::histogram::LatencyHistogram;

/// One bucket of the recent window.
#[derive(Debug, Clone, Default)]
struct RecentBucket {
    /// Bucket number (clock time / bucket width) this slot holds; stale slots are reset.
    index: u64,
    completed: u64,
    latency_sum: Duration,
    histogram: LatencyHistogram,
}

/// Figures derived from the completed buckets, recomputed once per bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveEstimate {
    /// Most completions per second in one bucket of the recent window.
    pub max_throughput_per_sec: f64,
    /// Least latency over the min-latency window; `None` before the first completion.
    pub min_latency: Option<Duration>,
    /// Mean latency over the recent window; `None` if nothing completed in it.
    pub mean_latency: Option<Duration>,
    /// p99 latency over the recent window; `None` if nothing completed in it.
    pub latency_p99: Option<Duration>,
    /// Little's-law capacity, `max_throughput_per_sec × min_latency`, rounded up.
    pub capacity: Option<u64>,
    /// Mean latency of the last completed bucket; `None` if nothing completed in it.
    pub last_bucket_mean_latency: Option<Duration>,
    /// The last bucket's mean latency is at least `congestion_ratio ×` the min latency, or
    /// nothing completed in it while at least `in_flight_floor` were waiting (a stall).
    pub congested: bool,
    /// Something was shed in the previous bucket (the limit then stays, with headroom).
    pub shed_recently: bool,
    /// In-flight count at which capacity shedding starts (`u64::MAX`: none).
    pub shed_at_in_flight: u64,
    /// Whether the recent p99 is above the configured target.
    pub over_latency_target: bool,
    /// While over the target: the in-flight count that gives the target latency at the
    /// measured throughput (Little's law, `max_throughput_per_sec × target`), above which
    /// requests are shed; `u64::MAX` otherwise.
    pub latency_shed_at_in_flight: u64,
}

impl AdaptiveEstimate {
    /// Before any measurement: admit everything.
    pub(crate) const UNKNOWN: Self = Self {
        max_throughput_per_sec: 0.0,
        min_latency: None,
        mean_latency: None,
        latency_p99: None,
        capacity: None,
        last_bucket_mean_latency: None,
        congested: false,
        shed_recently: false,
        shed_at_in_flight: u64::MAX,
        over_latency_target: false,
        latency_shed_at_in_flight: u64::MAX,
    };
}

/// The windows. Lives behind the limiter's mutex.
#[derive(Debug)]
pub(crate) struct Measurements {
    config: AdaptiveConfig,
    recent: Vec<RecentBucket>,
    /// (bucket number, least latency in it) for the longer min-latency window.
    minimums: Vec<(u64, Option<Duration>)>,
}

impl Measurements {
    pub(crate) fn new(config: AdaptiveConfig) -> Self {
        // Slots start at bucket u64::MAX so that none is mistaken for bucket 0's data.
        let recent = (0..config.rate_window_buckets)
            .map(|_| RecentBucket {
                index: u64::MAX,
                ..RecentBucket::default()
            })
            .collect();
        let minimums = vec![(u64::MAX, None); config.min_latency_window_buckets as usize];
        Self {
            config,
            recent,
            minimums,
        }
    }

    /// Records one completion in bucket `index`.
    pub(crate) fn record(&mut self, index: u64, latency: Duration) {
        let slot = (index % self.recent.len() as u64) as usize;
        let bucket = &mut self.recent[slot];
        if bucket.index != index {
            bucket.index = index;
            bucket.completed = 0;
            bucket.latency_sum = Duration::ZERO;
            bucket.histogram.clear();
        }
        bucket.completed += 1;
        bucket.latency_sum = bucket.latency_sum.saturating_add(latency);
        bucket.histogram.record(latency);

        let slot = (index % self.minimums.len() as u64) as usize;
        let (held, least) = &mut self.minimums[slot];
        if *held != index {
            *held = index;
            *least = None;
        }
        *least = Some(least.map_or(latency, |least| least.min(latency)));
    }

    /// The estimate at the start of bucket `current`, from the buckets before it, with
    /// `in_flight` requests outstanding now and whether the previous bucket shed anything.
    pub(crate) fn estimate(
        &self,
        current: u64,
        in_flight: u64,
        shed_recently: bool,
    ) -> AdaptiveEstimate {
        let recent_from = current.saturating_sub(u64::from(self.config.rate_window_buckets));
        let in_recent = |index: u64| index != u64::MAX && index >= recent_from && index < current;
        let mut completed = 0_u64;
        let mut best_bucket = 0_u64;
        let mut latency_sum = Duration::ZERO;
        let mut histogram = LatencyHistogram::default();
        let mut last_bucket_mean_latency = None;
        for bucket in self.recent.iter().filter(|b| in_recent(b.index)) {
            completed += bucket.completed;
            best_bucket = best_bucket.max(bucket.completed);
            latency_sum = latency_sum.saturating_add(bucket.latency_sum);
            histogram.merge(&bucket.histogram);
            if bucket.index + 1 == current && bucket.completed > 0 {
                last_bucket_mean_latency = Some(Duration::from_secs_f64(
                    bucket.latency_sum.as_secs_f64() / bucket.completed as f64,
                ));
            }
        }
        let minimum_from =
            current.saturating_sub(u64::from(self.config.min_latency_window_buckets));
        let min_latency = self
            .minimums
            .iter()
            .filter(|(index, _)| *index != u64::MAX && *index >= minimum_from && *index < current)
            .filter_map(|(_, least)| *least)
            .min();

        let max_throughput_per_sec = best_bucket as f64 / self.config.bucket_width.as_secs_f64();
        let mean_latency = (completed > 0)
            .then(|| Duration::from_secs_f64(latency_sum.as_secs_f64() / completed as f64));
        let capacity =
            min_latency.map(|min| (max_throughput_per_sec * min.as_secs_f64()).ceil() as u64);
        let floor = u64::from(self.config.in_flight_floor);
        let congested = match (min_latency, last_bucket_mean_latency) {
            (Some(min), Some(mean)) => {
                mean.as_secs_f64() >= self.config.congestion_ratio * min.as_secs_f64()
            }
            // Calls completed before, none lately, and many are waiting: a stall.
            (Some(_), None) => in_flight >= floor,
            // Nothing measured yet: no basis for shedding.
            (None, _) => false,
        };
        // Congested: hold in flight at the capacity. Just shed but no longer congested: allow
        // `congestion_ratio ×` capacity, which probes upwards in case capacity grew. Neither:
        // no capacity limit (a burst under the knee is not shed).
        let shed_at_in_flight = match capacity {
            Some(capacity) if congested => capacity.max(floor),
            Some(capacity) if shed_recently => {
                ((capacity as f64 * self.config.congestion_ratio).ceil() as u64).max(floor)
            }
            _ => u64::MAX,
        };
        let latency_p99 = histogram.quantile(0.99);
        let (over_latency_target, latency_shed_at_in_flight) =
            match (self.config.latency_target_p99, latency_p99) {
                (Some(target), Some(p99)) if p99 > target => {
                    let in_flight = (max_throughput_per_sec * target.as_secs_f64()).ceil() as u64;
                    (true, in_flight.max(floor))
                }
                _ => (false, u64::MAX),
            };
        AdaptiveEstimate {
            max_throughput_per_sec,
            min_latency,
            mean_latency,
            latency_p99,
            capacity,
            last_bucket_mean_latency,
            congested,
            shed_recently,
            shed_at_in_flight,
            over_latency_target,
            latency_shed_at_in_flight,
        }
    }
}
