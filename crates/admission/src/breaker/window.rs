//! [`OutcomeWindow`]: the count-based sliding window of the closed state.

use std::collections::VecDeque;

use super::state::SuccessRatio;

/// The last `capacity` outcomes with running counts, so a record is O(1).
#[derive(Debug, Clone)]
pub(crate) struct OutcomeWindow {
    /// Oldest first; each entry is (failed, slow).
    outcomes: VecDeque<(bool, bool)>,
    capacity: usize,
    failures: u32,
    slow_calls: u32,
    /// Calls neither failed nor slow.
    good_calls: u32,
}

impl OutcomeWindow {
    pub(crate) fn new(capacity: u32) -> Self {
        let capacity = capacity as usize;
        Self {
            outcomes: VecDeque::with_capacity(capacity),
            capacity,
            failures: 0,
            slow_calls: 0,
            good_calls: 0,
        }
    }

    /// Adds one outcome, forgetting the oldest once full.
    pub(crate) fn push(&mut self, failed: bool, slow: bool) {
        if self.outcomes.len() == self.capacity
            && let Some((old_failed, old_slow)) = self.outcomes.pop_front()
        {
            self.failures -= u32::from(old_failed);
            self.slow_calls -= u32::from(old_slow);
            self.good_calls -= u32::from(!old_failed && !old_slow);
        }
        self.outcomes.push_back((failed, slow));
        self.failures += u32::from(failed);
        self.slow_calls += u32::from(slow);
        self.good_calls += u32::from(!failed && !slow);
        debug_assert!(self.outcomes.len() <= self.capacity);
        debug_assert!(self.good_calls <= self.calls());
    }

    pub(crate) fn clear(&mut self) {
        self.outcomes.clear();
        self.failures = 0;
        self.slow_calls = 0;
        self.good_calls = 0;
    }

    pub(crate) fn calls(&self) -> u32 {
        self.outcomes.len() as u32
    }

    pub(crate) fn failure_ratio(&self) -> f64 {
        ratio(self.failures, self.calls())
    }

    pub(crate) fn slow_call_ratio(&self) -> f64 {
        ratio(self.slow_calls, self.calls())
    }

    pub(crate) fn success_ratio(&self) -> SuccessRatio {
        SuccessRatio {
            good_calls: self.good_calls,
            calls: self.calls(),
        }
    }
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_oldest_once_full() {
        let mut window = OutcomeWindow::new(3);
        window.push(true, true);
        window.push(false, false);
        window.push(false, false);
        assert_eq!(window.calls(), 3);
        assert!((window.failure_ratio() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(window.success_ratio().good_calls, 2);
        window.push(false, false);
        assert_eq!(window.calls(), 3);
        assert_eq!(window.failure_ratio(), 0.0);
        assert_eq!(window.slow_call_ratio(), 0.0);
        assert_eq!(
            window.success_ratio(),
            SuccessRatio {
                good_calls: 3,
                calls: 3
            }
        );
    }

    #[test]
    fn a_good_call_is_neither_failed_nor_slow() {
        let mut window = OutcomeWindow::new(4);
        window.push(true, false);
        window.push(false, true);
        window.push(true, true);
        window.push(false, false);
        let ratio = window.success_ratio();
        assert_eq!((ratio.good_calls, ratio.calls), (1, 4));
        assert_eq!(ratio.as_f64(), 0.25);
        window.clear();
        assert_eq!(window.success_ratio().calls, 0);
        assert_eq!(
            window.success_ratio().as_f64(),
            1.0,
            "nothing has gone wrong yet"
        );
    }
}
