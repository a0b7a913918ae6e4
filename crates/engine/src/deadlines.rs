//! The payment and claim deadlines the writer knows of, so that it runs an expiry pass only
//! when something may be due.
//!
//! `Ledger::expire_due` looks at the front of every campaign's deadline queue: with
//! `MAX_CAMPAIGNS` (10,000) campaigns that is ~50 µs per pass (`expiry_idle/10k_campaigns` in
//! `benches/expiry.rs`), and the writer ends every batch with a pass — each batch of a
//! stampede and each idle tick. Yet every deadline enters those queues through the writer: a
//! win (won at `now`, due a campaign window later), a declined payout putting a `claiming`
//! packet back to `won` (due at its first deadline, possibly already past), and replay on
//! open. So the writer notes each one here and skips the pass while the earliest is still
//! ahead. The core's queues stay the authority; this only says when looking is pointless.
//!
//! Deadlines are kept coarsened into buckets of [`BUCKET_MILLIS`], each with the earliest
//! deadline that may still be queued in it, at most [`MAX_DEADLINE_BUCKETS`] of them: past
//! that the buckets double in width (fewer skipped passes, never a missed one).
//!
//! Why a skipped pass misses nothing: within a campaign, creation order is deadline order
//! (one window per campaign), so after a pass at `now` that stopped short of its budget no
//! queued order is due at `now` or before, and [`Deadlines::passed`] forgets only deadlines at
//! `now` or before. Every later deadline is still here, so a pass is skipped only while no
//! order can be due. If the clock steps back, a campaign's queue may hold an earlier deadline
//! behind a later one; the core then expires it only after the one in front of it anyway, and
//! here it may wait for that one's deadline too (reading the order expires it at once).

use std::collections::BTreeMap;
use std::time::Duration;

use stampede_core::UnixMillis;

/// Longest wait for a command before an expiry pass runs anyway: an unpaid order outlives its
/// deadline by at most about this much, plus the time to drain a backlog larger than one
/// pass ([`crate::MAX_EXPIRIES_PER_BATCH`]; passes then follow each other without waiting, ~2 µs of
/// writer time per order), and reading it expires it at once.
pub const EXPIRY_TICK: Duration = Duration::from_millis(100);

/// Width of a bucket at first: one expiry tick (the writer's timer has that resolution
/// anyway).
pub(crate) const BUCKET_MILLIS: u64 = EXPIRY_TICK.as_millis() as u64;
/// Most buckets kept: 4,096 buckets of 100 ms cover about 7 minutes of wins at full
/// resolution in ~200 KiB; a longer spread of deadlines doubles the width instead of growing.
pub(crate) const MAX_DEADLINE_BUCKETS: usize = 4_096;

/// The deadlines that may still be in the ledger's queues (see the module doc).
#[derive(Debug)]
pub(crate) struct Deadlines {
    /// Bucket (deadline / `width`) → the earliest deadline that may still be queued in it.
    buckets: BTreeMap<u64, u64>,
    /// Bucket width in milliseconds: [`BUCKET_MILLIS`], doubled each time the buckets
    /// outgrow [`MAX_DEADLINE_BUCKETS`], back to it once they are empty.
    width: u64,
    /// The bucket last added to and the earliest deadline it has had since: a deadline in the
    /// same bucket and not earlier changes nothing (a batch's wins mostly share a deadline).
    last: Option<(u64, u64)>,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            buckets: BTreeMap::new(),
            width: BUCKET_MILLIS,
            last: None,
        }
    }
}

impl Deadlines {
    /// An order may now be queued with `deadline`.
    pub(crate) fn add(&mut self, deadline: UnixMillis) {
        let deadline = deadline.0;
        let bucket = deadline / self.width;
        if self
            .last
            .is_some_and(|(last, earliest)| last == bucket && earliest <= deadline)
        {
            return;
        }
        let earliest = self
            .buckets
            .entry(bucket)
            .and_modify(|earliest| *earliest = (*earliest).min(deadline))
            .or_insert(deadline);
        self.last = Some((bucket, *earliest));
        if self.buckets.len() > MAX_DEADLINE_BUCKETS {
            self.coarsen();
        }
    }

    /// Whether a pass at `now` may find an order due.
    pub(crate) fn may_be_due(&self, now: UnixMillis) -> bool {
        self.buckets
            .first_key_value()
            .is_some_and(|(_, &earliest)| earliest <= now.0)
    }

    /// A pass at `now` expired every order due by then (it stopped short of its budget):
    /// forgets the deadlines at `now` or before.
    pub(crate) fn passed(&mut self, now: UnixMillis) {
        let now = now.0;
        while let Some(mut entry) = self.buckets.first_entry() {
            if *entry.get() > now {
                break;
            }
            let end = entry.key().saturating_add(1).saturating_mul(self.width);
            if end <= now.saturating_add(1) {
                entry.remove();
            } else {
                // Part of this bucket is still ahead: only deadlines after `now` remain.
                *entry.get_mut() = now + 1;
                break;
            }
        }
        self.last = None;
        if self.buckets.is_empty() {
            self.width = BUCKET_MILLIS;
        }
    }

