//! The post-run audit: what the server's books say (winners list, campaign counters) against
//! what the clients saw. Pure: all fetching happens before [`audit`] is called.
//!
//! Definitions used below:
//! - a user **reached the stock** if at least one of its grabs was answered `won`,
//!   `already_won` or `sold_out` — a response that means the server decided the grab against
//!   the stock. Users who only ever got `rate_limited`, `overloaded`, `not_started`, `ended`,
//!   another error, or no response never reached it and are not owed an item.
//! - a user is **unresolved** if at least one grab got no response (timeout / broken
//!   connection) or 503 `degraded` (also the answer of a grab whose journal write outlived the
//!   server's reply timeout): the server may have recorded a win the client never saw.
//! - **available** is the campaign's `remaining` before the run started.
//!
//! Checks (each violation says what was wrong):
//! 1. `stock_conserved`: winners listed + remaining == total (after the run).
//! 2. `per_user_limit`: no user holds more than `per_user_limit` orders.
//! 3. `no_lost_win`: every `won`/`already_won` (user, order_id) a client saw is in the winners
//!    list, for that user, with the same amount.
//! 4. `unique_orders`: no order id appears twice in the winners list.
//! 5. `winners_attempted`: every winner from this run's users actually sent a grab, and winners
//!    not from this run are exactly the ones that existed before (total − remaining before).
//! 6. `winner_count`: with per_user_limit 1, distinct run winners lie in
//!    [min(available, reached), min(available, reached ∪ unresolved)] — i.e. exactly
//!    min(available, reached) when no response was lost. With a higher limit, at most the
//!    upper bound.
//! 7. `no_early_sold_out`: if stock remains after the run, every user who reached the stock won.
//! 8. `red_packet_split` (red packets): every amount ≥ min_cents (≥ 1), the sum never exceeds
//!    total_cents, and equals it exactly once sold out.
//! 9. `payments_settled` and 10. `paid_amounts` (only with `--pay`): see [`payments`].
//!
//! In a rehearsal (`--shadow`) checks 1 to 8 read the campaign's shadow copy (reset before
//! the run, so it starts with the whole stock and no winner) in place of the campaign, and
//! 11. `real_untouched` checks the real campaign: see [`rehearsal`].

use crate::admin::{CampaignView, Winner};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

mod checks;
pub mod payments;
pub mod rehearsal;
use checks::{
    check_conservation, check_no_early_sold_out, check_no_lost_win, check_per_user_limit,
    check_red_packet, check_winner_count, check_winners_attempted,
};
pub use payments::{OrderRead, PaymentsInput};
pub use rehearsal::RealSide;

/// Violations listed per check; the rest are counted (a broken server can produce millions).
pub const MAX_LISTED_VIOLATIONS: usize = 20;

/// A win a client was told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcknowledgedWin {
    /// Order id from the response.
    pub order_id: String,
    /// Amount from the response.
    pub amount_cents: u64,
}

/// What the clients saw for one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserObservation {
    /// The user id.
    pub user_id: String,
    /// Grabs sent.
    pub attempts: u32,
    /// Got won / already_won / sold_out at least once.
    pub reached_stock: bool,
    /// At least one grab got no response.
    pub unresolved: bool,
    /// `won` and `already_won` responses (order id and amount).
    pub acknowledged: Vec<AcknowledgedWin>,
}

/// Red-packet terms to check the split against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RedPacketTerms {
    /// Sum of all packets.
    pub total_cents: u64,
    /// Smallest allowed packet.
    pub min_cents: u64,
}

/// Everything the audit looks at.
#[derive(Debug, Clone)]
pub struct AuditInput {
    /// Campaign before the run.
    pub before: CampaignView,
    /// Campaign after the run.
    pub after: CampaignView,
    /// Full winners list after the run.
    pub winners: Vec<Winner>,
    /// Every user of this run.
    pub users: Vec<UserObservation>,
    /// Orders allowed per user.
    pub per_user_limit: u64,
    /// Set for red packets whose terms are known.
    pub red_packet: Option<RedPacketTerms>,
    /// Set when the run paid its orders (`--pay`).
    pub payments: Option<PaymentsInput>,
    /// Set in a rehearsal (`--shadow`): the real campaign around the run, while `before`,
    /// `after` and `winners` are the shadow copy's.
    pub real: Option<RealSide>,
}

/// One check's result.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckResult {
    /// Stable check name.
    pub name: &'static str,
    /// No violations.
    pub passed: bool,
    /// Up to `MAX_LISTED_VIOLATIONS` (20) descriptions.
    pub violations: Vec<String>,
    /// Violations beyond those listed.
    pub unlisted: u64,
}

/// Numbers the checks were computed from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditSummary {
    /// Units in the campaign.
    pub total: u64,
    /// Remaining before the run.
    pub available_before: u64,
    /// Remaining after the run.
    pub remaining_after: u64,
    /// Rows in the winners list.
    pub winners_listed: u64,
    /// Distinct winners from this run's users.
    pub run_winners_distinct: u64,
    /// Users who reached the stock.
    pub reached_users: u64,
    /// Users with a lost response.
    pub unresolved_users: u64,
    /// Wins the clients were told about.
    pub acknowledged_wins: u64,
    /// Sum of winners' amounts.
    pub amount_sum_cents: u64,
}

