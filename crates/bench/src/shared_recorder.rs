//! The recorder the load workers write into while the run is live.
//!
//! Memory, not speed, drives this shape: a 3-significant-figure histogram over 1 µs–60 s is
//! ~128 KiB, so one per population per worker would cost 0.5 MiB × connections (5 GiB at the
//! connection limit), and a per-worker timeline would grow by connections × seconds. Instead
//! workers share [`RECORDER_SHARDS`] mutex-guarded shards (one short lock per response, no
//! await while held); each shard keeps only the current second's tally and folds it into one
//! global timeline when the second changes.

use crate::outcome::Outcome;
use crate::population::Population;
use crate::recorder::{
    MAX_TIMELINE_SECS, Recorder, SIGNIFICANT_FIGURES, TIMELINE_SIGNIFICANT_FIGURES, Tally,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Shards of the live recorder: several per core on the machines we run on (2–16 cores), so two
/// workers rarely wait on one lock; memory is 16 × ~0.5 MiB.
pub(crate) const RECORDER_SHARDS: usize = 16;

struct Shard {
    by_population: Vec<Tally>,
    second: usize,
    current: Tally,
}

impl Shard {
    fn new() -> Self {
        Self {
            by_population: Population::ALL
                .iter()
                .map(|_| Tally::new(SIGNIFICANT_FIGURES))
                .collect(),
            second: 0,
            current: Tally::new(TIMELINE_SIGNIFICANT_FIGURES),
        }
    }
}

/// Thread-safe recorder shared by all workers of a run.
pub(crate) struct SharedRecorder {
    shards: Vec<Mutex<Shard>>,
    timeline: Mutex<Vec<Tally>>,
    skipped_slots: AtomicU64,
    connects: AtomicU64,
}

impl Default for SharedRecorder {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked mid-record left at worst one count half-applied; the run reports
    // the panic itself, so keep going with the data.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SharedRecorder {
    /// Empty.
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..RECORDER_SHARDS)
                .map(|_| Mutex::new(Shard::new()))
                .collect(),
            timeline: Mutex::new(Vec::new()),
            skipped_slots: AtomicU64::new(0),
            connects: AtomicU64::new(0),
        }
    }

    /// Records one response from `worker`, completed `since_start` after the run began.
    pub(crate) fn record(
        &self,
        worker: usize,
        population: Population,
        outcome: Outcome,
        latency: Duration,
        since_start: Duration,
    ) {
        let second = usize::try_from(since_start.as_secs())
            .unwrap_or(usize::MAX)
            .min(MAX_TIMELINE_SECS - 1);
        let mut shard = lock(&self.shards[worker % RECORDER_SHARDS]);
        shard.by_population[population.index()].record(outcome, latency);
        if second != shard.second {
            let finished = shard.second;
            self.fold_into_timeline(finished, &shard.current);
            shard.current.latency_us.reset();
            shard.current.outcomes = [0; Outcome::COUNT];
            shard.second = second;
        }
        shard.current.record(outcome, latency);
    }

    fn fold_into_timeline(&self, second: usize, tally: &Tally) {
        if tally.requests() == 0 {
            return;
        }
        let mut timeline = lock(&self.timeline);
        if timeline.len() <= second {
            timeline.resize_with(second + 1, || Tally::new(TIMELINE_SIGNIFICANT_FIGURES));
        }
        timeline[second].merge(tally);
    }

    /// Adds open-loop slots that found no ready user.
    pub(crate) fn add_skipped_slots(&self, count: u64) {
        self.skipped_slots.fetch_add(count, Ordering::Relaxed);
    }

    /// Adds TCP connections opened.
    pub(crate) fn add_connects(&self, count: u64) {
        self.connects.fetch_add(count, Ordering::Relaxed);
    }

    /// Folds every shard into one [`Recorder`] (call after the workers finished).
    pub(crate) fn finish(&self) -> Recorder {
        let mut recorder = Recorder::new();
        for shard in &self.shards {
            let shard = lock(shard);
            self.fold_into_timeline(shard.second, &shard.current);
            for (total, part) in recorder.by_population.iter_mut().zip(&shard.by_population) {
                total.merge(part);
            }
        }
        recorder.timeline = std::mem::take(&mut *lock(&self.timeline));
        recorder.skipped_slots = self.skipped_slots.load(Ordering::Relaxed);
        recorder.connects = self.connects.load(Ordering::Relaxed);
        recorder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_seconds_fold_into_one_recorder() {
        let shared = SharedRecorder::new();
        for worker in 0..40 {
            for second in [0u64, 1, 0, 3] {
                shared.record(
                    worker,
                    Population::Bot,
                    Outcome::SoldOut,
                    Duration::from_millis(worker as u64 + 1),
                    Duration::from_millis(second * 1_000 + 10),
                );
            }
        }
        shared.add_connects(3);
        let recorder = shared.finish();
        let overall = recorder.overall();
        assert_eq!(overall.requests(), 160);
        assert_eq!(
            recorder.by_population[Population::Bot.index()].requests(),
            160
        );
        assert_eq!(recorder.timeline.len(), 4);
        let per_second: Vec<u64> = recorder.timeline.iter().map(Tally::requests).collect();
        assert_eq!(per_second, [80, 40, 0, 40]);
        assert_eq!(recorder.connects, 3);
        assert!(overall.latency_us.max() >= 39_900);
    }
}
