//! When a refund the channel could not take is tried again, and what of it is worth a log
//! line. Pure: the caller passes `now` (a monotonic reading), so tests drive time.
//!
//! The schedule: [`FIRST_REFUND_BACKOFF`], doubling after each failure up to
//! [`MAX_REFUND_BACKOFF`], then every [`MAX_REFUND_BACKOFF`] for as long as the refund stays
//! pending (a channel back from an outage takes it within that). Each step up is logged once
//! (a warning), reaching the longest wait once more (an error: the refund is *stuck*), and
//! after that the stuck refunds are summed up in one line per [`STUCK_REFUND_REPORT_INTERVAL`]
//! however many there are. So a refund that can never complete writes a handful of lines, not
//! one a minute forever.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use stampede_core::ChannelName;

/// First wait after a failure: the jobs' own tick, so a blip costs one pass.
pub const FIRST_REFUND_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between two tries of one refund: a channel that comes back (or a declined
/// refund an operator settled on the channel's side) is seen within a minute, and a refund
/// stuck for good costs its channel one call a minute.
pub const MAX_REFUND_BACKOFF: Duration = Duration::from_secs(60);
/// How often the stuck refunds are summed up in the log while any remain.
pub const STUCK_REFUND_REPORT_INTERVAL: Duration = Duration::from_secs(3_600);

/// A refund, by its payment: `(channel, txn_id)`.
pub type RefundKey = (ChannelName, String);

/// What one failure did to a refund's schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackoffStep {
    /// The wait grew to `wait` (worth a warning).
    SteppedUp {
        /// The next try is this far off.
        wait: Duration,
    },
    /// The wait reached [`MAX_REFUND_BACKOFF`] just now: the refund is stuck (worth an error,
    /// once).
    Stuck,
    /// Still at [`MAX_REFUND_BACKOFF`] (nothing to log: the periodic summary covers it).
    StillStuck,
}

#[derive(Clone, Copy, Debug)]
struct Retry {
    at: Duration,
    wait: Duration,
}

/// The schedule of every refund that failed and is still pending. Holds only the refunds of
/// the latest scan ([`RefundBackoff::retain`]), so it is bounded by the scan's limit.
#[derive(Debug, Default)]
pub struct RefundBackoff {
    retries: HashMap<RefundKey, Retry>,
    last_report: Option<Duration>,
}

impl RefundBackoff {
    /// Refunds with a schedule (failed at least once and still pending).
    pub fn len(&self) -> usize {
        self.retries.len()
    }

    /// Whether no refund is backing off.
    pub fn is_empty(&self) -> bool {
        self.retries.is_empty()
    }

    /// Whether `key` may be tried at `now` (never failed, or its wait is over).
    pub fn is_due(&self, key: &RefundKey, now: Duration) -> bool {
        self.retries.get(key).is_none_or(|retry| retry.at <= now)
    }

    /// Records a failed try of `key` at `now` and schedules the next.
    pub fn failed(&mut self, key: RefundKey, now: Duration) -> BackoffStep {
        let last = self.retries.get(&key).map(|retry| retry.wait);
        let wait = last.map_or(FIRST_REFUND_BACKOFF, |w| {
            w.saturating_mul(2).min(MAX_REFUND_BACKOFF)
        });
        self.retries.insert(
            key,
            Retry {
                at: now + wait,
                wait,
            },
        );
        match last {
            Some(last) if last == MAX_REFUND_BACKOFF => BackoffStep::StillStuck,
            _ if wait == MAX_REFUND_BACKOFF => BackoffStep::Stuck,
            _ => BackoffStep::SteppedUp { wait },
        }
    }

    /// Forgets `key`: its refund is confirmed.
    pub fn succeeded(&mut self, key: &RefundKey) {
        self.retries.remove(key);
    }

