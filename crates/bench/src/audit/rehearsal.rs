//! `real_untouched` (rehearsals only, `--shadow`): the real campaign is where it was. Its
//! remaining stock is the same after the run as before, and its winners list holds the same
//! orders (user, order id, amount; an order's state may move on its own, e.g. expire). It
//! assumes nobody grabbed the campaign for real during the rehearsal.

use std::collections::HashSet;

use crate::admin::{CampaignView, Winner};
use crate::audit::{Check, CheckResult};

/// The real campaign around a rehearsal.
#[derive(Debug, Clone)]
pub struct RealSide {
    /// Before the run.
    pub before: CampaignView,
    /// Its winners before the run.
    pub winners_before: Vec<Winner>,
    /// After the run.
    pub after: CampaignView,
    /// Its winners after the run.
    pub winners_after: Vec<Winner>,
}

/// See the module documentation.
pub(crate) fn check_real_untouched(real: &RealSide) -> CheckResult {
    let mut check = Check::new("real_untouched");
    if real.after.remaining != real.before.remaining {
        check.fail(|| {
            format!(
                "the real campaign's remaining went from {} to {} during a rehearsal",
                real.before.remaining, real.after.remaining
            )
        });
    }
    let key = |w: &Winner| (w.user_id.clone(), w.order_id.clone(), w.amount_cents);
    let before: HashSet<_> = real.winners_before.iter().map(key).collect();
    let after: HashSet<_> = real.winners_after.iter().map(key).collect();
    for (user, order, _) in after.difference(&before) {
        check.fail(|| format!("real order {order} of {user} appeared during a rehearsal"));
    }
    for (user, order, _) in before.difference(&after) {
        check.fail(|| format!("real order {order} of {user} vanished during a rehearsal"));
    }
    check.result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(remaining: u64) -> CampaignView {
        CampaignView {
            id: "c_1".into(),
            kind: "seckill".into(),
            status: "active".into(),
            total: 10,
            remaining,
            per_user_limit: Some(1),
            total_cents: None,
            min_cents: None,
        }
    }

    fn winner(user: &str, order: &str, state: &str) -> Winner {
        Winner {
            user_id: user.into(),
            order_id: order.into(),
            amount_cents: 990,
            won_at: "2026-01-01T00:00:00Z".into(),
            state: Some(state.into()),
        }
    }

    #[test]
    fn an_untouched_campaign_passes_and_any_move_fails() {
        let untouched = RealSide {
            before: campaign(9),
            winners_before: vec![winner("a", "o_1", "pending_payment")],
            after: campaign(9),
            winners_after: vec![winner("a", "o_1", "expired")],
        };
        assert!(check_real_untouched(&untouched).passed, "a state may move");

        let sold = RealSide {
            after: campaign(8),
            winners_after: vec![
                winner("a", "o_1", "pending_payment"),
                winner("bench-1", "o_2", "pending_payment"),
            ],
            ..untouched.clone()
        };
        let result = check_real_untouched(&sold);
        assert!(!result.passed);
        assert_eq!(result.violations.len(), 2, "{:?}", result.violations);
        assert!(result.violations[1].contains("o_2 of bench-1 appeared"));

        let lost = RealSide {
            winners_after: Vec::new(),
            ..untouched
        };
        let result = check_real_untouched(&lost);
        assert!(
            result.violations[0].contains("o_1 of a vanished"),
            "{result:?}"
        );
    }
}