/// The audit verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Audit {
    /// Inputs summarised.
    pub summary: AuditSummary,
    /// Every check, passed or not.
    pub checks: Vec<CheckResult>,
}

impl Audit {
    /// No checks at all (raw mode has no campaign to audit); `passed()` is vacuously true.
    pub fn skipped() -> Self {
        Self {
            summary: AuditSummary {
                total: 0,
                available_before: 0,
                remaining_after: 0,
                winners_listed: 0,
                run_winners_distinct: 0,
                reached_users: 0,
                unresolved_users: 0,
                acknowledged_wins: 0,
                amount_sum_cents: 0,
            },
            checks: Vec::new(),
        }
    }

    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// Names of the failed checks.
    pub fn failed_checks(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| check.name)
            .collect()
    }

    /// Human-readable verdict with each violation.
    pub fn to_text(&self) -> String {
        let summary = &self.summary;
        let mut out = format!(
            "audit: {} | total {}, available before {}, remaining after {}, winners listed {}, run winners {}, reached users {}, unresolved users {}, acknowledged wins {}, amounts {} cents\n",
            if self.passed() { "PASSED" } else { "FAILED" },
            summary.total,
            summary.available_before,
            summary.remaining_after,
            summary.winners_listed,
            summary.run_winners_distinct,
            summary.reached_users,
            summary.unresolved_users,
            summary.acknowledged_wins,
            summary.amount_sum_cents,
        );
        for check in &self.checks {
            let _ = writeln!(
                out,
                "  [{}] {}",
                if check.passed { "ok" } else { "FAIL" },
                check.name
            );
            for violation in &check.violations {
                let _ = writeln!(out, "      - {violation}");
            }
            if check.unlisted > 0 {
                let _ = writeln!(out, "      - … and {} more", check.unlisted);
            }
        }
        out
    }
}

/// Collects violations for one check, listing at most [`MAX_LISTED_VIOLATIONS`].
pub(crate) struct Check {
    pub(crate) result: CheckResult,
}

impl Check {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            result: CheckResult {
                name,
                passed: true,
                violations: Vec::new(),
                unlisted: 0,
            },
        }
    }

    pub(crate) fn fail(&mut self, violation: impl FnOnce() -> String) {
        self.result.passed = false;
        if self.result.violations.len() < MAX_LISTED_VIOLATIONS {
            self.result.violations.push(violation());
        } else {
            self.result.unlisted += 1;
        }
    }
}

/// Runs every check.
pub fn audit(input: &AuditInput) -> Audit {
    let users: HashMap<&str, &UserObservation> = input
        .users
        .iter()
        .map(|user| (user.user_id.as_str(), user))
        .collect();
    let mut orders_per_user: HashMap<&str, u64> = HashMap::new();
    let mut orders: HashMap<&str, &Winner> = HashMap::new();
    let mut unique = Check::new("unique_orders");
    for winner in &input.winners {
        *orders_per_user.entry(winner.user_id.as_str()).or_default() += 1;
        if orders.insert(winner.order_id.as_str(), winner).is_some() {
            unique.fail(|| format!("order {} listed more than once", winner.order_id));
        }
    }
    let run_winners: HashSet<&str> = orders_per_user
        .keys()
        .copied()
        .filter(|user| users.contains_key(user))
        .collect();
    let reached = input.users.iter().filter(|user| user.reached_stock).count() as u64;
    let reached_or_unresolved = input
        .users
        .iter()
        .filter(|user| user.reached_stock || user.unresolved)
        .count() as u64;
    let amount_sum: u64 = input.winners.iter().map(|winner| winner.amount_cents).sum();
    let summary = AuditSummary {
        total: input.after.total,
        available_before: input.before.remaining,
        remaining_after: input.after.remaining,
        winners_listed: input.winners.len() as u64,
        run_winners_distinct: run_winners.len() as u64,
        reached_users: reached,
        unresolved_users: input.users.iter().filter(|user| user.unresolved).count() as u64,
        acknowledged_wins: input
            .users
            .iter()
            .map(|user| user.acknowledged.len() as u64)
            .sum(),
        amount_sum_cents: amount_sum,
    };

    let mut checks = vec![
        check_conservation(input),
        check_per_user_limit(input, &orders_per_user),
        check_no_lost_win(input, &orders),
        unique.result,
        check_winners_attempted(input, &users),
        check_winner_count(input, &summary, reached_or_unresolved),
        check_no_early_sold_out(input, &run_winners),
    ];
    if let Some(terms) = input.red_packet {
        checks.push(check_red_packet(input, terms, amount_sum));
    }
    if let Some(paid) = &input.payments {
        checks.push(payments::check_payments_settled(paid));
        checks.push(payments::check_paid_amounts(paid));
    }
    if let Some(real) = &input.real {
        checks.push(rehearsal::check_real_untouched(real));
    }
    Audit { summary, checks }
}

#[cfg(test)]
mod tests;