    /// Keeps only the refunds in `pending` (the rest are done or gone).
    pub fn retain(&mut self, pending: &HashSet<(&str, &str)>) {
        self.retries
            .retain(|(channel, txn), _| pending.contains(&(channel.as_str(), txn.as_str())));
    }

    /// Refunds waiting the longest wait.
    pub fn stuck(&self) -> usize {
        self.retries
            .values()
            .filter(|retry| retry.wait == MAX_REFUND_BACKOFF)
            .count()
    }

    /// The number of stuck refunds when a summary line is due at `now` (one per
    /// [`STUCK_REFUND_REPORT_INTERVAL`] while any are stuck), else `None`.
    pub fn stuck_report(&mut self, now: Duration) -> Option<usize> {
        let stuck = self.stuck();
        let due = self
            .last_report
            .is_none_or(|last| now.saturating_sub(last) >= STUCK_REFUND_REPORT_INTERVAL);
        if stuck == 0 || !due {
            return None;
        }
        self.last_report = Some(now);
        Some(stuck)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(txn: &str) -> RefundKey {
        (ChannelName::parse("sim").unwrap(), txn.into())
    }

    #[test]
    fn the_wait_doubles_to_the_longest_then_stays() {
        let mut backoff = RefundBackoff::default();
        let mut now = Duration::ZERO;
        let mut steps = Vec::new();
        for _ in 0..9 {
            assert!(backoff.is_due(&key("t"), now));
            steps.push(backoff.failed(key("t"), now));
            assert!(!backoff.is_due(&key("t"), now));
            now += Duration::from_secs(60);
        }
        let secs = |s| BackoffStep::SteppedUp {
            wait: Duration::from_secs(s),
        };
        assert_eq!(
            steps,
            [
                secs(1),
                secs(2),
                secs(4),
                secs(8),
                secs(16),
                secs(32),
                BackoffStep::Stuck,
                BackoffStep::StillStuck,
                BackoffStep::StillStuck,
            ]
        );
        backoff.succeeded(&key("t"));
        assert!(backoff.is_empty());
        assert!(backoff.is_due(&key("t"), now));
    }

    /// 95 refunds that never complete, retried on a 1 s tick for 11 minutes and then an hour:
    /// each is logged at its 7 steps, and then only one summary line per hour is due.
    #[test]
    fn stuck_refunds_log_a_bounded_number_of_lines() {
        let keys: Vec<RefundKey> = (0..95).map(|i| key(&format!("t{i}"))).collect();
        // Lines one pass at `second` logs: a step other than `StillStuck`, and a summary.
        let tick = |backoff: &mut RefundBackoff, second: u64| {
            let now = Duration::from_secs(second);
            let mut lines = 0;
            for k in &keys {
                if backoff.is_due(k, now) {
                    lines += usize::from(backoff.failed(k.clone(), now) != BackoffStep::StillStuck);
                }
            }
            lines + usize::from(backoff.stuck_report(now).is_some())
        };
        let mut backoff = RefundBackoff::default();
        let first: usize = (0..=11 * 60).map(|s| tick(&mut backoff, s)).sum();
        assert_eq!(backoff.stuck(), 95);
        // 7 lines per refund (6 step-ups and becoming stuck) and the first summary.
        assert_eq!(first, 95 * 7 + 1);
        let next_hour: usize = (11 * 60 + 1..=71 * 60 + 1)
            .map(|s| tick(&mut backoff, s))
            .sum();
        assert_eq!(next_hour, 1, "one summary line an hour");
    }

    #[test]
    fn retain_forgets_refunds_no_longer_pending() {
        let mut backoff = RefundBackoff::default();
        backoff.failed(key("a"), Duration::ZERO);
        backoff.failed(key("b"), Duration::ZERO);
        backoff.retain(&HashSet::from([("sim", "b")]));
        assert_eq!(backoff.len(), 1);
        assert!(backoff.is_due(&key("a"), Duration::ZERO));
        assert!(!backoff.is_due(&key("b"), Duration::ZERO));
    }
}
