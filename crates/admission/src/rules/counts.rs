//! What each rule decided, counted beside the compiled rule rather than in the process-wide
//! metrics registry: the registry cannot forget a series, so the counters of every rule ever
//! replaced away would be exported forever. Here a rule's counts live exactly as long as some
//! rule set holds that rule, and the server renders them from [`RuleSet::decision_counts`].
//! A rule that keeps its name across a replacement keeps its counts
//! ([`RuleSet::carry_counts_from`]), so its counters never go backwards.
//!
//! [`RuleSet::decision_counts`]: super::RuleSet::decision_counts
//! [`RuleSet::carry_counts_from`]: super::RuleSet::carry_counts_from

use std::sync::atomic::{AtomicU64, Ordering};

/// One decision a rule made about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleDecision {
    /// Admitted (a concurrency rule: a permit was taken).
    Allowed,
    /// Admitted after a leaky bucket's delay.
    Delayed,
    /// Refused.
    Rejected,
    /// Would have been refused; the rule is a dry run.
    DryRunRejected,
}

impl RuleDecision {
    /// Every decision, in the order [`RuleCounts`] stores them.
    pub const ALL: [RuleDecision; 4] = [
        RuleDecision::Allowed,
        RuleDecision::Delayed,
        RuleDecision::Rejected,
        RuleDecision::DryRunRejected,
    ];

    /// The stable code (the `outcome` label of `stampede_admission_decisions_total`).
    pub fn code(self) -> &'static str {
        match self {
            RuleDecision::Allowed => "allowed",
            RuleDecision::Delayed => "delayed",
            RuleDecision::Rejected => "rejected",
            RuleDecision::DryRunRejected => "dry_run_rejected",
        }
    }

    fn index(self) -> usize {
        match self {
            RuleDecision::Allowed => 0,
            RuleDecision::Delayed => 1,
            RuleDecision::Rejected => 2,
            RuleDecision::DryRunRejected => 3,
        }
    }
}

/// One rule's decision counters (monotonic).
#[derive(Debug, Default)]
pub(crate) struct RuleCounts {
    counts: [AtomicU64; RuleDecision::ALL.len()],
}

impl RuleCounts {
    /// Counts one decision (a relaxed add: the counters order nothing).
    pub(crate) fn count(&self, decision: RuleDecision) {
        self.counts[decision.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Every decision with its count, in [`RuleDecision::ALL`] order.
    pub(crate) fn snapshot(&self) -> [(RuleDecision, u64); RuleDecision::ALL.len()] {
        RuleDecision::ALL.map(|d| (d, self.counts[d.index()].load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decision_counts_in_its_own_slot() {
        let counts = RuleCounts::default();
        counts.count(RuleDecision::Rejected);
        counts.count(RuleDecision::Rejected);
        counts.count(RuleDecision::DryRunRejected);
        assert_eq!(
            counts.snapshot(),
            [
                (RuleDecision::Allowed, 0),
                (RuleDecision::Delayed, 0),
                (RuleDecision::Rejected, 2),
                (RuleDecision::DryRunRejected, 1),
            ]
        );
        let codes: Vec<&str> = RuleDecision::ALL.iter().map(|d| d.code()).collect();
        assert_eq!(
            codes,
            ["allowed", "delayed", "rejected", "dry_run_rejected"]
        );
    }
}
