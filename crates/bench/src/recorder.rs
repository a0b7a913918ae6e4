//! Measurements: HDR latency histograms and outcome counts per population, plus a per-second
//! timeline. Live recording goes through `shared_recorder`; this is the merged result.

use crate::outcome::Outcome;
use crate::population::Population;
use hdrhistogram::Histogram;
use std::time::Duration;

/// Largest latency tracked, microseconds: above the request timeout, so nothing saturates.
pub(crate) const MAX_TRACKED_LATENCY_US: u64 = 60_000_000;
/// Significant figures of the run histograms (0.1% value resolution).
pub(crate) const SIGNIFICANT_FIGURES: u8 = 3;
/// Significant figures of the per-second histograms: 1% is plenty for a plot and keeps
/// `MAX_TIMELINE_SECS` of them small.
pub(crate) const TIMELINE_SIGNIFICANT_FIGURES: u8 = 2;
/// Timeline length cap, seconds: the longest run plus the request timeout tail.
pub(crate) const MAX_TIMELINE_SECS: usize = 700;

/// A fresh latency histogram in microseconds.
pub(crate) fn new_histogram(significant_figures: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_LATENCY_US, significant_figures)
        .expect("static histogram bounds are valid")
}

/// Latency and outcome counts for one group of requests.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latencies in microseconds.
    pub latency_us: Histogram<u64>,
    /// Count per [`Outcome::index`].
    pub outcomes: [u64; Outcome::COUNT],
}

impl Tally {
    /// Empty, with `significant_figures` histogram precision.
    pub fn new(significant_figures: u8) -> Self {
        Self {
            latency_us: new_histogram(significant_figures),
            outcomes: [0; Outcome::COUNT],
        }
    }

    /// Records one request.
    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency_us.saturating_record(micros);
        self.outcomes[outcome.index()] += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        // Same bounds on both sides, so adding cannot fail.
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share bounds");
        for (mine, theirs) in self.outcomes.iter_mut().zip(other.outcomes) {
            *mine += theirs;
        }
    }

    /// Requests recorded.
    pub fn requests(&self) -> u64 {
        self.outcomes.iter().sum()
    }
}

/// Everything one worker measured.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    /// One tally per [`Population::index`].
    pub by_population: Vec<Tally>,
    /// One tally per second since the run started (by completion time).
    pub timeline: Vec<Tally>,
    /// Open-loop slots skipped because no user was ready (0 in closed loop).
    pub skipped_slots: u64,
    /// TCP connections opened.
    pub connects: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// Empty.
    pub(crate) fn new() -> Self {
        Self {
            by_population: Population::ALL
                .iter()
                .map(|_| Tally::new(SIGNIFICANT_FIGURES))
                .collect(),
            timeline: Vec::new(),
            skipped_slots: 0,
            connects: 0,
        }
    }

    #[cfg(test)]
    /// Records a request of `population` that completed `since_start` after the run began.
    pub(crate) fn record(
        &mut self,
        population: Population,
        outcome: Outcome,
        latency: Duration,
        since_start: Duration,
    ) {
        self.by_population[population.index()].record(outcome, latency);
        let second = usize::try_from(since_start.as_secs())
            .unwrap_or(usize::MAX)
            .min(MAX_TIMELINE_SECS - 1);
        if self.timeline.len() <= second {
            self.timeline
                .resize_with(second + 1, || Tally::new(TIMELINE_SIGNIFICANT_FIGURES));
        }
        self.timeline[second].record(outcome, latency);
    }

    #[cfg(test)]
    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.by_population.iter_mut().zip(&other.by_population) {
            mine.merge(theirs);
        }
        if self.timeline.len() < other.timeline.len() {
            self.timeline.resize_with(other.timeline.len(), || {
                Tally::new(TIMELINE_SIGNIFICANT_FIGURES)
            });
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            mine.merge(theirs);
        }
        self.skipped_slots += other.skipped_slots;
        self.connects += other.connects;
    }

    /// All populations together.
    pub(crate) fn overall(&self) -> Tally {
        let mut total = Tally::new(SIGNIFICANT_FIGURES);
        for tally in &self.by_population {
            total.merge(tally);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_latencies() {
        let mut first = Recorder::new();
        let mut second = Recorder::new();
        for millis in 1..=100 {
            first.record(
                Population::Clicker,
                Outcome::Won,
                Duration::from_millis(millis),
                Duration::from_millis(millis * 10),
            );
        }
        second.record(
            Population::Bot,
            Outcome::RateLimited,
            Duration::from_secs(2),
            Duration::from_millis(500),
        );
        first.merge(&second);
        let overall = first.overall();
        assert_eq!(overall.requests(), 101);
        assert_eq!(overall.outcomes[Outcome::Won.index()], 100);
        assert_eq!(overall.outcomes[Outcome::RateLimited.index()], 1);
        // Completions at 10..=990 ms and the bot's 500 ms land in second 0; 1000 ms in second 1.
        assert_eq!(first.timeline.len(), 2);
        assert_eq!(first.timeline[0].requests(), 100);
        assert_eq!(first.timeline[1].requests(), 1);
        assert!(overall.latency_us.max() >= 1_999_000);
    }

    #[test]
    fn zero_latency_is_recorded_as_one_microsecond() {
        let mut tally = Tally::new(SIGNIFICANT_FIGURES);
        tally.record(Outcome::Won, Duration::ZERO);
        assert_eq!(tally.latency_us.min(), 1);
    }
}
