//! The individual audit checks (definitions in the parent module's docs).

use super::{AuditInput, AuditSummary, Check, CheckResult, RedPacketTerms, UserObservation};
use crate::admin::Winner;
use std::collections::{HashMap, HashSet};

pub(super) fn check_conservation(input: &AuditInput) -> CheckResult {
    let mut check = Check::new("stock_conserved");
    let listed = input.winners.len() as u64;
    let after = &input.after;
    if listed + after.remaining != after.total {
        check.fail(|| {
            format!(
                "winners listed {listed} + remaining {} = {} but total is {}",
                after.remaining,
                listed + after.remaining,
                after.total
            )
        });
    }
    if after.total != input.before.total {
        check.fail(|| {
            format!(
                "total changed from {} to {}",
                input.before.total, after.total
            )
        });
    }
    check.result
}

pub(super) fn check_per_user_limit(
    input: &AuditInput,
    orders_per_user: &HashMap<&str, u64>,
) -> CheckResult {
    let mut check = Check::new("per_user_limit");
    let mut over: Vec<_> = orders_per_user
        .iter()
        .filter(|(_, count)| **count > input.per_user_limit)
        .collect();
    over.sort();
    for (user, count) in over {
        check.fail(|| {
            format!(
                "user {user} holds {count} orders, limit {}",
                input.per_user_limit
            )
        });
    }
    check.result
}

pub(super) fn check_no_lost_win(
    input: &AuditInput,
    orders: &HashMap<&str, &Winner>,
) -> CheckResult {
    let mut check = Check::new("no_lost_win");
    for user in &input.users {
        for win in &user.acknowledged {
            match orders.get(win.order_id.as_str()) {
                None => check.fail(|| {
                    format!(
                        "user {} was told it won order {} but the winners list lacks it",
                        user.user_id, win.order_id
                    )
                }),
                Some(listed) if listed.user_id != user.user_id => check.fail(|| {
                    format!(
                        "order {} was acknowledged to {} but is listed for {}",
                        win.order_id, user.user_id, listed.user_id
                    )
                }),
                Some(listed) if listed.amount_cents != win.amount_cents => check.fail(|| {
                    format!(
                        "order {} acknowledged {} cents, listed {} cents",
                        win.order_id, win.amount_cents, listed.amount_cents
                    )
                }),
                Some(_) => {}
            }
        }
    }
    check.result
}

pub(super) fn check_winners_attempted(
    input: &AuditInput,
    users: &HashMap<&str, &UserObservation>,
) -> CheckResult {
    let mut check = Check::new("winners_attempted");
    let mut foreign = 0u64;
    for winner in &input.winners {
        match users.get(winner.user_id.as_str()) {
            Some(user) if user.attempts == 0 => check.fail(|| {
                format!(
                    "user {} is listed as winning order {} but never sent a grab",
                    winner.user_id, winner.order_id
                )
            }),
            Some(_) => {}
            None => foreign += 1,
        }
    }
    let before = input.before.total.saturating_sub(input.before.remaining);
    if foreign != before {
        check.fail(|| {
            format!(
                "{foreign} winners are not users of this run, but {before} orders existed before it"
            )
        });
    }
    check.result
}

pub(super) fn check_winner_count(
    input: &AuditInput,
    summary: &AuditSummary,
    reached_or_unresolved: u64,
) -> CheckResult {
    let mut check = Check::new("winner_count");
    let available = summary.available_before;
    let lower = available.min(summary.reached_users);
    let upper = available.min(reached_or_unresolved);
    let winners = summary.run_winners_distinct;
    if winners > upper {
        check.fail(|| {
            format!(
                "{winners} distinct run winners, more than min(available {available}, reached or unresolved users {reached_or_unresolved}) = {upper}"
            )
        });
    }
    if input.per_user_limit == 1 && winners < lower {
        check.fail(|| {
            format!(
                "{winners} distinct run winners, fewer than min(available {available}, reached users {}) = {lower}",
                summary.reached_users
            )
        });
    }
    check.result
}

pub(super) fn check_no_early_sold_out(
    input: &AuditInput,
    run_winners: &HashSet<&str>,
) -> CheckResult {
    let mut check = Check::new("no_early_sold_out");
    if input.after.remaining > 0 {
        for user in input.users.iter().filter(|user| user.reached_stock) {
            if !run_winners.contains(user.user_id.as_str()) {
                check.fail(|| {
                    format!(
                        "user {} reached the stock but did not win, yet {} units remain",
                        user.user_id, input.after.remaining
                    )
                });
            }
        }
    }
    check.result
}

pub(super) fn check_red_packet(
    input: &AuditInput,
    terms: RedPacketTerms,
    amount_sum: u64,
) -> CheckResult {
    let mut check = Check::new("red_packet_split");
    let floor = terms.min_cents.max(1);
    for winner in input
        .winners
        .iter()
        .filter(|winner| winner.amount_cents < floor)
    {
        check.fail(|| {
            format!(
                "order {} is {} cents, below the minimum {floor}",
                winner.order_id, winner.amount_cents
            )
        });
    }
    if amount_sum > terms.total_cents {
        check.fail(|| {
            format!(
                "packets sum to {amount_sum} cents, more than {}",
                terms.total_cents
            )
        });
    }
    if input.after.remaining == 0 && amount_sum != terms.total_cents {
        check.fail(|| {
            format!(
                "sold out but packets sum to {amount_sum} cents, not {}",
                terms.total_cents
            )
        });
    }
    check.result
}
