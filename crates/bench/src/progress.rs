//! Live counters shared by the workers, and the once-a-second progress line on stderr.

use crate::clock::Clock;
use crate::outcome::Outcome;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often progress is printed.
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// Counters the workers bump as responses arrive (relaxed: they only feed the progress line;
/// the report uses the workers' own exact tallies).
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    outcomes: [AtomicU64; Outcome::COUNT],
}

impl LiveCounters {
    /// Counts one response.
    pub(crate) fn count(&self, outcome: Outcome) {
        self.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> [u64; Outcome::COUNT] {
        std::array::from_fn(|index| self.outcomes[index].load(Ordering::Relaxed))
    }
}

/// Formats one progress line from two snapshots `interval` apart.
pub(crate) fn progress_line(
    elapsed: Duration,
    now: &[u64; Outcome::COUNT],
    previous: &[u64; Outcome::COUNT],
    interval: Duration,
) -> String {
    let total: u64 = now.iter().sum();
    let delta = total - previous.iter().sum::<u64>();
    let rate = delta as f64 / interval.as_secs_f64().max(f64::EPSILON);
    let count = |outcome: Outcome| now[outcome.index()];
    let errors: u64 = [
        Outcome::UnexpectedResponse,
        Outcome::ConnectError,
        Outcome::Timeout,
        Outcome::TransportError,
    ]
    .into_iter()
    .map(count)
    .sum();
    format!(
        "[{:>4}s] {total} requests ({rate:.0}/s) | won {} already_won {} sold_out {} rate_limited {} overloaded {} blocked {} errors {errors}",
        elapsed.as_secs(),
        count(Outcome::Won),
        count(Outcome::AlreadyWon),
        count(Outcome::SoldOut),
        count(Outcome::RateLimited),
        count(Outcome::Overloaded),
        count(Outcome::Blocked),
    )
}

/// Prints a progress line every [`PROGRESS_INTERVAL`] until the handle is aborted.
pub(crate) fn spawn_printer(counters: Arc<LiveCounters>, clock: Arc<dyn Clock>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = clock.now();
        let mut previous = counters.snapshot();
        let mut ticker = tokio::time::interval_at(start + PROGRESS_INTERVAL, PROGRESS_INTERVAL);
        loop {
            ticker.tick().await;
            let now = counters.snapshot();
            eprintln!(
                "{}",
                progress_line(clock.now() - start, &now, &previous, PROGRESS_INTERVAL)
            );
            previous = now;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_rate_and_counts() {
        let mut previous = [0; Outcome::COUNT];
        previous[Outcome::Won.index()] = 10;
        let mut now = previous;
        now[Outcome::Won.index()] = 30;
        now[Outcome::Timeout.index()] = 5;
        let line = progress_line(
            Duration::from_secs(3),
            &now,
            &previous,
            Duration::from_secs(1),
        );
        assert!(line.contains("35 requests (25/s)"), "{line}");
        assert!(line.contains("won 30"), "{line}");
        assert!(line.contains("errors 5"), "{line}");
    }
}
