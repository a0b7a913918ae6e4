//! A counter cell outside the metrics registry, for counts whose series come and go with what
//! they describe (rendered at each scrape by [`crate::exposition`]).

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter cell [`crate::exposition`] renders (the registry's `Counter` without the
/// registry).
#[derive(Debug, Default)]
pub struct Tally(AtomicU64);

impl Tally {
    /// Adds `n` (relaxed: the count orders nothing).
    pub fn increment(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
