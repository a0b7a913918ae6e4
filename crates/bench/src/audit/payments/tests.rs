//! The payment checks against hand-built books: an honest run passes, each way of getting
//! money wrong is named.

use super::*;
use crate::admin::PaymentView;
use crate::audit::MAX_LISTED_VIOLATIONS;

fn listed(order: &str, state: &str) -> Winner {
    Winner {
        user_id: format!("user-{order}"),
        order_id: order.into(),
        amount_cents: 990,
        won_at: "2025-01-01T00:00:00Z".into(),
        state: Some(state.into()),
    }
}

fn payment(kind: &str, amount_cents: u64) -> PaymentView {
    PaymentView {
        channel: "sim".into(),
        txn_id: format!("txn-{kind}-{amount_cents}"),
        amount_cents,
        kind: kind.into(),
        refund: (kind != PAID).then(|| "refunded".into()),
    }
}

fn read(order: &str, state: &str, payments: Vec<PaymentView>) -> OrderRead {
    OrderRead {
        order_id: order.into(),
        result: Ok(OrderView {
            order_id: order.into(),
            state: state.into(),
            amount_cents: 990,
            payments,
        }),
    }
}

/// Three orders paid and settled, a fourth whose pay was refused and stays pending.
fn honest() -> PaymentsInput {
    PaymentsInput {
        paid_ok: vec!["o1".into(), "o2".into(), "o3".into()],
        final_orders: vec![
            listed("o1", "paid"),
            listed("o2", "paid"),
            listed("o3", "paid"),
            listed("o4", "pending_payment"),
        ],
        settle_limit_secs: 15,
        paid_reads: ["o1", "o2", "o3"]
            .into_iter()
            .map(|order| read(order, "paid", vec![payment(PAID, 990)]))
            .collect(),
        refund_reads: Vec::new(),
    }
}

fn violations(result: &CheckResult) -> String {
    result.violations.join("\n")
}

#[test]
fn an_honest_payment_run_passes() {
    let input = honest();
    let settled = check_payments_settled(&input);
    let amounts = check_paid_amounts(&input);
    assert!(settled.passed, "{}", violations(&settled));
    assert!(amounts.passed, "{}", violations(&amounts));
}

#[test]
fn an_order_left_paying_is_named() {
    let mut input = honest();
    input.final_orders[1] = listed("o2", "paying");
    let result = check_payments_settled(&input);
    assert!(!result.passed);
    assert_eq!(result.violations.len(), 1);
    assert!(result.violations[0].contains("order o2"), "{result:?}");
    assert!(result.violations[0].contains("paying 15 s"), "{result:?}");
}

#[test]
fn an_acknowledged_pay_missing_from_the_list_or_expired_is_named() {
    let mut input = honest();
    input.final_orders.remove(0);
    input.final_orders[0] = listed("o2", "expired");
    let result = check_payments_settled(&input);
    assert_eq!(result.violations.len(), 2, "{result:?}");
    assert!(violations(&result).contains("o1 was answered 200 on pay but is not in"));
    assert!(violations(&result).contains("o2 was answered 200 on pay but is expired"));
}

#[test]
fn a_refund_needs_a_late_or_duplicate_payment() {
    let mut input = honest();
    input.final_orders[3] = listed("o4", "refund_pending");
    // Not read at all.
    assert!(!check_payments_settled(&input).passed);
    // Read, but only the settling payment is there: an unjustified refund.
    input.refund_reads = vec![read("o4", "refund_pending", vec![payment(PAID, 990)])];
    let result = check_payments_settled(&input);
    assert!(
        violations(&result).contains("no late or duplicate payment"),
        "{result:?}"
    );
    // The read failed.
    input.refund_reads[0].result = Err("HTTP 503".into());
    assert!(violations(&check_payments_settled(&input)).contains("HTTP 503"));
    // A late payment justifies it.
    input.refund_reads = vec![read(
        "o4",
        "refund_pending",
        vec![payment("late_payment", 990)],
    )];
    let result = check_payments_settled(&input);
    assert!(result.passed, "{}", violations(&result));
}

#[test]
fn a_refunded_duplicate_keeps_exactly_one_paid_payment() {
    let mut input = honest();
    input.paid_reads[0] = read(
        "o1",
        "paid",
        vec![payment(PAID, 990), payment("duplicate_payment", 990)],
    );
    let result = check_paid_amounts(&input);
    assert!(result.passed, "{}", violations(&result));
}

