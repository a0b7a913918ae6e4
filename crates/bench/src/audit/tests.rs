//! The audit against hand-built server books.

use super::*;
use crate::admin::{CampaignView, Winner};

fn campaign(total: u64, remaining: u64) -> CampaignView {
    CampaignView {
        id: "c".into(),
        kind: "seckill".into(),
        status: "active".into(),
        total,
        remaining,
        per_user_limit: Some(1),
        total_cents: None,
        min_cents: None,
    }
}

fn winner(user: &str, order: &str, amount: u64) -> Winner {
    Winner {
        user_id: user.into(),
        order_id: order.into(),
        amount_cents: amount,
        won_at: "2025-01-01T00:00:00Z".into(),
        state: Some("pending_payment".into()),
    }
}

fn user(id: &str, reached: bool, won: Option<(&str, u64)>) -> UserObservation {
    UserObservation {
        user_id: id.into(),
        attempts: 1,
        reached_stock: reached,
        unresolved: false,
        acknowledged: won
            .map(|(order, amount)| AcknowledgedWin {
                order_id: order.into(),
                amount_cents: amount,
            })
            .into_iter()
            .collect(),
    }
}

/// Stock 2, three users reached it: a and b won, c got sold_out.
fn sold_out_input() -> AuditInput {
    AuditInput {
        before: campaign(2, 2),
        after: campaign(2, 0),
        winners: vec![winner("a", "o1", 5), winner("b", "o2", 5)],
        users: vec![
            user("a", true, Some(("o1", 5))),
            user("b", true, Some(("o2", 5))),
            user("c", true, None),
        ],
        per_user_limit: 1,
        red_packet: None,
        payments: None,
        real: None,
    }
}

#[test]
fn a_correct_run_passes() {
    let audit = audit(&sold_out_input());
    assert!(audit.passed(), "{}", audit.to_text());
    assert_eq!(audit.summary.run_winners_distinct, 2);
}

#[test]
fn lost_acknowledged_win_is_named() {
    let mut input = sold_out_input();
    input.winners.pop();
    let audit = audit(&input);
    assert!(audit.failed_checks().contains(&"no_lost_win"));
    assert!(audit.failed_checks().contains(&"stock_conserved"));
    assert!(audit.to_text().contains("o2"));
}

#[test]
fn oversell_is_caught() {
    let mut input = sold_out_input();
    input.winners.push(winner("c", "o3", 5));
    let audit = audit(&input);
    let failed = audit.failed_checks();
    assert!(failed.contains(&"stock_conserved"), "{failed:?}");
    assert!(failed.contains(&"winner_count"), "{failed:?}");
}

#[test]
fn per_user_limit_and_phantom_winners_are_caught() {
    let mut input = sold_out_input();
    input.winners[1] = winner("a", "o2", 5);
    input.users[1].acknowledged.clear();
    input.users.push(UserObservation {
        user_id: "idle".into(),
        ..UserObservation::default()
    });
    input.winners.push(winner("idle", "o9", 5));
    input.after = campaign(3, 0);
    input.before = campaign(3, 3);
    let failed = audit(&input).failed_checks();
    assert!(failed.contains(&"per_user_limit"), "{failed:?}");
    assert!(failed.contains(&"winners_attempted"), "{failed:?}");
}

#[test]
fn unresolved_users_widen_the_count_but_not_beyond_stock() {
    let mut input = sold_out_input();
    input.before = campaign(5, 5);
    input.after = campaign(5, 2);
    input.users[2].reached_stock = false;
    input.users[2].unresolved = true;
    input.winners.push(winner("c", "o3", 5)); // won, but the response was lost
    assert!(audit(&input).passed(), "{}", audit(&input).to_text());
}

#[test]
fn sold_out_while_stock_remains_is_caught() {
    let mut input = sold_out_input();
    input.before = campaign(3, 3);
    input.after = campaign(3, 1);
    let failed = audit(&input).failed_checks();
    assert!(failed.contains(&"no_early_sold_out"), "{failed:?}");
    assert!(failed.contains(&"winner_count"), "{failed:?}");
}

#[test]
fn red_packet_sum_must_match_once_sold_out() {
    let mut input = sold_out_input();
    input.red_packet = Some(RedPacketTerms {
        total_cents: 11,
        min_cents: 1,
    });
    let failed = audit(&input).failed_checks();
    assert_eq!(failed, vec!["red_packet_split"]);
    input.red_packet = Some(RedPacketTerms {
        total_cents: 10,
        min_cents: 1,
    });
    assert!(audit(&input).passed());
}
