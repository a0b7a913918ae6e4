//! [`SlidingWindowPolicy`]: the two-window estimate as a pure [`Policy`].

use std::time::Duration;

use super::config::SlidingWindowConfig;
use crate::clock::to_nanos;
use crate::keyed_rate::{FULL_TABLE_RETRY_AFTER, RateDecision};
use crate::policy::Policy;

/// One key's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowState {
    /// Index of the window `current` counts (clock nanoseconds / window length).
    index: u64,
    /// Admitted in window `index`.
    current: u32,
    /// Admitted in window `index − 1`.
    previous: u32,
}

impl WindowState {
    /// The counts seen from window `index` (which is never before `self.index`).
    fn rolled_to(self, index: u64) -> (u32, u32) {
        match index.saturating_sub(self.index) {
            0 => (self.previous, self.current),
            1 => (self.current, 0),
            _ => (0, 0),
        }
    }
}

/// "`limit` per `window`" as a [`Policy`]; see the module docs.
#[derive(Debug)]
pub struct SlidingWindowPolicy {
    config: SlidingWindowConfig,
    window_nanos: u64,
}

impl SlidingWindowPolicy {
    /// The policy for `config`.
    ///
    /// # Panics
    /// If `config` fails [`SlidingWindowConfig::validate`]; validate it when loading config.
    pub fn new(config: SlidingWindowConfig) -> Self {
        if let Err(error) = config.validate() {
            panic!("SlidingWindowPolicy::new: invalid config: {error}");
        }
        Self {
            config,
            window_nanos: to_nanos(config.window),
        }
    }

    /// The rule's configuration.
    pub fn config(&self) -> &SlidingWindowConfig {
        &self.config
    }

    /// Wait from `offset` until `previous · (W − e) ≤ room · W` (None: not within this window).
    fn wait_for_weight(&self, previous: u32, room: u64, offset: u64) -> Option<u64> {
        let window = u128::from(self.window_nanos);
        let previous = u128::from(previous);
        let room = u128::from(room);
        if previous <= room {
            return Some(0);
        }
        // Smallest e with previous · (W − e) ≤ room · W.
        let needed = ((previous - room) * window).div_ceil(previous);
        let needed = u64::try_from(needed).expect("needed ≤ window");
        (needed < self.window_nanos).then(|| needed.saturating_sub(offset))
    }

    /// Exact wait until a request would be admitted, given the counts at `offset`.
    fn retry_after(&self, previous: u32, current: u32, offset: u64) -> Duration {
        let limit = u64::from(self.config.limit.get());
        let to_next_window = self.window_nanos - offset;
        let wait = if u64::from(current) < limit {
            // Room in this window's own count: wait for the previous window to fade.
            self.wait_for_weight(previous, limit - 1 - u64::from(current), offset)
                .unwrap_or(to_next_window)
        } else {
            // Wait for the next window, where `current` becomes the fading one.
            let after = self.wait_for_weight(current, limit - 1, 0);
            to_next_window + after.unwrap_or(self.window_nanos)
        };
        Duration::from_nanos(wait)
    }
}

impl Policy for SlidingWindowPolicy {
    type State = WindowState;
    type Decision = RateDecision;

    fn decide(&self, state: Option<&WindowState>, now: u64) -> (RateDecision, Option<WindowState>) {
        let index = now / self.window_nanos;
        let offset = now % self.window_nanos;
        let (previous, current) = state.map_or((0, 0), |state| state.rolled_to(index));
        let window = u128::from(self.window_nanos);
        let weighted = u128::from(previous) * (window - u128::from(offset));
        let with_this = weighted + (u128::from(current) + 1) * window;
        if with_this > u128::from(self.config.limit.get()) * window {
            let retry_after = self.retry_after(previous, current, offset);
            return (RateDecision::Limited { retry_after }, None);
        }
        let next = WindowState {
            index,
            // At most `limit`, so no overflow.
            current: current + 1,
            previous,
        };
        (RateDecision::Allowed, Some(next))
    }

    fn is_idle(&self, state: &WindowState, now: u64) -> bool {
        state.rolled_to(now / self.window_nanos) == (0, 0)
    }

    fn table_full(&self) -> RateDecision {
        RateDecision::Limited {
            retry_after: FULL_TABLE_RETRY_AFTER,
        }
    }
}