#[test]
fn paid_amount_faults_are_each_named() {
    let mut input = honest();
    input.paid_reads[0] = read("o1", "paid", vec![payment(PAID, 990), payment(PAID, 990)]);
    input.paid_reads[1] = read("o2", "paid", vec![payment(PAID, 989)]);
    input.paid_reads[2] = read("o3", "paid", Vec::new());
    input.paid_reads.push(OrderRead {
        order_id: "o4".into(),
        result: Err("get order: HTTP 404".into()),
    });
    let result = check_paid_amounts(&input);
    let text = violations(&result);
    assert_eq!(result.violations.len(), 4, "{text}");
    assert!(
        text.contains("order o1 (paid) has 2 payments of kind paid"),
        "{text}"
    );
    assert!(
        text.contains("order o2 costs 990 cents but its paid payment"),
        "{text}"
    );
    assert!(text.contains("order o3 (paid) has 0 payments"), "{text}");
    assert!(
        text.contains("order o4: reading it failed: get order: HTTP 404"),
        "{text}"
    );
}

#[test]
fn an_amount_that_differs_from_the_winners_list_is_named() {
    let mut input = honest();
    input.final_orders[0].amount_cents = 1_000;
    let result = check_paid_amounts(&input);
    assert!(
        violations(&result).contains("o1 is 1000 cents in the winners list but 990"),
        "{result:?}"
    );
}

#[test]
fn paid_orders_must_be_read_back() {
    let mut input = honest();
    input.paid_reads.clear();
    let result = check_paid_amounts(&input);
    assert!(violations(&result).contains("3 orders are paid but none was read back"));
}

#[test]
fn violations_are_capped() {
    let stuck = MAX_LISTED_VIOLATIONS + 5;
    let input = PaymentsInput {
        paid_ok: (0..stuck).map(|i| format!("o{i}")).collect(),
        final_orders: (0..stuck)
            .map(|i| listed(&format!("o{i}"), "paying"))
            .collect(),
        ..PaymentsInput::default()
    };
    let result = check_payments_settled(&input);
    assert_eq!(result.violations.len(), MAX_LISTED_VIOLATIONS);
    assert_eq!(result.unlisted, 5);
}

#[test]
fn samples_are_all_or_evenly_spaced() {
    let items: Vec<u32> = (0..10).collect();
    assert_eq!(sample_evenly(&items, 10), items);
    assert_eq!(sample_evenly(&items, 20), items);
    assert_eq!(sample_evenly(&items, 5), [0, 2, 4, 6, 8]);
    let many: Vec<u32> = (0..25_003).collect();
    let sample = sample_evenly(&many, MAX_PAID_ORDER_READS);
    assert_eq!(sample.len(), MAX_PAID_ORDER_READS);
    assert!(
        sample.windows(2).all(|pair| pair[0] < pair[1]),
        "distinct, in order"
    );
    assert_eq!(sample[0], 0);
    assert!(*sample.last().unwrap() > 24_990, "reaches the late winners");
}

#[test]
fn the_audit_runs_the_payment_checks_only_with_pay() {
    use crate::admin::CampaignView;
    use crate::audit::{AuditInput, audit};
    let campaign = |remaining| CampaignView {
        id: "c".into(),
        kind: "seckill".into(),
        status: "active".into(),
        total: 4,
        remaining,
        per_user_limit: Some(1),
        total_cents: None,
        min_cents: None,
    };
    let mut input = AuditInput {
        before: campaign(4),
        after: campaign(4),
        winners: Vec::new(),
        users: Vec::new(),
        per_user_limit: 1,
        red_packet: None,
        payments: None,
        real: None,
    };
    let names = |input: &AuditInput| -> Vec<&'static str> {
        audit(input).checks.iter().map(|check| check.name).collect()
    };
    assert!(!names(&input).contains(&"payments_settled"));
    input.payments = Some(honest());
    let with_pay = names(&input);
    assert!(with_pay.contains(&"payments_settled"), "{with_pay:?}");
    assert!(with_pay.contains(&"paid_amounts"), "{with_pay:?}");
    input.payments.as_mut().unwrap().final_orders[0] = listed("o1", "paying");
    assert_eq!(audit(&input).failed_checks(), vec!["payments_settled"]);
}