    /// Doubles the width until at most half of [`MAX_DEADLINE_BUCKETS`] buckets remain (so
    /// the next coarsening is as many additions away), keeping each bucket's earliest.
    fn coarsen(&mut self) {
        while self.buckets.len() > MAX_DEADLINE_BUCKETS / 2 {
            self.width = self.width.saturating_mul(2);
            let mut coarser = BTreeMap::new();
            for earliest in std::mem::take(&mut self.buckets).into_values() {
                coarser
                    .entry(earliest / self.width)
                    .and_modify(|kept: &mut u64| *kept = (*kept).min(earliest))
                    .or_insert(earliest);
            }
            self.buckets = coarser;
        }
        self.last = None;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: u64 = 1_794_398_400_000;

    #[test]
    fn nothing_known_nothing_due() {
        let deadlines = Deadlines::default();
        assert!(!deadlines.may_be_due(UnixMillis(u64::MAX)));
    }

    #[test]
    fn due_from_the_earliest_deadline_and_forgotten_once_passed() {
        let mut deadlines = Deadlines::default();
        deadlines.add(UnixMillis(T0 + 950));
        deadlines.add(UnixMillis(T0 + 60_000));
        assert!(!deadlines.may_be_due(UnixMillis(T0 + 949)));
        assert!(deadlines.may_be_due(UnixMillis(T0 + 950)));
        deadlines.passed(UnixMillis(T0 + 950));
        assert!(!deadlines.may_be_due(UnixMillis(T0 + 950)));
        // The rest of its bucket may still hold a deadline: passes go on until it ends.
        assert!(deadlines.may_be_due(UnixMillis(T0 + 951)));
        deadlines.passed(UnixMillis(T0 + 999));
        assert!(!deadlines.may_be_due(UnixMillis(T0 + 59_999)));
        assert!(deadlines.may_be_due(UnixMillis(T0 + 60_000)));
        deadlines.passed(UnixMillis(T0 + 60_099));
        assert!(!deadlines.may_be_due(UnixMillis(u64::MAX)));
        assert_eq!(deadlines.len(), 0);
    }

    #[test]
    fn a_pass_inside_a_bucket_keeps_its_later_deadlines() {
        let mut deadlines = Deadlines::default();
        deadlines.add(UnixMillis(T0 + 10));
        deadlines.add(UnixMillis(T0 + 90));
        deadlines.passed(UnixMillis(T0 + 50));
        assert!(!deadlines.may_be_due(UnixMillis(T0 + 50)));
        assert!(deadlines.may_be_due(UnixMillis(T0 + 51)));
    }

    #[test]
    fn an_earlier_deadline_in_the_last_bucket_is_kept() {
        // A declined payout puts a packet back under a deadline already past.
        let mut deadlines = Deadlines::default();
        deadlines.add(UnixMillis(T0 + 150));
        deadlines.add(UnixMillis(T0 + 120));
        assert!(deadlines.may_be_due(UnixMillis(T0 + 120)));
        deadlines.passed(UnixMillis(T0 + 130));
        deadlines.add(UnixMillis(T0 + 110));
        assert!(deadlines.may_be_due(UnixMillis(T0 + 130)));
    }

    #[test]
    fn many_deadlines_stay_within_the_bound() {
        let mut deadlines = Deadlines::default();
        for i in 0..100_000 {
            deadlines.add(UnixMillis(T0 + i * BUCKET_MILLIS));
        }
        assert!(deadlines.len() <= MAX_DEADLINE_BUCKETS);
        assert!(!deadlines.may_be_due(UnixMillis(T0 - 1)));
        assert!(deadlines.may_be_due(UnixMillis(T0)));
        let last = UnixMillis(T0 + 100_000 * BUCKET_MILLIS);
        deadlines.passed(last);
        assert!(!deadlines.may_be_due(last));
        deadlines.passed(UnixMillis(u64::MAX - 1));
        assert_eq!(deadlines.len(), 0);
        assert_eq!(deadlines.width, BUCKET_MILLIS, "narrow again once empty");
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// A deadline this far from the clock (negative: already past).
        Add(i64),
        /// The clock moves on this far, then a full pass.
        Pass(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (-5_000_i64..5_000_000).prop_map(Step::Add),
            1 => (0_u64..400_000).prop_map(Step::Pass),
        ]
    }

    proptest! {
        /// Against a model holding every deadline: whenever some deadline not yet passed is
        /// due, a pass is due (and at the time of the last pass, only then); the buckets stay
        /// bounded.
        #[test]
        fn never_skips_a_due_deadline(steps in proptest::collection::vec(step(), 1..3_000)) {
            let mut deadlines = Deadlines::default();
            let mut model: Vec<u64> = Vec::new();
            let mut now = T0;
            for step in steps {
                match step {
                    Step::Add(offset) => {
                        let deadline = now.saturating_add_signed(offset);
                        deadlines.add(UnixMillis(deadline));
                        model.push(deadline);
                    }
                    Step::Pass(advance) => {
                        now += advance;
                        let due = model.iter().any(|&d| d <= now);
                        prop_assert!(!due || deadlines.may_be_due(UnixMillis(now)));
                        deadlines.passed(UnixMillis(now));
                        model.retain(|&d| d > now);
                    }
                }
                // At the time of the last pass nothing is kept that the model does not hold.
                let due = model.iter().any(|&d| d <= now);
                prop_assert_eq!(deadlines.may_be_due(UnixMillis(now)), due);
                prop_assert!(deadlines.len() <= MAX_DEADLINE_BUCKETS);
            }
        }
    }
}
